/*
 * Ceilings measured with plain nats.c, so that the Swift side can be compared with what the broker
 * and the C client do alone.
 *
 *   publish: N messages of B bytes, each with a Nats-Msg-Id and an acknowledgement deadline
 *            (jsPubOptions.MaxWait, as the layer sets, so that a lost acknowledgement is reported
 *            and never waited for forever), published asynchronously (js_PublishMsgAsync,
 *            acknowledgements counted in the ack handler), timed from the first publish to the
 *            last acknowledgement.
 *   consume: N messages already in the stream, pulled by a durable consumer with explicit ack
 *            (natsSubscription_Fetch in batches, natsMsg_Ack each), timed until all are acked and
 *            flushed. Each fetch asks for at most what is left, with a long timeout, so that no
 *            messages are ever left over between fetches (nats.c issue 749).
 *   saga:    the broker's ceiling for a saga of the suite's shape, without any service logic or
 *            database: five streams <PREFIX>_ORDERS … <PREFIX>_NOTIFICATIONS (subjects
 *            <prefix>.<domain>.>), the suite's eleven durable consumers (<service>-<stream>, or
 *            <service>-<stream>-<event> filtered to one kind as the suite's are; explicit
 *            ack, push: js_Subscribe with manual ack, never Fetch), and for each delivery that the
 *            suite reacts to, the next events published asynchronously with a Nats-Msg-Id and the
 *            delivery acknowledged only once the broker has stored them (as the suite's outbox and
 *            inbox do). Per saga: 11 publishes and 19 deliveries, placed → reserved → authorized →
 *            scheduled + dispatched → confirmed, committed, shipped, captured → two notifications.
 *            A saga is complete when all 11 events are stored and all 19 deliveries acknowledged.
 *            Closed loop (--in-flight sagas at a time, the default) or open loop (--rate sagas/s,
 *            latency from the scheduled start). The streams are deleted at the end.
 *
 * Connection: --url (comma-separated), --user, --password (or env CEILING_NATS_PASSWORD, which keeps
 * it out of the process list), --tls-ca FILE (TLS, trusting that CA).
 *
 * Prints one JSON line: publish/consume {"mode":"publish","count":N,"seconds":S,"rate":R};
 * saga {"mode":"saga","sagasPerSecond":R,"latencyMs":{"p50":…,"p99":…},…}.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int64_t acked = 0, failed = 0;

static void check(natsStatus s, const char *what) {
    if (s != NATS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, natsStatus_GetText(s), nats_GetLastError(NULL));
        exit(1);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void) js; (void) closure;
    if (pa != NULL) __sync_fetch_and_add(&acked, 1); else if (pae != NULL) __sync_fetch_and_add(&failed, 1);
    natsMsg_Destroy(msg);
}

/* ---------------------------------------------------------------------------------------------
 * The saga mode.
 * ------------------------------------------------------------------------------------------- */

enum { ORDER, INVENTORY, PAYMENT, SHIPPING, NOTIFICATION, SERVICES };
enum { S_ORDERS, S_INVENTORY, S_PAYMENTS, S_SHIPPING, S_NOTIFICATIONS, STREAMS };
static const char *service_names[SERVICES] = {"order", "inventory", "payment", "shipping", "notification"};
static const char *stream_suffix[STREAMS] = {"ORDERS", "INVENTORY", "PAYMENTS", "SHIPPING", "NOTIFICATIONS"};
static const char *stream_domain[STREAMS] = {"orders", "inventory", "payments", "shipping", "notifications"};

/* The eleven events of a shipped order, in the order the suite produces them. */
enum {
    PLACED, RESERVED, AUTHORIZED, SCHEDULED, CONFIRMED, NOTIFIED_CONFIRMED, DISPATCHED, COMMITTED, SHIPPED,
    NOTIFIED_SHIPPED, CAPTURED, EVENTS
};
static const struct { const char *type; int stream; } events[EVENTS] = {
    {"placed", S_ORDERS},          {"reserved", S_INVENTORY},     {"authorized", S_PAYMENTS},
    {"scheduled", S_SHIPPING},     {"confirmed", S_ORDERS},       {"sent-confirmed", S_NOTIFICATIONS},
    {"dispatched", S_SHIPPING},    {"committed", S_INVENTORY},    {"shipped", S_ORDERS},
    {"sent-shipped", S_NOTIFICATIONS}, {"captured", S_PAYMENTS},
};

