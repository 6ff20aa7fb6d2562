/*
 * Negative control for FetchSafetyTests: nats.c 3.4.1's natsSubscription_Fetch in the situation of
 * upstream issue 749. Six messages are left over in the subscription when a fetch of ten starts, so
 * it asks the server for only four but keeps counting from six towards four, writing past the end of
 * its ten-slot array while more messages arrive. Under valgrind this must report an invalid write;
 * the test uses it to prove that the detector sees the bug that the layer's own path avoids.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static natsConnection *nc;
static const char *inbox;

static void fail(const char *what, natsStatus s) {
    fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
    exit(3);
}

static void *late_strays(void *unused) {
    (void) unused;
    usleep(300 * 1000);
    for (int i = 0; i < 6; i++) natsConnection_PublishString(nc, inbox, "late stray");
    natsConnection_Flush(nc);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s nats://127.0.0.1:PORT\n", argv[0]); return 2; }
    natsStatus s;
    jsCtx *js = NULL;
    jsErrCode jerr = 0;
    natsSubscription *sub = NULL;
    natsMsgList list = {0};
    jsStreamConfig cfg;

    if ((s = natsConnection_ConnectTo(&nc, argv[1])) != NATS_OK) fail("connect", s);
    if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) fail("jetstream", s);
    jsStreamConfig_Init(&cfg);
    const char *subjects[] = {"control.>"};
    cfg.Name = "CONTROL";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_MemoryStorage;
    if ((s = js_AddStream(NULL, js, &cfg, NULL, &jerr)) != NATS_OK) fail("add stream", s);
    for (int i = 0; i < 20; i++)
        if ((s = js_Publish(NULL, js, "control.m", "m", 1, NULL, &jerr)) != NATS_OK) fail("publish", s);
    if ((s = js_PullSubscribe(&sub, js, "control.m", "control", NULL, NULL, &jerr)) != NATS_OK) fail("pull subscribe", s);

    /* Six messages already waiting in the subscription when the fetch starts. */
    inbox = natsSubscription_GetSubject(sub);
    for (int i = 0; i < 6; i++) natsConnection_PublishString(nc, inbox, "left over");
    natsConnection_Flush(nc);
    usleep(200 * 1000);

    pthread_t thread;
    pthread_create(&thread, NULL, late_strays, NULL);
    s = natsSubscription_Fetch(&list, sub, 10, 1500, &jerr);
    pthread_join(thread, NULL);
    printf("fetch returned %s with %d messages\n", natsStatus_GetText(s), list.Count);
    natsMsgList_Destroy(&list);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}
