import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle
import TestSupport
import Testing

private func entry(_ id: String, _ subject: String, once: Bool = true) -> OutboxEntry {
    OutboxEntry(
        eventId: id, subject: subject, payload: Data("{\"id\":\"\(id)\"}".utf8),
        headers: ["Content-Type": "application/cloudevents+json"], oncePerSubject: once)
}

private func logger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

@Suite("Outbox, relay and inbox", .serialized, .timeLimit(.minutes(1)))
struct OutboxRelayTests {
    @Test func inboxRecordsEachEventOncePerConsumer() throws {
        let store = try ServiceStore.inMemory()
        try store.writer.write { (db) throws in
            #expect(try Inbox.markProcessed("e1", consumer: "inventory-orders", in: StoreSession(db)))
            #expect(try !Inbox.markProcessed("e1", consumer: "inventory-orders", in: StoreSession(db)))
            #expect(try Inbox.markProcessed("e1", consumer: "inventory-shipping", in: StoreSession(db)))
            #expect(try Inbox.hasProcessed("e1", consumer: "inventory-orders", in: StoreSession(db)))
            #expect(try !Inbox.hasProcessed("e2", consumer: "inventory-orders", in: StoreSession(db)))
        }
    }

    @Test func anOutboxRowRollsBackWithItsTransaction() throws {
        let store = try ServiceStore.inMemory()
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try store.writer.write { (db) throws in
                try Outbox.append(entry("e1", "test.placed.o1"), in: StoreSession(db))
                throw Abort()
            }
        }
        #expect(try store.writer.read { db in try Outbox.backlog(in: StoreSession(db)).count } == 0)
        // The control: the same append in a transaction that commits leaves its row.
        try store.writer.write { (db) throws in try Outbox.append(entry("e1", "test.placed.o1"), in: StoreSession(db)) }
        #expect(
            try store.writer.read { db in try Outbox.pending(limit: 10, in: StoreSession(db)).map(\.eventId) } == ["e1"]
        )
    }

    @Test func relayPublishesInOrderWithTheEventIdAndEmptiesTheOutbox() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(StreamConfiguration(name: "TEST", subjects: ["test.>"]))
                let store = try ServiceStore.inMemory()
                try await store.writer.write { (db) throws in
                    for index in 1...300 {
                        try Outbox.append(entry("e\(index)", "test.placed.o\(index)"), in: StoreSession(db))
                    }
                }
                let relay = OutboxRelay(
                    store: store, connection: nats, signal: OutboxSignal(), streamOf: { _ in "TEST" }, logger: logger())
                while try await relay.publishOnce() > 0 {}
                #expect(try await store.read { db in try Outbox.backlog(in: db).count } == 0)
                let state = try await nats.streamState("TEST")
                #expect(state.messages == 300)
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "check"))
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "check", logger: logger())
                defer { consumer.stop() }
                var ids: [String] = []
                while ids.count < 300 {
                    let batch = await consumer.nextBatch(max: 300)
                    ids += batch.compactMap { $0.header("Nats-Msg-Id") }
                }
                #expect(ids == (1...300).map { "e\($0)" })
            }
        }
    }

    @Test func aCrashAfterPublishingAndBeforeDeletingPublishesNoSecondCopyEvenAfterTheWindow() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                // A one-second window, so that the test can outlive it.
                try await nats.ensureStream(
                    StreamConfiguration(name: "TEST", subjects: ["test.>"], duplicateWindow: .seconds(1)))
                let store = try ServiceStore.inMemory()
                let rows = [entry("e1", "test.reserved.o1"), entry("n1", "test.sent.o1", once: false)]
                try await store.writer.write { db in for row in rows { try Outbox.append(row, in: StoreSession(db)) } }
                let relay = OutboxRelay(
                    store: store, connection: nats, signal: OutboxSignal(), streamOf: { _ in "TEST" }, logger: logger())
                #expect(try await relay.publishOnce() == 2)

                // The crash: the rows are back, as if the delete never committed. Inside the window:
                try await store.writer.write { db in for row in rows { try Outbox.append(row, in: StoreSession(db)) } }
                #expect(try await relay.publishOnce() == 2)
                #expect(try await nats.streamState("TEST").messages == 2)

                // And long after the window, for the event that occurs once per subject:
                try await Task.sleep(for: .milliseconds(1500))
                try await store.writer.write { db in try Outbox.append(rows[0], in: StoreSession(db)) }
                #expect(try await relay.publishOnce() == 1)
                #expect(try await nats.streamState("TEST").messages == 2)
                #expect(try await store.read { db in try Outbox.backlog(in: db).count } == 0)
            }
        }
    }

    @Test func anEventThatOccursSeveralTimesPerSubjectGetsNoSecondCopyAfterTheWindow() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(
                    StreamConfiguration(name: "TEST", subjects: ["test.>"], duplicateWindow: .seconds(1)))
                let store = try ServiceStore.inMemory()
                // Two notifications of one order on one subject, both stored by the broker.
                let first = entry("n1", "test.sent.o1", once: false)
                let second = entry("n2", "test.sent.o1", once: false)
                try await store.writer.write { db in
                    for row in [first, second] { try Outbox.append(row, in: StoreSession(db)) }
                }
                let relay = OutboxRelay(
                    store: store, connection: nats, signal: OutboxSignal(), streamOf: { _ in "TEST" },
                    lookAfter: .seconds(5), logger: logger())
                #expect(try await relay.publishOnce() == 2)

                // A crash had kept both rows, and the service comes back long after the window: the
                // rows are older than `lookAfter`, and the relay finds each among what the subject
                // holds — the first one too, which is not the subject's last message.
                try await Task.sleep(for: .milliseconds(1500))
                let longAgo = Date(timeIntervalSinceNow: -600)
                let old = [first, second, entry("n3", "test.sent.o1", once: false)].map { row in
                    var row = row
                    row.createdAt = longAgo
                    return row
                }
                try await store.writer.write { db in for row in old { try Outbox.append(row, in: StoreSession(db)) } }
                #expect(try await relay.publishOnce() == 3)
                #expect(try await nats.messageIds(stream: "TEST", subject: "test.sent.o1") == ["n1", "n2", "n3"])
                #expect(try await nats.messageIds(stream: "TEST", subject: "test.sent.o2").isEmpty)
                #expect(try await store.read { db in try Outbox.backlog(in: db).count } == 0)
            }
        }
    }

    @Test func aStoreThatCannotDeleteForLongerThanTheWindowGetsNoSecondCopyPublished() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(
                    StreamConfiguration(name: "TEST", subjects: ["test.>"], duplicateWindow: .seconds(1)))
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "troupe-relay-\(UUID().uuidString.prefix(8))")
                defer { try? FileManager.default.removeItem(at: directory) }
                let store = try ServiceStore.open(
                    directory: directory.path, name: "relay", busyTimeout: .milliseconds(100))
                let rows = [entry("e1", "test.reserved.o1"), entry("n1", "test.sent.o1", once: false)]
                try await store.writer.write { db in for row in rows { try Outbox.append(row, in: StoreSession(db)) } }

                // Another process holds the store's write lock: the relay publishes but cannot delete.
                var configuration = Configuration()
                configuration.allowsUnsafeTransactions = true
                let other = try DatabaseQueue(
                    path: directory.appendingPathComponent("relay.sqlite").path, configuration: configuration)
                try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN EXCLUSIVE") }
                let relay = OutboxRelay(
                    store: store, connection: nats, signal: OutboxSignal(), streamOf: { _ in "TEST" }, logger: logger())
                await #expect { try await relay.publishOnce() } throws: { StorageFault($0) != nil }
                #expect(try await nats.streamState("TEST").messages == 2)

                // Past the broker's window, still locked: the relay only retries the delete.
                try await Task.sleep(for: .milliseconds(1500))
                await #expect { try await relay.publishOnce() } throws: { StorageFault($0) != nil }
                #expect(try await nats.streamState("TEST").messages == 2)

                try await other.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
                #expect(try await relay.publishOnce() == 2)
                #expect(try await relay.publishOnce() == 0)
                #expect(try await store.read { db in try Outbox.backlog(in: db).count } == 0)
                #expect(try await nats.streamState("TEST").messages == 2)
            }
        }
    }

    @Test func theRelayKeepsEventsWhileNATSIsAwayAndPublishesThemWhenItComesBack() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(name: "relay")
            try await nats.ensureStream(StreamConfiguration(name: "TEST", subjects: ["test.>"]))
            let store = try ServiceStore.inMemory()
            let signal = OutboxSignal()
            let relay = OutboxRelay(
                store: store, connection: nats, signal: signal, streamOf: { _ in "TEST" }, logger: logger())
            let group = ServiceGroup(services: [relay], gracefulShutdownSignals: [], logger: logger())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                server.kill()
                try await store.writer.write { (db) throws in
                    for index in 1...20 {
                        try Outbox.append(entry("e\(index)", "test.placed.o\(index)"), in: StoreSession(db))
                    }
                }
                signal.notify()
                try await Task.sleep(for: .seconds(1))
                try server.start()
                try await nats.waitUntilConnected(timeout: .seconds(10))
                let drained = try await eventuallyAsync {
                    try await store.read { db in try Outbox.backlog(in: db).count } == 0
                }
                #expect(drained)
                #expect(try await nats.streamState("TEST").messages == 20)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            await nats.close()
        }
    }

    @Test func aRowWhosePublishWasLostIsPublishedAgain() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(name: "relay")
            try await nats.ensureStream(StreamConfiguration(name: "TEST", subjects: ["test.>"]))
            let store = try ServiceStore.inMemory()
            // Rows are published at commit, the way a service's runtime sets it up.
            store.outbox.setPublisher { entry, done in
                nats.publishNow(
                    OutgoingMessage(
                        subject: entry.subject, payload: Array(entry.payload), headers: entry.headerValues,
                        messageId: entry.eventId)
                ) { result in done((try? result.get()) != nil) }
            }
            let relay = OutboxRelay(
                store: store, connection: nats, signal: store.outbox.signal, streamOf: { _ in "TEST" }, logger: logger()
            )
            let group = ServiceGroup(services: [relay], gracefulShutdownSignals: [], logger: logger())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await store.writer.write { db in
                    try Outbox.append(entry("e1", "test.placed.o1"), in: StoreSession(db))
                }
                #expect(try await eventuallyAsync { try await nats.streamState("TEST").messages == 1 })
                // A row nobody published (as if its publish at commit had been lost), written a
                // minute ago: the relay notices it and publishes it.
                try await store.writer.writeWithoutTransaction { db in
                    try db.execute(
                        sql: """
                            INSERT INTO outbox (eventId, subject, payload, headers, oncePerSubject, createdAt)
                            VALUES ('e2', 'test.placed.o2', '{}', '{}', 1, ?)
                            """, arguments: [Date().timeIntervalSince1970 - 60])
                }
                #expect(try await eventuallyAsync { try await nats.streamState("TEST").messages == 2 })
                #expect(
                    try await eventuallyAsync {
                        try await store.read { db in try Outbox.backlog(in: db).count } == 0
                    })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            await nats.close()
        }
    }
}