/* The suite's durable consumers (deploy/local/troupe.sh, CONSUMES and ONLY): each gets every event
 * of its stream, or, filtered, only the one kind its service reacts to (`only`: payment's on ORDERS
 * is filtered to cancellations, which a shipped order has none of). */
#define CONSUMERS 11
#define DELIVERIES 19
static const struct { int service, stream; const char *only; } consumers[CONSUMERS] = {
    {INVENTORY, S_ORDERS, NULL},         {PAYMENT, S_ORDERS, "cancelled"},      {SHIPPING, S_ORDERS, NULL},
    {NOTIFICATION, S_ORDERS, NULL},      {ORDER, S_INVENTORY, NULL},            {PAYMENT, S_INVENTORY, "reserved"},
    {ORDER, S_PAYMENTS, NULL},           {SHIPPING, S_PAYMENTS, "authorized"},  {ORDER, S_SHIPPING, NULL},
    {INVENTORY, S_SHIPPING, "dispatched"}, {PAYMENT, S_SHIPPING, "dispatched"},
};

/* What a service publishes when it handles an event; every other delivery is only acknowledged. */
#define REACTIONS 9
static const struct { int service, on, publishes[2], count; } reactions[REACTIONS] = {
    {INVENTORY, PLACED, {RESERVED}, 1},
    {PAYMENT, RESERVED, {AUTHORIZED}, 1},
    {SHIPPING, AUTHORIZED, {SCHEDULED, DISPATCHED}, 2}, /* no dispatch delay: the ceiling */
    {ORDER, SCHEDULED, {CONFIRMED}, 1},
    {NOTIFICATION, CONFIRMED, {NOTIFIED_CONFIRMED}, 1},
    {INVENTORY, DISPATCHED, {COMMITTED}, 1},
    {ORDER, DISPATCHED, {SHIPPED}, 1},
    {PAYMENT, DISPATCHED, {CAPTURED}, 1},
    {NOTIFICATION, SHIPPED, {NOTIFIED_SHIPPED}, 1},
};

static struct {
    jsCtx *js;
    const char *prefix;
    char subject_prefix[EVENTS][160]; /* "<prefix>.<domain>.<type>." */
    size_t subject_prefix_len[EVENTS];
    int reaction_of[SERVICES][EVENTS]; /* -1: acknowledged only */
    int cause_of[EVENTS];              /* the reaction that publishes it; -1 for placed */
    int consumer_of[REACTIONS];        /* the consumer whose delivery a reaction handles */
    int delivery_bit[CONSUMERS][EVENTS];
    uint64_t full;
    char *body;
    int payload;
    int64_t total;
    _Atomic uint64_t *mask;       /* per saga: bits 0–10 events stored, 11–29 deliveries acknowledged */
    _Atomic(natsMsg *) *incoming; /* per saga and reaction: the delivery waiting for its publishes */
    _Atomic int *outstanding;     /* … how many of those publishes are not yet acknowledged */
    _Atomic int *publish_failed;
    double *started, *confirmed, *done;
    _Atomic int64_t completed, publish_failures, duplicates, unknown;
    pthread_mutex_t lock;
    pthread_cond_t progress;
} saga;

static void saga_complete(int64_t id) {
    saga.done[id] = now();
    pthread_mutex_lock(&saga.lock);
    atomic_fetch_add(&saga.completed, 1);
    pthread_cond_signal(&saga.progress);
    pthread_mutex_unlock(&saga.lock);
}

static void saga_mark(int64_t id, int bit) {
    uint64_t b = 1ULL << bit;
    uint64_t old = atomic_fetch_or(&saga.mask[id], b);
    if (old != saga.full && (old | b) == saga.full) saga_complete(id);
}

