import Foundation
import Messaging
import TestSupport
import Testing

/// The tools' snapshot reads: the server filters, batches come pulled, nothing is left behind.
@Suite("Reading a stream for tools", .serialized, .timeLimit(.minutes(1)))
struct ReadStreamTests {
    @Test func aSnapshotHasEveryStoredMessageInOrderAndLeavesNoConsumer() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                // 1,500 messages over 50 orders: several pulled batches, more than one buffer.
                let all = (0..<1500).map { message("test.placed.o\($0 % 50)", "m\($0)", id: "e\($0)") }
                let acks = await nats.publish(all)
                #expect(acks.allSatisfy { (try? $0.get()) != nil })
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "service"))

                let everything = try await nats.readStream("TEST", logger: quietLogger())
                #expect(everything.map(\.text) == (0..<1500).map { "m\($0)" })
                let one = try await nats.readStream("TEST", filter: "test.*.o7", logger: quietLogger())
                #expect(one.map(\.text) == stride(from: 7, to: 1500, by: 50).map { "m\($0)" })
                let none = try await nats.readStream("TEST", filter: "test.*.o99", logger: quietLogger())
                #expect(none.isEmpty)

                // Only the service's own consumer remains, untouched.
                let consumers = try await nats.consumers(of: "TEST")
                #expect(consumers.map(\.name) == ["service"])
                #expect(consumers.first?.state.pending == 1500)
            }
        }
    }

    @Test func theServerRemovesAnIdleConsumerWithAnInactiveThreshold() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                // What a killed tool leaves behind: a durable nobody pulls from.
                try await nats.ensureConsumer(
                    stream: "TEST", ConsumerConfiguration(durable: "troupe-read-left", inactiveThreshold: .seconds(1)))
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "kept"))
                #expect(try await nats.consumers(of: "TEST").map(\.name) == ["kept", "troupe-read-left"])
                let removed = try await eventually(timeout: .seconds(15)) {
                    try await nats.consumers(of: "TEST").map(\.name) == ["kept"]
                }
                #expect(removed, "nats-server 2.9 applies the inactive threshold to durables")
            }
        }
    }
}
