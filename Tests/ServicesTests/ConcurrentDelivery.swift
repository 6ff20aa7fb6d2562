import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import TestSupport
import Testing

/// A service's real runtime and SQLite store in a temporary folder, for handler tests that need no
/// broker: the runtime connects to a free port in the background and the tests never publish.
struct HandlerBench {
    let runtime: ServiceRuntime
    let directory: URL

    init(
        _ descriptor: ServiceDescriptor, migrations: (inout DatabaseMigrator) -> Void,
        environment: [String: String] = [:]
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(descriptor.name)-\(UUID().uuidString.prefix(8))")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let settings = try Settings(
            specs: ServiceConfiguration.specs(service: descriptor.name, defaultPort: descriptor.defaultPort)
                + descriptor.settings,
            arguments: [],
            environment: [
                "TROUPE_DATA_DIR": directory.path, "TROUPE_NATS_URL": "nats://127.0.0.1:\(try FreePort.find())",
            ].merging(environment) { _, given in given })
        runtime = try await ServiceRuntime(
            descriptor: descriptor, settings: settings, logger: logger, migrations: migrations)
    }

    /// The outbox's subjects, grouped by order: `[orderId: ["inventory.reserved", …]]`.
    func outgoingByOrder() async throws -> [String: [String]] {
        let subjects = try await runtime.store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT subject FROM \(OutboxEntry.databaseTableName) ORDER BY seq")
        }
        var byOrder: [String: [String]] = [:]
        for subject in subjects {
            let parts = subject.split(separator: ".")
            byOrder[String(parts[2]), default: []].append("\(parts[0]).\(parts[1])")
        }
        return byOrder
    }

    /// A valid order id for the index-th order of a test.
    static func orderId(_ index: Int) -> String {
        let crockford = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var suffix = ""
        var value = index
        for _ in 0..<4 {
            suffix = String(crockford[value % 32]) + suffix
            value /= 32
        }
        return "ord_01JD8Z6Q4Y3K5V7W9X1Z3B" + suffix
    }

    func close() async {
        await runtime.connection.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Hands `work` to `handle`, `inFlight` at a time like a consumer with that concurrency. A
    /// `.notYet` comes back at the end of the queue, as a negative acknowledgement with a delay
    /// would bring it back; anything else than `.done` fails the test.
    static func deliver<Work: Sendable>(
        _ work: [Work], inFlight: Int, handle: @escaping @Sendable (Work) async throws -> HandlerOutcome
    ) async throws {
        var queue = work[...]
        var redeliveries = 0
        try await withThrowingTaskGroup(of: (Work, HandlerOutcome).self) { group in
            func startNext() {
                guard let next = queue.popFirst() else { return }
                group.addTask { (next, try await handle(next)) }
            }
            for _ in 0..<inFlight { startNext() }
            while let (item, outcome) = try await group.next() {
                switch outcome {
                case .done: break
                case .notYet:
                    redeliveries += 1
                    #expect(redeliveries <= 10 * work.count, "a prerequisite that never arrives")
                    if redeliveries <= 10 * work.count { queue.append(item) }
                case .reject(let reason): Issue.record("rejected: \(reason)")
                }
                startNext()
            }
        }
    }
}
