#ifndef TROUPE_CLIBPQ_SHIM_H
#define TROUPE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
