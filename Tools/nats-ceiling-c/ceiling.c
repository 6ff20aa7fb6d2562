/*
 * The ceiling for the JetStream layer's benchmark: the same work done with plain nats.c.
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
 *
 * Prints one JSON line: {"mode":"publish","count":N,"seconds":S,"rate":R}.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv) {
    const char *url = "nats://127.0.0.1:4222", *mode = "publish", *stream = "CEILING", *subject = "ceiling.c";
    int64_t count = 100000;
    int payload = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url")) url = argv[i + 1];
        else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
        else if (!strcmp(argv[i], "--count")) count = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--payload")) payload = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stream")) stream = argv[i + 1];
        else if (!strcmp(argv[i], "--subject")) subject = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsErrCode jerr = 0;
    check(natsConnection_ConnectTo(&nc, url), "connect");
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    jo.PublishAsync.AckHandler = on_ack;
    check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
    double start = 0, end = 0;

    if (!strcmp(mode, "publish")) {
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
    } else {
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
    }
    double seconds = end - start;
    printf("{\"mode\":\"%s\",\"count\":%lld,\"seconds\":%.4f,\"rate\":%.0f}\n", mode, (long long) count, seconds,
           count / seconds);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}
