import Foundation
import Logging
import Messaging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import ServiceKit

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
    /// An event delivered before its prerequisite (on another stream, read by another consumer of
    /// the same service) waits in the process and is applied as soon as the prerequisite commits:
    /// no negative acknowledgement, no second delivery, long before its hold would end.
    @Test func anEarlyEventIsAppliedWhenItsPrerequisiteCommitsWithoutGoingBackToTheBroker() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(name: "svc")
            try await nats.ensureStream(StreamConfiguration(name: "FIRST", subjects: ["first.>"]))
            try await nats.ensureStream(StreamConfiguration(name: "SECOND", subjects: ["second.>"]))
            try await nats.ensureStream(StreamConfiguration(name: "DEADLETTER", subjects: ["deadletter.>"]))
            let room = WaitingRoom()
            let applied = Mutex<Set<Int>>([])
            let second = Mutex<[(value: Int, deliveries: Int, at: ContinuousClock.Instant)]>([])
            let deadLetters = DeadLetters(connection: nats, service: "svc", logger: quiet())
            let key: @Sendable (Int) -> String? = { "order-\($0)" }
            let firsts = EventConsumer<Int>(
                connection: nats, stream: "FIRST", consumer: ConsumerConfiguration(durable: "svc-first"),
                deadLetters: deadLetters, maxBatch: 16, waitingRoom: room, waitKey: key, holdFor: .seconds(20),
                logger: quiet(), decode: decode
            ) { deliveries in
                applied.withLock { for delivery in deliveries { $0.insert(delivery.event) } }
                room.arrived(deliveries.map { "order-\($0.event)" })  // what a commit announces
                return deliveries.map { _ in .success(.done) }
            }
            let seconds = EventConsumer<Int>(
                connection: nats, stream: "SECOND", consumer: ConsumerConfiguration(durable: "svc-second"),
                deadLetters: deadLetters, maxBatch: 16, waitingRoom: room, waitKey: key, holdFor: .seconds(20),
                logger: quiet(), decode: decode
            ) { deliveries in
                deliveries.map { delivery in
                    guard applied.withLock({ $0.contains(delivery.event) }) else {
                        return .success(.notYet("its first event has not been applied"))
                    }
                    second.withLock {
                        $0.append((delivery.event, delivery.message.metadata.deliveryCount, ContinuousClock.now))
                    }
                    return .success(.done)
                }
            }
            let group = ServiceGroup(services: [firsts, seconds], gracefulShutdownSignals: [], logger: quiet())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await nats.publish(
                    OutgoingMessage(subject: "second.e.o42", payload: Array("42".utf8), messageId: "s42"))
                #expect(try await eventuallyAsync(timeout: .seconds(10)) { room.waiting == 1 })
                let released = ContinuousClock.now
                try await nats.publish(
                    OutgoingMessage(subject: "first.e.o42", payload: Array("42".utf8), messageId: "f42"))
                #expect(try await eventuallyAsync(timeout: .seconds(10)) { second.withLock { $0.count } == 1 })
                let handled = try #require(second.withLock { $0.first })
                #expect(handled.value == 42)
                #expect(handled.deliveries == 1)  // never went back to the broker
                #expect(handled.at - released < .seconds(5))  // not at the end of its 20 s hold
                // And settled: the consumer has nothing pending or unacknowledged.
                #expect(
                    try await eventuallyAsync {
                        let state = try await nats.consumerState(stream: "SECOND", durable: "svc-second")
                        return state.ackPending == 0 && state.pending == 0
                    })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

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
