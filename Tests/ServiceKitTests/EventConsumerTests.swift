import Foundation
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

private func quiet() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// A toy event: the payload is an integer; anything else is undecodable.
private func decode(_ message: JetStreamMessage) -> Result<Int, EventConsumer<Int>.DecodeFailure> {
    guard let value = Int(String(decoding: message.payload, as: UTF8.self)) else {
        return .failure(.init("not an integer: \(String(decoding: message.payload.prefix(20), as: UTF8.self))"))
    }
    return .success(value)
}

private struct Transient: Error {}

@Suite("Event consumer: dead letters, out-of-order waits, transient retries", .serialized, .timeLimit(.minutes(1)))
struct EventConsumerTests {
    @Test func deadLettersWhatCannotBeHandledAndEverythingElseFlowsOn() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(name: "svc")
            try await nats.ensureStream(StreamConfiguration(name: "TEST", subjects: ["test.>"]))
            try await nats.ensureStream(StreamConfiguration(name: "DEADLETTER", subjects: ["deadletter.>"]))
            let handled = Mutex<[Int]>([])
            let transientFailures = Mutex(0)
            let consumer = EventConsumer<Int>(
                connection: nats, stream: "TEST", consumer: ConsumerConfiguration(durable: "svc-test"),
                deadLetters: DeadLetters(connection: nats, service: "svc", logger: quiet()),
                concurrency: 4, prerequisiteTimeout: .seconds(1), logger: quiet(), decode: decode
            ) { value, _ in
                if value == 13 { return .reject("thirteen is never allowed") }
                if value == 7 { return .notYet("waiting for six") }
                if value == 5 {
                    // Fails twice (store busy), then works: retried, never dead-lettered.
                    let failures = transientFailures.withLock { count -> Int in
                        count += 1
                        return count
                    }
                    if failures <= 2 { throw Transient() }
                }
                handled.withLock { $0.append(value) }
                return .done
            }
            let group = ServiceGroup(services: [consumer], gracefulShutdownSignals: [], logger: quiet())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                for (index, body) in ["1", "garbage", "13", "5", "7", "2"].enumerated() {
                    try await nats.publish(
                        OutgoingMessage(
                            subject: "test.e.o\(index)", payload: Array(body.utf8),
                            headers: ["traceparent": "tp-\(index)"],
                            messageId: "m\(index)"))
                }
                let settled = try await eventuallyAsync {
                    let deadLettered = try await nats.streamState("DEADLETTER").messages
                    return handled.withLock { Set($0) } == [1, 2, 5] && deadLettered == 3
                }
                #expect(settled)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }

            // The dead letters: original payload and headers, the reasons, the origin.
            try await nats.ensureConsumer(stream: "DEADLETTER", ConsumerConfiguration(durable: "inspect"))
            let inspector = try PullConsumer.bind(
                connection: nats, stream: "DEADLETTER", durable: "inspect", logger: quiet())
            var letters: [JetStreamMessage] = []
            while letters.count < 3 { letters += await inspector.nextBatch(max: 3) }
            inspector.stop()
            let bySubject = Dictionary(uniqueKeysWithValues: letters.map { ($0.subject, $0) })
            let garbage = try #require(bySubject["deadletter.svc.test.e.o1"])
            #expect(String(decoding: garbage.payload, as: UTF8.self) == "garbage")
            #expect(garbage.header("Troupe-Dead-Letter-Reason") == "not an integer: garbage")
            #expect(garbage.header("Troupe-Original-Msg-Id") == "m1")
            #expect(garbage.header("Troupe-Original-Stream") == "TEST")
            #expect(garbage.header("Troupe-Original-Sequence") == "2")
            #expect(garbage.header("Troupe-Deliveries") == "1")
            #expect(garbage.header("Nats-Msg-Id") == "deadletter.svc.TEST.2")
            #expect(garbage.header("traceparent") == "tp-1")
            #expect(
                bySubject["deadletter.svc.test.e.o2"]?.header("Troupe-Dead-Letter-Reason")
                    == "thirteen is never allowed")
            let late = try #require(bySubject["deadletter.svc.test.e.o4"])
            #expect(late.header("Troupe-Dead-Letter-Reason")?.contains("prerequisite never arrived") == true)
            #expect(late.header("Troupe-Dead-Letter-Reason")?.contains("waiting for six") == true)
            #expect(Int(late.header("Troupe-Deliveries") ?? "0")! > 1)

            // Dead-lettered messages were terminated: nothing left pending on the original consumer.
            #expect(
                try await eventuallyAsync {
                    let state = try await nats.consumerState(stream: "TEST", durable: "svc-test")
                    return state.ackPending == 0 && state.pending == 0
                })
            await nats.close()
        }
    }
}
