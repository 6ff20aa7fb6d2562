public import Foundation
public import GRDB
import Logging
public import Postgres
public import ServiceKit

/// A service's real context (settings, logger, SQLite store in a temporary folder) for handler and
/// route tests: no NATS connection and no socket. What a handler or a route commits stays in the
/// store and its outbox, where the tests read it.
public struct HandlerBench: Sendable {
    public let context: ServiceContext
    public let directory: URL

    /// With `TROUPE_DATABASE_URL` in `environment`, the store is that PostgreSQL database (migrated
    /// with `postgresMigrations`): several benches on one database are instances of one service.
    public init(
        _ descriptor: ServiceDescriptor, migrations: (inout DatabaseMigrator) -> Void,
        postgresMigrations: (inout PGMigrator) -> Void = { _ in }, environment: [String: String] = [:]
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
                "TROUPE_DATA_DIR": directory.path
            ].merging(environment) { _, given in given })
        context = try ServiceContext(
            descriptor: descriptor, settings: settings, logger: logger, migrations: migrations,
            postgresMigrations: postgresMigrations)
    }

    /// The outbox's subjects, grouped by order: `[orderId: ["inventory.reserved", …]]`.
    public func outgoingByOrder() async throws -> [String: [String]] {
        let subjects = try await context.read { db in
            try db.values(String.self, "SELECT subject FROM outbox ORDER BY seq")
        }
        var byOrder: [String: [String]] = [:]
        for subject in subjects {
            let parts = subject.split(separator: ".")
            byOrder[String(parts[2]), default: []].append("\(parts[0]).\(parts[1])")
        }
        return byOrder
    }

    /// A valid order id for the index-th order of a test.
    public static func orderId(_ index: Int) -> String {
        let crockford = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var suffix = ""
        var value = index
        for _ in 0..<4 {
            suffix = String(crockford[value % 32]) + suffix
            value /= 32
        }
        return "ord_01JD8Z6Q4Y3K5V7W9X1Z3B" + suffix
    }

    public func close() async {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Hands `work` to `handle`, `inFlight` at a time like a consumer with that concurrency. A
    /// `.notYet` comes back at the end of the queue, as a negative acknowledgement with a delay
    /// would bring it back; a rejection, or a `.notYet` that never ends, throws.
    public static func deliver<Work: Sendable>(
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
                    guard redeliveries <= 10 * work.count else {
                        throw DeliveryFailure(description: "a prerequisite that never arrives")
                    }
                    queue.append(item)
                case .reject(let reason): throw DeliveryFailure(description: "rejected: \(reason)")
                }
                startNext()
            }
        }
    }
}

/// Why `HandlerBench.deliver` gave up.
public struct DeliveryFailure: Error, CustomStringConvertible {
    public let description: String
}