/* "<prefix>.<domain>.<type>.<saga>" → event and saga; 0 when it is not one of ours. */
static int saga_parse(const char *subject, int *event, int64_t *id) {
    for (int e = 0; e < EVENTS; e++) {
        if (strncmp(subject, saga.subject_prefix[e], saga.subject_prefix_len[e]) == 0) {
            char *end = NULL;
            long long value = strtoll(subject + saga.subject_prefix_len[e], &end, 10);
            if (end == NULL || *end != '\0' || value < 0 || value >= saga.total) return 0;
            *event = e;
            *id = value;
            return 1;
        }
    }
    return 0;
}

/* Publishes one event of a saga; the outcome arrives in saga_on_ack. */
static natsStatus saga_publish(int event, int64_t id) {
    char subject[200], msg_id[200];
    snprintf(subject, sizeof subject, "%s%lld", saga.subject_prefix[event], (long long) id);
    snprintf(msg_id, sizeof msg_id, "%s-%s-%lld", saga.prefix, events[event].type, (long long) id);
    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subject, NULL, saga.body, saga.payload);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id);
    jsPubOptions each;
    jsPubOptions_Init(&each);
    each.MaxWait = 30000;
    if (s == NATS_OK) s = js_PublishMsgAsync(saga.js, &msg, &each);
    if (msg != NULL) natsMsg_Destroy(msg); /* left to us only when the publish was refused */
    return s;
}

/* One of a reaction's publishes settled: once all have, the delivery that caused them is acknowledged
 * (or, if one failed, given back to the broker to be delivered again). */
static void saga_settle(int64_t id, int reaction, int ok) {
    size_t slot = (size_t) id * REACTIONS + reaction;
    if (!ok) atomic_store(&saga.publish_failed[slot], 1);
    if (atomic_fetch_sub(&saga.outstanding[slot], 1) != 1) return;
    int failed_any = atomic_exchange(&saga.publish_failed[slot], 0);
    natsMsg *in = atomic_exchange(&saga.incoming[slot], NULL);
    if (in == NULL) return;
    if (failed_any) {
        natsMsg_Nak(in, NULL);
    } else if (natsMsg_Ack(in, NULL) == NATS_OK) {
        saga_mark(id, saga.delivery_bit[saga.consumer_of[reaction]][reactions[reaction].on]);
    }
    natsMsg_Destroy(in);
}

static void saga_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void) js; (void) closure;
    int event;
    int64_t id;
    if (saga_parse(natsMsg_GetSubject(msg), &event, &id)) {
        int ok = pa != NULL && pae == NULL;
        if (ok) {
            if (event == CONFIRMED && saga.confirmed[id] == 0) saga.confirmed[id] = now();
            saga_mark(id, event);
        } else {
            atomic_fetch_add(&saga.publish_failures, 1);
        }
        if (saga.cause_of[event] >= 0) saga_settle(id, saga.cause_of[event], ok);
    }
    natsMsg_Destroy(msg);
}

static void saga_on_delivery(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void) nc; (void) sub;
    int c = (int) (intptr_t) closure, event;
    int64_t id;
    if (!saga_parse(natsMsg_GetSubject(msg), &event, &id)) {
        atomic_fetch_add(&saga.unknown, 1);
        natsMsg_Ack(msg, NULL);
        natsMsg_Destroy(msg);
        return;
    }
    int reaction = saga.reaction_of[consumers[c].service][event];
    if (reaction < 0) {
        if (natsMsg_Ack(msg, NULL) == NATS_OK) saga_mark(id, saga.delivery_bit[c][event]);
        natsMsg_Destroy(msg);
        return;
    }
    size_t slot = (size_t) id * REACTIONS + reaction;
    natsMsg *none = NULL;
    if (!atomic_compare_exchange_strong(&saga.incoming[slot], &none, msg)) {
        /* Delivered again while its publishes are still out: the first delivery acknowledges it. */
        atomic_fetch_add(&saga.duplicates, 1);
        natsMsg_Destroy(msg);
        return;
    }
    atomic_store(&saga.outstanding[slot], reactions[reaction].count);
    for (int p = 0; p < reactions[reaction].count; p++) {
        if (saga_publish(reactions[reaction].publishes[p], id) != NATS_OK) {
            atomic_fetch_add(&saga.publish_failures, 1);
            saga_settle(id, reaction, 0);
        }
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int64_t n, double p) {
    if (n == 0) return 0;
    int64_t index = (int64_t) (p / 100 * n + 0.999999) - 1;
    if (index < 0) index = 0;
    if (index >= n) index = n - 1;
    return sorted[index];
}

