import Foundation
import Logging
import Messaging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@Suite("Consumer service, reconnection and graceful stop", .serialized, .timeLimit(.minutes(1)))
struct ConsumerServiceTests {
    @Test func gracefulStopFinishesInFlightWorkAndLosesNothing() async throws {
        try await withNATSServer { (server) async throws in
            let total = 300
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                _ = await nats.publish((1...total).map { message("test.placed.o\($0)", "\($0)", id: "e\($0)") })
            }
            let handled = Handled()
            // Handlers that the stop cancelled instead of letting them finish.
            let cancelled = Mutex(0)
            // Messages on their way when the first instance unsubscribes come back after the ack wait.
            let config = ConsumerConfiguration(durable: "worker", ackWait: .seconds(4))

            // First run: slow handlers, four at a time; shut down gracefully in the middle of the work.
            try await server.withConnection(name: "first") { (nats) async throws in
                let service = ConsumerService(
                    connection: nats, stream: "TEST", consumer: config, pull: PullOptions(batch: 20), concurrency: 4,
                    logger: quietLogger()
                ) { message in
                    do {
                        try await Task.sleep(for: .milliseconds(20))
                    } catch {
                        // Cancelled mid-handling: not finished, so neither recorded nor acknowledged.
                        cancelled.withLock { $0 += 1 }
                        return .nak(delay: .zero)
                    }
                    handled.record(message)
                    return .ack
                }
                let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: quietLogger())
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    #expect(await eventually { handled.count >= 40 })
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            // The stop let every handler in flight finish: none was cancelled.
            #expect(cancelled.withLock { $0 } == 0)
            let firstRunCount = handled.count
            let firstRun = Set(handled.values)
            let handledBeforeStop = firstRun.count
            #expect(handledBeforeStop > 0 && handledBeforeStop < total)

            // Everything handled before the stop was acknowledged: what is not yet delivered, plus what
            // was delivered and not acknowledged (handed back, or on its way), is exactly the rest.
            try await server.withConnection { (nats) async throws in
                // (The server applies acknowledgements a moment after they arrive.)
                #expect(
                    try await eventually {
                        let state = try await nats.consumerState(stream: "TEST", durable: "worker")
                        return state.pending + UInt64(state.ackPending) == UInt64(total - handledBeforeStop)
                    })
            }

            // Second run: takes the rest, each message once, none of the first run's again.
            try await server.withConnection(name: "second") { (nats) async throws in
                let service = ConsumerService(
                    connection: nats, stream: "TEST", consumer: config, concurrency: 4, logger: quietLogger()
                ) { message in
                    handled.record(message)
                    return .ack
                }
                let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: quietLogger())
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    #expect(await eventually(timeout: .seconds(20)) { Set(handled.values).count >= total })
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            #expect(Set(handled.values) == Set((1...total).map(String.init)))
            // Nothing handled (and so acknowledged) before the stop is delivered again after it,
            // and no delivery was handed to two handlers.
            let secondRun = handled.values.dropFirst(firstRunCount)
            #expect(firstRun.isDisjoint(with: secondRun))
            #expect(handled.sameDelivery == 0, "no delivery handled twice")
        }
    }

    @Test func aServiceStartedWhileNATSIsDownConnectsWhenItComes() async throws {
        let server = try await NATSServer.start()
        defer { server.stop() }
        server.kill()
        let nats = try await server.connect(name: "early", waitForServer: false, retryInBackground: true)
        #expect(nats.state != .connected)
        let handled = Handled()
        let service = ConsumerService(
            connection: nats, stream: "TEST", consumer: ConsumerConfiguration(durable: "late"), logger: quietLogger()
        ) { message in
            handled.record(message)
            return .ack
        }
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: quietLogger())
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(500))
            #expect(!service.isBound)
            try server.start()
            try await nats.waitUntilConnected(timeout: .seconds(10))
            try await nats.ensureStream(testStream())
            #expect(await eventually { service.isBound })
            try await nats.publish(message("test.placed.o1", "hello", id: "e1"))
            #expect(await eventually { handled.count == 1 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await nats.close()
    }

    @Test func consumingResumesAfterTheServerRestarts() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(name: "survivor")
            try await nats.ensureStream(testStream())
            let handled = Handled()
            let service = ConsumerService(
                connection: nats, stream: "TEST", consumer: ConsumerConfiguration(durable: "survivor"),
                pull: PullOptions(expires: .seconds(30)), logger: quietLogger()
            ) { message in
                handled.record(message)
                return .ack
            }
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: quietLogger())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await nats.publish(message("test.placed.o1", "before", id: "e1"))
                #expect(await eventually { handled.count == 1 })
                // Its acknowledgement has reached the server (else a redelivery after the restart
                // would be right: delivery is at least once).
                #expect(
                    try await eventually {
                        try await nats.consumerState(stream: "TEST", durable: "survivor").ackPending == 0
                    })
                try server.restart()
                try await nats.waitUntilConnected(timeout: .seconds(10))
                // The pull request open before the restart is gone with the old server process;
                // the consumer must notice and ask again, long before its 30 s expiry.
                try await nats.publish(message("test.placed.o2", "after", id: "e2"))
                #expect(await eventually(timeout: .seconds(8)) { handled.values.contains("after") })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            // nats-server 2.9 may restore a consumer's acknowledgement state from before its last
            // write, so "before" can come again after the restart: delivery is at least once, and the
            // services' inbox absorbs it. Nothing is lost, and the consumer keeps going.
            #expect(Set(handled.values) == ["before", "after"])
            #expect(handled.values.filter { $0 == "after" }.count == 1)
            await nats.close()
        }
    }
}

/// What handlers saw, across runs.
final class Handled: Sendable {
    private let state = Mutex<
        (values: [String], ids: Set<UInt64>, duplicates: Int, deliveries: Set<[UInt64]>, sameDelivery: Int)
    >(([], [], 0, [], 0))

    func record(_ message: JetStreamMessage) {
        state.withLock { state in
            state.values.append(message.text)
            let sequence = message.metadata.streamSequence
            if !state.ids.insert(sequence).inserted { state.duplicates += 1 }
            let delivery = [sequence, UInt64(message.metadata.deliveryCount)]
            if !state.deliveries.insert(delivery).inserted { state.sameDelivery += 1 }
        }
    }

    /// Handlings of a delivery that had already been handled: the layer gave one delivery twice.
    /// (A message handled twice after the server delivered it again — its ack wait passed on a
    /// loaded machine — is at-least-once delivery, which the services' inbox absorbs.)
    var sameDelivery: Int { state.withLock { $0.sameDelivery } }

    var count: Int { state.withLock { $0.values.count } }
    var values: [String] { state.withLock { $0.values } }
    var duplicates: Int { state.withLock { $0.duplicates } }
}