func eventuallyAsync(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()

}

extension OutboxRelayTests {
    /// Issue 10 (low): a row refused with 10071 leaves the outbox as "already published" only when
    /// the event on its subject is its own; when another event holds the subject, the row's event
    /// is dead-lettered with the reason instead of dropped.
    @Test func aRowRefusedBecauseAnotherEventHoldsItsSubjectIsDeadLetteredNotDropped() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(StreamConfiguration(name: "TEST", subjects: ["test.>"]))
                try await nats.ensureStream(StreamConfiguration(name: "DEADLETTER", subjects: ["deadletter.>"]))
                // On test.reserved.o1: its own event, published before a crash. On test.reserved.o2:
                // another event (a bug, or a forgery) with the same once-per-order type.
                _ = await nats.publish([
                    OutgoingMessage(subject: "test.reserved.o1", payload: Array("{}".utf8), messageId: "mine"),
                    OutgoingMessage(subject: "test.reserved.o2", payload: Array("{}".utf8), messageId: "theirs"),
                ])
                let store = try ServiceStore.inMemory()
                try await store.writer.write { db in
                    try Outbox.append(entry("mine", "test.reserved.o1"), in: StoreSession(db))
                    try Outbox.append(entry("lost", "test.reserved.o2"), in: StoreSession(db))
                }
                let relay = OutboxRelay(
                    store: store, connection: nats, signal: OutboxSignal(), streamOf: { _ in "TEST" }, logger: logger())
                #expect(try await relay.publishOnce() == 2)
                #expect(try await store.read { db in try Outbox.backlog(in: db).count } == 0)
                #expect(try await nats.streamState("TEST").messages == 2, "nothing published twice")
                let letters = try await nats.storedMessages(stream: "DEADLETTER")
                #expect(letters.map(\.subject) == ["deadletter.unknown.test.reserved.o2"])
                let letter = try #require(letters.first)
                #expect(letter.payload == Array("{\"id\":\"lost\"}".utf8))
                #expect(letter.headers["Troupe-Original-Msg-Id"] == "lost")
                #expect(letter.headers["Troupe-Dead-Letter-Reason"]?.contains("another event already holds") == true)
                #expect(letter.headers[NATSHeader.expectedLastSubjectSequence] == nil)
            }
        }
    }
}