/* Appends "name":{count, p50, p90, p99, max} (milliseconds) to out. */
static void append_latency(char *out, size_t size, const char *name, double *values, int64_t n) {
    qsort(values, n, sizeof *values, compare_doubles);
    size_t used = strlen(out);
    snprintf(out + used, size - used, "\"%s\":{\"count\":%lld,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f}",
             name, (long long) n, percentile(values, n, 50), percentile(values, n, 90), percentile(values, n, 99),
             n ? values[n - 1] : 0.0);
}

static int delete_streams(jsCtx *js, const char *prefix) {
    int deleted = 0;
    for (int s = 0; s < STREAMS; s++) {
        char name[160];
        jsErrCode jerr = 0;
        snprintf(name, sizeof name, "%s_%s", prefix, stream_suffix[s]);
        if (js_DeleteStream(js, name, NULL, &jerr) == NATS_OK) deleted++;
    }
    return deleted;
}

static int run_saga(natsConnection *nc, jsCtx *js, const char *prefix, int64_t count, int64_t warmup, int in_flight,
                    double rate, int payload, const char *storage, double timeout) {
    saga.js = js;
    saga.prefix = prefix;
    saga.total = warmup + count;
    saga.payload = payload;
    saga.body = malloc(payload > 0 ? payload : 1);
    memset(saga.body, 'x', payload);
    saga.mask = calloc(saga.total, sizeof *saga.mask);
    saga.incoming = calloc(saga.total * REACTIONS, sizeof *saga.incoming);
    saga.outstanding = calloc(saga.total * REACTIONS, sizeof *saga.outstanding);
    saga.publish_failed = calloc(saga.total * REACTIONS, sizeof *saga.publish_failed);
    saga.started = calloc(saga.total, sizeof(double));
    saga.confirmed = calloc(saga.total, sizeof(double));
    saga.done = calloc(saga.total, sizeof(double));
    pthread_mutex_init(&saga.lock, NULL);
    pthread_cond_init(&saga.progress, NULL);
    for (int e = 0; e < EVENTS; e++) {
        snprintf(saga.subject_prefix[e], sizeof saga.subject_prefix[e], "%s.%s.%s.", prefix,
                 stream_domain[events[e].stream], events[e].type);
        saga.subject_prefix_len[e] = strlen(saga.subject_prefix[e]);
        saga.cause_of[e] = -1;
        saga.full |= 1ULL << e;
    }
    for (int v = 0; v < SERVICES; v++) for (int e = 0; e < EVENTS; e++) saga.reaction_of[v][e] = -1;
    for (int r = 0; r < REACTIONS; r++) {
        saga.reaction_of[reactions[r].service][reactions[r].on] = r;
        for (int c = 0; c < CONSUMERS; c++) {
            if (consumers[c].service == reactions[r].service && consumers[c].stream == events[reactions[r].on].stream)
                saga.consumer_of[r] = c;
        }
        for (int p = 0; p < reactions[r].count; p++) saga.cause_of[reactions[r].publishes[p]] = r;
    }
    int bit = EVENTS;
    for (int c = 0; c < CONSUMERS; c++) {
        for (int e = 0; e < EVENTS; e++) {
            saga.delivery_bit[c][e] = -1;
            if (events[e].stream == consumers[c].stream
                && (consumers[c].only == NULL || strcmp(consumers[c].only, events[e].type) == 0)) {
                saga.delivery_bit[c][e] = bit;
                saga.full |= 1ULL << bit++;
            }
        }
    }
    if (bit != EVENTS + DELIVERIES) {
        fprintf(stderr, "saga shape: %d deliveries, not %d\n", bit - EVENTS, DELIVERIES);
        return 1;
    }

    /* Streams and consumers; anything left from a killed run with the same prefix goes first. */
    delete_streams(js, prefix);
    natsSubscription *subs[CONSUMERS] = {0};
    int status = 0;
    char result[2048] = "";
    for (int s = 0; s < STREAMS; s++) {
        char name[160], subject[160];
        snprintf(name, sizeof name, "%s_%s", prefix, stream_suffix[s]);
        snprintf(subject, sizeof subject, "%s.%s.>", prefix, stream_domain[s]);
        const char *subjects[1] = {subject};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = name;
        config.Subjects = subjects;
        config.SubjectsLen = 1;
        config.Storage = strcmp(storage, "memory") == 0 ? js_MemoryStorage : js_FileStorage;
        config.Duplicates = (int64_t) 120 * 1000000000; /* as the suite's streams: 2 min */
        jsErrCode jerr = 0;
        jsStreamInfo *info = NULL;
        if (js_AddStream(&info, js, &config, NULL, &jerr) != NATS_OK) {
            fprintf(stderr, "creating stream %s: %s (%d)\n", name, nats_GetLastError(NULL), jerr);
            status = 1;
            goto cleanup;
        }
        jsStreamInfo_Destroy(info);
    }
    for (int c = 0; c < CONSUMERS; c++) {
        char stream[160], durable[160], subject[160];
        int s = consumers[c].stream;
        snprintf(stream, sizeof stream, "%s_%s", prefix, stream_suffix[s]);
        if (consumers[c].only != NULL) {
            snprintf(durable, sizeof durable, "%s-%s-%s", service_names[consumers[c].service], stream_domain[s],
                     consumers[c].only);
            snprintf(subject, sizeof subject, "%s.%s.%s.*", prefix, stream_domain[s], consumers[c].only);
        } else {
            snprintf(durable, sizeof durable, "%s-%s", service_names[consumers[c].service], stream_domain[s]);
            snprintf(subject, sizeof subject, "%s.%s.>", prefix, stream_domain[s]);
        }
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = stream;
        so.ManualAck = true;
        so.Config.Durable = durable;
        so.Config.AckPolicy = js_AckExplicit;
        so.Config.DeliverPolicy = js_DeliverAll;
        so.Config.AckWait = (int64_t) 60 * 1000000000;
        so.Config.MaxAckPending = 20000; /* as the suite's consumers */
        jsErrCode jerr = 0;
        if (js_Subscribe(&subs[c], js, subject, saga_on_delivery, (void *) (intptr_t) c, NULL, &so, &jerr)
            != NATS_OK) {
            fprintf(stderr, "consumer %s on %s: %s (%d)\n", durable, stream, nats_GetLastError(NULL), jerr);
            status = 1;
            goto cleanup;
        }
    }

    double begin = now() + 0.01;
    for (int64_t i = 0; i < saga.total; i++) {
        if (rate > 0) {
            double at = begin + i / rate, wait = at - now();
            if (wait > 0) nats_Sleep((int64_t) (wait * 1000));
            saga.started[i] = at; /* the scheduled time: a late start counts against the broker */
        } else {
            pthread_mutex_lock(&saga.lock);
            while (i - atomic_load(&saga.completed) >= in_flight && now() < begin + timeout) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 50 * 1000000;
                if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
                pthread_cond_timedwait(&saga.progress, &saga.lock, &until);
            }
            pthread_mutex_unlock(&saga.lock);
            saga.started[i] = now();
        }
        if (now() >= begin + timeout) break;
        if (saga_publish(PLACED, i) != NATS_OK) atomic_fetch_add(&saga.publish_failures, 1);
    }
    while (atomic_load(&saga.completed) < saga.total && now() < begin + timeout) nats_Sleep(5);
    double finished = now();

    int64_t completed = atomic_load(&saga.completed), measured = 0;
    double first = 0, last = 0;
    double *latency = malloc(sizeof(double) * (count > 0 ? count : 1));
    double *confirm = malloc(sizeof(double) * (count > 0 ? count : 1));
    int64_t confirmations = 0;
    for (int64_t i = warmup; i < saga.total; i++) {
        if (saga.done[i] == 0) continue;
        if (measured == 0 || saga.started[i] < first) first = saga.started[i];
        if (saga.done[i] > last) last = saga.done[i];
        latency[measured++] = 1000 * (saga.done[i] - saga.started[i]);
        if (saga.confirmed[i] > 0) confirm[confirmations++] = 1000 * (saga.confirmed[i] - saga.started[i]);
    }
    double seconds = measured > 0 ? last - first : finished - begin;
    snprintf(result, sizeof result,
             "{\"mode\":\"saga\",\"loop\":\"%s\",\"inFlight\":%d,\"offeredRate\":%.1f,\"sagas\":%lld,"
             "\"warmup\":%lld,\"completed\":%lld,\"storage\":\"%s\",\"payloadBytes\":%d,\"publishesPerSaga\":%d,"
             "\"deliveriesPerSaga\":%d,\"seconds\":%.4f,\"sagasPerSecond\":%.1f,\"publishFailures\":%lld,"
             "\"redeliveredWhileBusy\":%lld,",
             rate > 0 ? "open" : "closed", rate > 0 ? 0 : in_flight, rate, (long long) count, (long long) warmup,
             (long long) completed, storage, payload, EVENTS, DELIVERIES, seconds, seconds > 0 ? measured / seconds : 0.0,
             (long long) atomic_load(&saga.publish_failures), (long long) atomic_load(&saga.duplicates));
    append_latency(result, sizeof result, "latencyMs", latency, measured);
    strncat(result, ",", sizeof result - strlen(result) - 1);
    append_latency(result, sizeof result, "confirmLatencyMs", confirm, confirmations);
    free(latency);
    free(confirm);
    if (completed < saga.total) {
        fprintf(stderr, "saga: %lld of %lld sagas completed within %.0f s\n", (long long) completed,
                (long long) saga.total, timeout);
        status = 1;
    }

