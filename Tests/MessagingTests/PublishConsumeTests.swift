import Foundation
import Messaging
import TestSupport
import Testing

@Suite("Publishing and consuming against a real nats-server", .serialized, .timeLimit(.minutes(1)))
struct PublishConsumeTests {
    @Test func roundTripKeepsPayloadHeadersAndOrder() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "reader"))
                let headers = [
                    "Content-Type": "application/cloudevents+json",
                    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ]
                let results = await nats.publish(
                    (1...50).map { message("test.placed.o\($0)", "body \($0)", id: "id-\($0)", headers: headers) })
                let acks = try results.map { try $0.get() }
                #expect(acks.map(\.sequence) == Array(1...50))
                #expect(acks.allSatisfy { $0.stream == "TEST" && !$0.duplicate })

                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", options: PullOptions(batch: 16),
                    logger: quietLogger())
                defer { consumer.stop() }
                let received = await receive(50, from: consumer)
                #expect(received.map(\.text) == (1...50).map { "body \($0)" })
                #expect(received.map(\.subject) == (1...50).map { "test.placed.o\($0)" })
                let first = try #require(received.first)
                #expect(first.header("Nats-Msg-Id") == "id-1")
                #expect(first.header("Content-Type") == "application/cloudevents+json")
                #expect(first.header("traceparent") == headers["traceparent"])
                #expect(first.metadata.stream == "TEST")
                #expect(first.metadata.consumer == "reader")
                #expect(first.metadata.deliveryCount == 1)
                for message in received { try message.ack() }
                try await nats.flush()
                // The server applies acknowledgements asynchronously, a moment after the flush.
                #expect(
                    try await eventually {
                        let state = try await nats.consumerState(stream: "TEST", durable: "reader")
                        return state.ackPending == 0 && state.pending == 0
                    })
            }
        }
    }

    @Test func publishingWhereNoStreamListensFailsClearly() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                // At once, and saying why: the server answers "no responders", not a timeout.
                let started = ContinuousClock.now
                let error = try await #require(throws: NATSError.self) {
                    try await nats.publish(message("nowhere.x", "lost?"), timeout: .seconds(5))
                }
                #expect(error.code == .noResponders, "\(error)")
                #expect(ContinuousClock.now - started < .seconds(2))
            }
        }
    }

    @Test func duplicatesAreRecognisedByMessageIdAlsoAcrossARestart() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                let first = try await nats.publish(message("test.placed.o1", "a", id: "evt-1"))
                let again = try await nats.publish(message("test.placed.o1", "a", id: "evt-1"))
                #expect(!first.duplicate)
                #expect(again.duplicate)
                #expect(again.sequence == first.sequence)
            }
            try server.restart()
            try await server.withConnection { (nats) async throws in
                let afterRestart = try await nats.publish(message("test.placed.o1", "a", id: "evt-1"))
                #expect(afterRestart.duplicate)
                let fresh = try await nats.publish(message("test.placed.o1", "b", id: "evt-2"))
                #expect(!fresh.duplicate)
                #expect(try await nats.streamState("TEST").messages == 2)
            }
        }
    }

    @Test func expectedLastSubjectSequenceGuardsAgainstASecondCopy() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                #expect(try await nats.lastSequence(stream: "TEST", subject: "test.placed.o1") == nil)
                var guarded = message("test.placed.o1", "a", id: "evt-1")
                guarded.expectedLastSubjectSequence = 0
                let ack = try await nats.publish(guarded)
                #expect(try await nats.lastSequence(stream: "TEST", subject: "test.placed.o1") == ack.sequence)
                // The same event under a new message id, as after a downtime longer than the window:
                var copy = message("test.placed.o1", "a", id: "evt-1-retry")
                copy.expectedLastSubjectSequence = 0
                let error = try await #require(throws: NATSError.self) { try await nats.publish(copy) }
                #expect(error.code == .jetStream)
                #expect(error.apiErrorCode == JetStreamErrorCode.wrongLastSequence)  // 10071
                #expect(try await nats.streamState("TEST").messages == 1)
            }
        }
    }

    @Test func nakRedeliversAndCountsDeliveries() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "reader"))
                try await nats.publish(message("test.placed.o1", "x", id: "e1"))
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", logger: quietLogger())
                defer { consumer.stop() }
                let first = try #require(await receive(1, from: consumer).first)
                #expect(first.metadata.deliveryCount == 1)
                try first.nak()
                let second = try #require(await receive(1, from: consumer).first)
                #expect(second.metadata.deliveryCount == 2)
                #expect(second.metadata.streamSequence == first.metadata.streamSequence)

                let clock = ContinuousClock()
                let start = clock.now
                try second.nak(delay: .milliseconds(800))
                let third = try #require(await receive(1, from: consumer).first)
                #expect(clock.now - start >= .milliseconds(700))
                #expect(third.metadata.deliveryCount == 3)
                try third.ack()
                #expect(await receiveNothing(from: consumer, for: .milliseconds(500)).isEmpty)
            }
        }
    }

    @Test func unacknowledgedMessagesComeBackAfterTheAckWaitAndInProgressHoldsThem() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(
                    stream: "TEST", ConsumerConfiguration(durable: "reader", ackWait: .seconds(3)))
                try await nats.publish(message("test.placed.o1", "slow", id: "e1"))
                try await nats.publish(message("test.placed.o2", "forgotten", id: "e2"))
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", logger: quietLogger())
                defer { consumer.stop() }
                let firstRound = await receive(2, from: consumer)
                #expect(firstRound.map(\.text) == ["slow", "forgotten"])
                // Keep "slow" alive well past its ack wait, telling the server every half second (a
                // sixth of the wait, so that a loaded machine cannot stretch a gap beyond it);
                // forget "forgotten".
                var redelivered: [JetStreamMessage] = []
                let clock = ContinuousClock()
                let start = clock.now
                while clock.now - start < .seconds(6) {
                    try firstRound[0].inProgress()
                    redelivered += await receive(1, from: consumer, timeout: .milliseconds(500))
                }
                #expect(redelivered.map(\.text).allSatisfy { $0 == "forgotten" })
                #expect(redelivered.first?.metadata.deliveryCount == 2)
                try firstRound[0].ack()
                for message in redelivered { try message.ack() }
            }
        }
    }

    @Test func termStopsRedeliveryAndMaxDeliverAndBackoffBoundIt() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(
                    stream: "TEST",
                    ConsumerConfiguration(
                        durable: "reader", maxDeliver: 3, backoff: [.milliseconds(300), .milliseconds(600)]))
                try await nats.publish(message("test.placed.o1", "poison", id: "e1"))
                try await nats.publish(message("test.placed.o2", "ignored", id: "e2"))
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", logger: quietLogger())
                defer { consumer.stop() }
                let both = await receive(2, from: consumer)
                #expect(both.count == 2)
                try both[0].term()
                // "ignored" is never acknowledged: redelivered after each back-off step, 3 deliveries in all.
                let again = await receive(10, from: consumer, timeout: .seconds(3))
                #expect(again.map(\.text) == ["ignored", "ignored"])
                #expect(again.map(\.metadata.deliveryCount) == [2, 3])
                #expect(again.allSatisfy { $0.metadata.streamSequence == both[1].metadata.streamSequence })
            }
        }
    }

    @Test func aDurableConsumerResumesWhereItStoppedAfterARestartOfItsProcess() async throws {
        // A short ack wait: what the first process had prefetched but not handled comes back quickly.
        let config = ConsumerConfiguration(durable: "reader", ackWait: .seconds(2))
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", config)
                _ = await nats.publish((1...10).map { message("test.placed.o\($0)", "m\($0)", id: "e\($0)") })
            }
            // The first "process": its own connection; handles five messages, then goes away.
            try await server.withConnection(name: "first") { (nats) async throws in
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", options: PullOptions(batch: 5),
                    logger: quietLogger())
                let received = await receive(5, from: consumer)
                #expect(received.map(\.text) == (1...5).map { "m\($0)" })
                for message in received { try message.ack() }
                for message in consumer.stop() { try message.nak() }
                try await nats.flush()
            }
            // The second: gets the rest, and nothing the first acknowledged. Delivery is at least
            // once: a message the first had on its way when it stopped may come twice (once now,
            // once after the ack wait), so the test reads until it has seen all five.
            try await server.withConnection(name: "second") { (nats) async throws in
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", logger: quietLogger())
                defer { consumer.stop() }
                var seen = Set<String>()
                let deadline = ContinuousClock.now + .seconds(15)
                while seen.count < 5 && ContinuousClock.now < deadline {
                    let rest = await receive(1, from: consumer, timeout: .seconds(5))
                    for message in rest {
                        seen.insert(message.text)
                        try message.ack()
                    }
                }
                #expect(seen == Set((6...10).map { "m\($0)" }))
            }
        }
    }

    @Test func twoInstancesOnOneDurableShareTheWorkEachMessageOnce() async throws {
        try await withNATSServer { (server) async throws in
            let count = 400
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "shared"))
                _ = await nats.publish((1...count).map { message("test.placed.o\($0)", "\($0)", id: "e\($0)") })
            }
            let a = try await server.connect(name: "a")
            let b = try await server.connect(name: "b")
            let consumerA = try PullConsumer.bind(
                connection: a, stream: "TEST", durable: "shared", options: PullOptions(batch: 10), logger: quietLogger()
            )
            let consumerB = try PullConsumer.bind(
                connection: b, stream: "TEST", durable: "shared", options: PullOptions(batch: 10), logger: quietLogger()
            )
            let seen = Seen()
            async let fromA = drain(consumerA, into: seen, tag: "a", total: count)
            async let fromB = drain(consumerB, into: seen, tag: "b", total: count)
            let (countA, countB) = await (fromA, fromB)
            consumerA.stop()
            consumerB.stop()
            await a.close()
            await b.close()
            #expect(countA + countB == count)
            #expect(countA > 0 && countB > 0)
            #expect(seen.values.sorted() == (1...count).map(String.init).sorted())
            #expect(seen.redeliveries == 0)
        }
    }
}

/// What several consumers received between them.
final class Seen: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    private var redelivered = 0

    func add(_ message: JetStreamMessage) {
        lock.withLock {
            items.append(message.text)
            if message.metadata.deliveryCount > 1 { redelivered += 1 }
        }
    }

    var count: Int { lock.withLock { items.count } }
    var values: [String] { lock.withLock { items } }
    var redeliveries: Int { lock.withLock { redelivered } }
}

/// Acknowledges everything `consumer` receives until `total` messages were seen by all together.
func drain(_ consumer: PullConsumer, into seen: Seen, tag: String, total: Int) async -> Int {
    var mine = 0
    let deadline = ContinuousClock.now + .seconds(20)
    while seen.count < total, ContinuousClock.now < deadline {
        let batch = await receive(10, from: consumer, timeout: .milliseconds(300))
        for message in batch {
            seen.add(message)
            try? message.ack()
            // Slow down a little so that both instances get a share.
            try? await Task.sleep(for: .milliseconds(1))
        }
        mine += batch.count
    }
    return mine
}
