import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceTestSupport
import TestSupport
import Testing

@testable import OrderService

/// docs/http.md, "POST /orders": Idempotency-Keys are kept at least 24 hours; the order service
/// then sweeps them away.
@Suite("Idempotency keys are kept 24 hours, then swept", .timeLimit(.minutes(1)))
struct IdempotencyKeyTests {
    static func insert(_ key: String, age: TimeInterval, into bench: HandlerBench) async throws {
        try await bench.context.store.writer.write { db in
            try db.execute(
                sql: "INSERT INTO idempotencyKey (key, requestHash, orderId, createdAt) VALUES (?, ?, ?, ?)",
                arguments: [key, "hash", "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F", Date().addingTimeInterval(-age)])
        }
    }

    static func keys(in bench: HandlerBench) async throws -> [String] {
        try await bench.context.store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT key FROM idempotencyKey ORDER BY key")
        }
    }

    @Test func theSweeperRemovesOnlyKeysOlderThanTheRetention() async throws {
        let bench = try await HandlerBench(OrderApp.descriptor, migrations: OrderStore.migrations)
        try await Self.insert("a-day-and-an-hour", age: 25 * 3600, into: bench)
        try await Self.insert("twenty-three-hours", age: 23 * 3600, into: bench)
        try await Self.insert("just-now", age: 0, into: bench)

        let sweeper = IdempotencyKeySweeper(
            service: bench.context, retention: .seconds(86_400), interval: .milliseconds(50))
        let running = Task { try await sweeper.run() }
        var remaining = try await Self.keys(in: bench)
        for _ in 0..<100 where remaining.count == 3 {
            try await Task.sleep(for: .milliseconds(20))
            remaining = try await Self.keys(in: bench)
        }
        running.cancel()
        #expect(remaining == ["just-now", "twenty-three-hours"])
        await bench.close()
    }

    @Test func aRetentionUnderADayIsRefusedAtStart() async throws {
        // The whole runtime, as at start; its connection dials a free port (nothing there) in the background.
        let bench = try await HandlerBench(
            OrderApp.descriptor, migrations: OrderStore.migrations,
            environment: [
                "TROUPE_ORDER_IDEMPOTENCY_RETENTION": "1h",
                "TROUPE_NATS_URL": "nats://127.0.0.1:\(try FreePort.find())",
            ])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = try await ServiceRuntime(
            descriptor: OrderApp.descriptor, settings: bench.context.settings, logger: logger,
            migrations: OrderStore.migrations)
        defer { Task { await runtime.connection.close() } }
        let error = await #expect(throws: SettingsError.self) { _ = try await OrderApp.build(runtime) }
        #expect(
            error?.problems.contains { $0.contains("TROUPE_ORDER_IDEMPOTENCY_RETENTION") && $0.contains("24h") }
                == true,
            "\(error?.problems ?? [])")
        await bench.close()
    }

    /// docs/http.md, "POST /orders": 1-255 printable ASCII characters, and the space is one of them.
    @Test(arguments: ["k", "order 42 for ada", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}", String(repeating: "k", count: 255)])
    func printableASCIIKeysAreAccepted(_ key: String) throws {
        #expect(try OrderRoutes.idempotencyKey(Fixture.postOrders(header: "Idempotency-Key", key)) == key)
    }

    @Test(arguments: [String(repeating: "k", count: 256), "caf\u{E9}", "tab\tkey"])
    func otherKeysAreRefused(_ key: String) throws {
        #expect(throws: APIError.self) {
            try OrderRoutes.idempotencyKey(Fixture.postOrders(header: "Idempotency-Key", key))
        }
    }
}