cleanup:
    for (int c = 0; c < CONSUMERS; c++) {
        if (subs[c] == NULL) continue;
        natsSubscription_Unsubscribe(subs[c]);
        natsSubscription_Destroy(subs[c]);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    js_PublishAsyncComplete(js, &po);
    natsConnection_Flush(nc);
    int deleted = delete_streams(js, prefix);
    if (result[0] != '\0') {
        size_t used = strlen(result);
        snprintf(result + used, sizeof result - used, ",\"streamsDeleted\":%d}", deleted);
        printf("%s\n", result);
    } else {
        fprintf(stderr, "saga: deleted %d streams\n", deleted);
    }
    fflush(stdout);
    /* Deliveries still held (a failed run) are freed by the library's own shutdown. */
    return status;
}

int main(int argc, char **argv) {
    const char *url = "nats://127.0.0.1:4222", *mode = "publish", *stream = "CEILING", *subject = "ceiling.c";
    const char *user = NULL, *password = getenv("CEILING_NATS_PASSWORD"), *tls_ca = NULL;
    const char *prefix = NULL, *storage = "file";
    int64_t count = 100000, warmup = -1;
    int payload = 256, in_flight = 200;
    double rate = 0, timeout = 120;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) { fprintf(stderr, "%s needs a value\n", argv[i]); return 2; }
        if (!strcmp(argv[i], "--url")) url = argv[i + 1];
        else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
        else if (!strcmp(argv[i], "--count")) count = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--payload")) payload = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stream")) stream = argv[i + 1];
        else if (!strcmp(argv[i], "--subject")) subject = argv[i + 1];
        else if (!strcmp(argv[i], "--user")) user = argv[i + 1];
        else if (!strcmp(argv[i], "--password")) password = argv[i + 1];
        else if (!strcmp(argv[i], "--tls-ca")) tls_ca = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix")) prefix = argv[i + 1];
        else if (!strcmp(argv[i], "--warmup")) warmup = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--in-flight")) in_flight = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--storage")) storage = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout")) timeout = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (count <= 0 || payload < 0 || in_flight <= 0 || rate < 0 || timeout <= 0) {
        fprintf(stderr, "--count, --in-flight, --timeout > 0; --payload, --rate >= 0\n");
        return 2;
    }
    if (strcmp(storage, "file") && strcmp(storage, "memory")) { fprintf(stderr, "--storage file|memory\n"); return 2; }
    char default_prefix[64];
    if (prefix == NULL) {
        snprintf(default_prefix, sizeof default_prefix, "ceiling_%ld", (long) getpid());
        prefix = default_prefix;
    }
    for (const char *p = prefix; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
            || strlen(prefix) > 64) {
            fprintf(stderr, "--prefix: letters, digits and _ only, at most 64\n");
            return 2;
        }
    }

    natsOptions *options = NULL;
    check(natsOptions_Create(&options), "options");
    char *urls = strdup(url), *servers[16];
    int server_count = 0;
    for (char *token = strtok(urls, ","); token != NULL && server_count < 16; token = strtok(NULL, ","))
        servers[server_count++] = token;
    check(natsOptions_SetServers(options, (const char **) servers, server_count), "--url");
    if (user != NULL) check(natsOptions_SetUserInfo(options, user, password ? password : ""), "--user");
    if (tls_ca != NULL) {
        check(natsOptions_SetSecure(options, true), "TLS");
        check(natsOptions_LoadCATrustedCertificates(options, tls_ca), "--tls-ca");
    }
    check(natsOptions_SetName(options, "nats-ceiling-c"), "name");
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsErrCode jerr = 0;
    check(natsConnection_Connect(&nc, options), "connect");
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    jo.PublishAsync.AckHandler = on_ack;
    if (!strcmp(mode, "saga")) {
        jo.PublishAsync.MaxPending = 65536;
        jo.PublishAsync.StallWait = 10000;
        jo.PublishAsync.AckHandler = saga_on_ack;
    }
    check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
    double start = 0, end = 0;

    if (!strcmp(mode, "saga")) {
        int status = run_saga(nc, js, prefix, count, warmup >= 0 ? warmup : count / 10, in_flight, rate, payload,
                              storage, timeout);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        natsOptions_Destroy(options);
        free(urls);
        return status;
    } else if (!strcmp(mode, "publish")) {
        char *body = malloc(payload);
        memset(body, 'x', payload);
        char id[64];
        jsPubOptions each;
        jsPubOptions_Init(&each);
        each.MaxWait = 60000;
        start = now();
        for (int64_t i = 0; i < count; i++) {
            natsMsg *msg = NULL;
            check(natsMsg_Create(&msg, subject, NULL, body, payload), "msg");
            snprintf(id, sizeof id, "c-%s-%lld", stream, (long long) i);
            check(natsMsgHeader_Set(msg, "Nats-Msg-Id", id), "header");
            check(js_PublishMsgAsync(js, &msg, &each), "publish");
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        check(js_PublishAsyncComplete(js, &po), "complete");
        while (acked + failed < count) nats_Sleep(1);
        end = now();
        free(body);
        if (failed) { fprintf(stderr, "%lld publishes failed\n", (long long) failed); return 1; }
    } else if (!strcmp(mode, "consume")) {
        natsSubscription *sub = NULL;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Config.AckPolicy = js_AckExplicit;
        so.Stream = stream;
        check(js_PullSubscribe(&sub, js, subject, "ceiling-c", NULL, &so, &jerr), "pull subscribe");
        int64_t received = 0;
        start = now();
        while (received < count) {
            natsMsgList list = {0};
            int want = (count - received) < 256 ? (int) (count - received) : 256;
            check(natsSubscription_Fetch(&list, sub, want, 30000, &jerr), "fetch");
            for (int i = 0; i < list.Count; i++) check(natsMsg_Ack(list.Msgs[i], NULL), "ack");
            received += list.Count;
            natsMsgList_Destroy(&list);
        }
        check(natsConnection_Flush(nc), "flush");
        end = now();
        natsSubscription_Destroy(sub);
    } else {
        fprintf(stderr, "--mode publish|consume|saga\n");
        return 2;
    }
    double seconds = end - start;
    printf("{\"mode\":\"%s\",\"count\":%lld,\"seconds\":%.4f,\"rate\":%.0f}\n", mode, (long long) count, seconds,
           count / seconds);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(options);
    free(urls);
    return 0;
}
