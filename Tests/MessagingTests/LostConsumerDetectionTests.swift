import Foundation
import Logging
import TestSupport
import Testing

@testable import Messaging

/// The pull layer notices a consumer that is gone, whether the server says so or not: a request
/// open when the consumer goes is answered `409 Consumer Deleted`, but one sent a moment later
/// reaches nobody and is dropped in silence, also when the stream exists (made again by its
/// producer). Asking again would go unanswered for ever, with the service's readiness green.
@Suite("Pull consumer: a lost consumer is noticed", .serialized, .timeLimit(.minutes(1)))
struct LostConsumerDetectionTests {
    let options = PullOptions(batch: 8, expires: .milliseconds(500))

    @Test func aConsumerThatDoesNotExistIsNoticedAlthoughTheServerSaysNothing() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                let lines = RecordedLines()
                // No consumer "ghost": the pull requests reach nobody, and no status comes back.
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "ghost", options: options, logger: lines.logger())
                defer { consumer.stop() }
                let maintainer = Task { await consumer.maintain() }
                defer { maintainer.cancel() }
                #expect(await eventually(timeout: .seconds(8)) { consumer.isLost })
                #expect(lines.contains("the consumer is gone from the server"))
                // Lost means stopped: a reader waiting for messages gets none.
                #expect(await consumer.nextBatch(max: 8).isEmpty)
            }
        }
    }

    @Test func anIdleConsumerThatExistsIsNotLost() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "idle"))
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "idle", options: options, logger: quietLogger())
                defer { consumer.stop() }
                let maintainer = Task { await consumer.maintain() }
                defer { maintainer.cancel() }
                // Several requests expire on an empty stream (each answered `408`): nothing is lost,
                // and a message published afterwards is delivered.
                try await Task.sleep(for: .seconds(3))
                #expect(!consumer.isLost)
                _ = await nats.publish([message("test.placed.o1", "one", id: "e1")])
                let received = await receive(1, from: consumer)
                #expect(received.count == 1)
            }
        }
    }

    /// The state of the consumer stall seen under heavy load (docs/pipeline.md): the server counts
    /// deliveries to this instance's inbox, and neither they nor the answers to its pull requests
    /// arrive. Here the subscription is removed behind the consumer's back while another
    /// connection listens on the same inbox, so the server still sees interest and delivers there.
    @Test func aConsumerWhoseDeliveriesGoAstrayBindsAFreshSubscription() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await server.withConnection(name: "elsewhere") { (elsewhere) async throws in
                    try await nats.ensureStream(testStream())
                    try await nats.ensureConsumer(
                        stream: "TEST", ConsumerConfiguration(durable: "astray", ackWait: .seconds(2)))
                    let lines = RecordedLines()
                    let deaf = try PullConsumer.bind(
                        connection: nats, stream: "TEST", durable: "astray", options: options, logger: lines.logger())
                    defer { deaf.stop() }
                    let listener = try elsewhere.subscribeCore(subject: deaf.inbox)
                    try await elsewhere.flush()
                    deaf.unsubscribeBehindItsBack()
                    try await nats.flush()
                    let maintainer = Task { await deaf.maintain() }
                    defer { maintainer.cancel() }
                    _ = await nats.publish([message("test.placed.o3", "three", id: "e3")])
                    // The server delivered it, to the inbox this consumer no longer hears.
                    #expect(await eventually(timeout: .seconds(8)) { listener.received >= 1 })
                    // Asked again twice first (each unanswered request waits its expiry and 2 s more).
                    #expect(await eventually(timeout: .seconds(20)) { deaf.isLost })
                    #expect(lines.contains("a pull request went unanswered; asking again"))
                    #expect(lines.contains("3 pull requests in a row went unanswered"))
                    #expect(lines.contains("binding the consumer anew"))
                    #expect(lines.contains("its deliveries do not reach this subscription"))
                    // Bound anew (as `ConsumerService` does), the message comes back after its ack wait.
                    let fresh = try PullConsumer.bind(
                        connection: nats, stream: "TEST", durable: "astray", options: options, logger: quietLogger())
                    defer { fresh.stop() }
                    #expect(fresh.inbox != deaf.inbox)
                    let received = await receive(1, from: fresh)
                    #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == ["three"])
                }
            }
        }
    }

    /// A clustered server drops the requests waiting on a consumer whose leader changes, without a
    /// word (seen on every service while the replicated consumers of a fresh cluster settle): one
    /// unanswered request is asked again, on the same subscription, and the consumer stays bound.
    @Test func oneRequestDroppedInSilenceIsAskedAgainWithoutBindingAnew() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "dropped"))
                let lines = RecordedLines()
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "dropped", options: options, logger: lines.logger())
                defer { consumer.stop() }
                // The request after the first one's `408` is dropped.
                consumer.dropNextRequestBehindItsBack()
                let maintainer = Task { await consumer.maintain() }
                defer { maintainer.cancel() }
                #expect(await eventually(timeout: .seconds(8)) { lines.contains("asking again") })
                _ = await nats.publish([message("test.placed.o4", "four", id: "e4")])
                let received = await receive(1, from: consumer)
                #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == ["four"])
                #expect(!consumer.isLost)
                #expect(!lines.contains("binding the consumer anew"))
                #expect(received.first?.metadata.deliveryCount == 1)
            }
        }
    }

    @Test func aConsumerServiceMakesAConsumerDeletedInSilenceAgain() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                let handled = Handled()
                let service = ConsumerService(
                    connection: nats, stream: "TEST", consumer: ConsumerConfiguration(durable: "worker"),
                    pull: options, concurrency: 1, logger: quietLogger()
                ) { message in
                    handled.record(message)
                    return .ack
                }
                let run = Task { try await service.run() }
                defer { run.cancel() }
                #expect(await eventually { service.isBound })
                // Deleted and the stream made again between two requests, as an operator's
                // mistake can: whichever way the server tells it, the service binds anew.
                try await nats.deleteStream("TEST")
                try await nats.ensureStream(testStream())
                #expect(
                    await eventually(timeout: .seconds(10)) {
                        (try? await nats.consumers(of: "TEST").map(\.name))?.contains("worker") == true
                    })
                _ = await nats.publish([message("test.placed.o2", "two", id: "e2")])
                #expect(await eventually(timeout: .seconds(10)) { handled.count == 1 })
            }
        }
    }
}
