#ifndef TROUPE_CNATS_SHIM_H
#define TROUPE_CNATS_SHIM_H
#include <nats/nats.h>
#endif
