import Foundation
import Logging
import Messaging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

/// Work that waits in a service — a slow batch in the handler, and the deliveries buffered behind
/// it — is reported in progress (`+WPI`), so that the server does not deliver it again while it
/// waits (under overload that turned a backlog into redeliveries and the redeliveries into more
/// backlog). Against a real nats-server: a 2 s ack wait, batches of three that take 3 s each (the
/// margins are wide so that a loaded test machine cannot fail it).
@Suite("Progress reported for work that waits", .serialized, .timeLimit(.minutes(2)))
struct ProgressReportTests {
    enum Setting: String, CaseIterable, CustomTestStringConvertible {
        /// What `ConsumerService` does by default: progress every third of the ack wait.
        case byDefault
        /// Negative control: no progress reported, so the same load is delivered again.
        case never
        /// Past the limit a held batch is left to the ack wait (a stuck handler keeps nothing for ever).
        case pastTheLimit

        var options: PullOptions {
            switch self {
            case .byDefault: PullOptions(batch: 20)
            case .never: PullOptions(batch: 20, progressEvery: .seconds(3600))
            case .pastTheLimit: PullOptions(batch: 20, progressLimit: .milliseconds(500))
            }
        }
        var expectsRedeliveries: Bool { self != .byDefault }
        var testDescription: String { rawValue }
    }

    @Test(arguments: Setting.allCases)
    func slowBatchesAndWhatWaitsBehindThemAreNotDeliveredAgain(_ setting: Setting) async throws {
        try await withNATSServer { (server) async throws in
            let total = 9
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                _ = await nats.publish((1...total).map { message("test.placed.o\($0)", "\($0)", id: "e\($0)") })
            }
            let handled = Handled()
            let config = ConsumerConfiguration(durable: "slow", ackWait: .seconds(2))
            try await server.withConnection(name: "slow") { (nats) async throws in
                let service = ConsumerService(
                    connection: nats, stream: "TEST", consumer: config, pull: setting.options, maxBatch: 3,
                    logger: quietLogger()
                ) { batch in
                    try? await Task.sleep(for: .seconds(3))
                    for message in batch { handled.record(message) }
                    return batch.map { _ in .ack }
                }
                let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: quietLogger())
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    #expect(await eventually(timeout: .seconds(40)) { Set(handled.values).count == total })
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            #expect(Set(handled.values) == Set((1...total).map(String.init)))
            if setting.expectsRedeliveries {
                // Without progress the buffered deliveries' ack wait runs out while they wait.
                #expect(handled.duplicates > 0, "the load is slow enough to be delivered again without progress")
            } else {
                #expect(handled.duplicates == 0, "a delivery that waited here was delivered again")
                #expect(handled.count == total)
            }
        }
    }
}
