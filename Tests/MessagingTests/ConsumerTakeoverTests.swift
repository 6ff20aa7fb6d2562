import Foundation
import Messaging
import TestSupport
import Testing

/// A filtered durable that takes the place of an unfiltered one (a filter cannot change on an
/// existing consumer): it starts after the old one's acknowledgement floor, and the old one goes.
@Suite("A consumer that replaces another", .serialized, .timeLimit(.minutes(1)))
struct ConsumerTakeoverTests {
    @Test func startsAfterTheReplacedConsumersAcknowledgementFloorAndDeletesIt() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                // Ten messages, alternately on test.a.* and test.b.*.
                _ = await nats.publish(
                    (1...10).map { message("test.\($0 % 2 == 1 ? "a" : "b").o\($0)", "\($0)", id: "e\($0)") })
                // The old, unfiltered reader acknowledges the first six.
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "reader"))
                let old = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader", options: PullOptions(batch: 6),
                    logger: quietLogger())
                let first = await receive(6, from: old)
                #expect(first.map(\.text) == (1...6).map(String.init))
                for message in first { try message.ack() }
                old.stop()
                try await nats.flush()
                #expect(
                    try await eventually {
                        try await nats.consumerState(stream: "TEST", durable: "reader").ackFloorStreamSequence == 6
                    })

                // Its replacement reads test.a.* only, from sequence 7 on.
                let wanted = ConsumerConfiguration(durable: "reader-a", filterSubject: "test.a.*", replaces: "reader")
                #expect(try await nats.ensureConsumer(stream: "TEST", wanted) == .created)
                let names = try await nats.consumers(of: "TEST").map(\.name)
                #expect(names == ["reader-a"], "the replaced consumer is deleted")
                let new = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "reader-a", options: PullOptions(batch: 10),
                    logger: quietLogger())
                defer { new.stop() }
                let rest = await receive(2, from: new)
                #expect(rest.map(\.text) == ["7", "9"])
                #expect(await receiveNothing(from: new, for: .milliseconds(300)).isEmpty)

                // Ensured again (the next start): nothing to change, no conflict over where it began;
                // a setting that can change in place still does.
                #expect(try await nats.ensureConsumer(stream: "TEST", wanted) == .unchanged)
                var longer = wanted
                longer.ackWait = .seconds(45)
                #expect(try await nats.ensureConsumer(stream: "TEST", longer) == .updated(fields: ["ackWait"]))
            }
        }
    }

    @Test func withoutTheReplacedConsumerItStartsWhereItsPolicySays() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                _ = await nats.publish((1...4).map { message("test.a.o\($0)", "\($0)", id: "e\($0)") })
                let wanted = ConsumerConfiguration(durable: "fresh-a", filterSubject: "test.a.*", replaces: "fresh")
                #expect(try await nats.ensureConsumer(stream: "TEST", wanted) == .created)
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "fresh-a", logger: quietLogger())
                defer { consumer.stop() }
                #expect(await receive(4, from: consumer).map(\.text) == ["1", "2", "3", "4"])
            }
        }
    }
}
