import Contracts
import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import TestSupport
import Testing

@testable import InventoryService

/// Issue 4.5: several messages in flight inside one service never break per-order correctness.
/// Real handlers and a real SQLite store; the events of 80 orders arrive concurrently, duplicated,
/// and with cancellations overtaking their placements.
@Suite("Inventory under concurrent, duplicated, reordered delivery", .timeLimit(.minutes(1)))
struct InventoryConcurrencyTests {
    static let crockford = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    static func orderId(_ index: Int) -> String {
        var suffix = ""
        var value = index
        for _ in 0..<4 {
            suffix = String(crockford[value % 32]) + suffix
            value /= 32
        }
        return "ord_01JD8Z6Q4Y3K5V7W9X1Z3B" + suffix
    }

    @Test func eachOrderIsDecidedOnceAndStockIsConserved() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("inv-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let descriptor = InventoryApp.descriptor
        let settings = try Settings(
            specs: ServiceConfiguration.specs(service: "inventory", defaultPort: 8082) + descriptor.settings,
            arguments: [],
            // No NATS is needed: the runtime connects in the background and the test never publishes.
            environment: [
                "TROUPE_DATA_DIR": directory.path, "TROUPE_NATS_URL": "nats://127.0.0.1:\(try FreePort.find())",
            ])
        let runtime = try await ServiceRuntime(
            descriptor: descriptor, settings: settings, logger: logger, migrations: InventoryStore.migrations)
        let onHand: Int64 = 50
        try await runtime.store.writer.write { db in
            try InventoryStore.save(
                Product(sku: "SKU-MUG", name: "Mug", unitPrice: 1250, currency: "USD", onHand: onHand, reserved: 0),
                in: db)
        }
        let handlers = InventoryHandlers(runtime: runtime)

        // 80 orders of 1 mug (more than the stock); every placement delivered twice; a third of
        // the orders cancelled, the cancellation delivered twice and racing its placement.
        var deliveries: [(AnyEvent, String)] = []
        var cancelledOrders: Set<String> = []
        for index in 0..<80 {
            let id = Self.orderId(index)
            let placed = CloudEvent(
                data: OrderPlaced(
                    orderId: id, customerId: "cus_42", lines: [Line(sku: "SKU-MUG", quantity: 1)],
                    shippingAddress: ShippingAddress(
                        name: "Ada", line1: "1 Sq", city: "London", postalCode: "SW1", country: "GB"),
                    placedAt: Timestamp.string(Date())),
                causationid: nil, traceparent: nil)
            deliveries += [(AnyEvent(placed), "inventory-orders"), (AnyEvent(placed), "inventory-orders")]
            if index % 3 == 0 {
                cancelledOrders.insert(id)
                let cancelled = CloudEvent(
                    data: OrderCancelled(orderId: id, customerId: "cus_42", reason: .customerRequest), causedBy: placed)
                deliveries += [(AnyEvent(cancelled), "inventory-orders"), (AnyEvent(cancelled), "inventory-orders")]
            }
        }
        deliveries.shuffle()
        let work = deliveries
        try await withThrowingTaskGroup(of: HandlerOutcome.self) { group in
            // Eight in flight at a time, like a consumer with that concurrency.
            var next = 0
            for _ in 0..<8 where next < work.count {
                let (event, consumer) = work[next]
                next += 1
                group.addTask { try await handlers.handle(event, consumer: consumer) }
            }
            while let outcome = try await group.next() {
                #expect(outcome == .done)
                if next < work.count {
                    let (event, consumer) = work[next]
                    next += 1
                    group.addTask { try await handlers.handle(event, consumer: consumer) }
                }
            }
        }

        let (subjects, product) = try await runtime.store.writer.read { db in
            (
                try String.fetchAll(db, sql: "SELECT subject FROM \(OutboxEntry.databaseTableName) ORDER BY seq"),
                try InventoryStore.product("SKU-MUG", in: db)
            )
        }
        var byOrder: [String: [String]] = [:]
        for subject in subjects {
            let parts = subject.split(separator: ".")
            byOrder[String(parts[2]), default: []].append("\(parts[0]).\(parts[1])")
        }
        var held: Int64 = 0
        for index in 0..<80 {
            let id = Self.orderId(index)
            let events = byOrder[id] ?? []
            #expect(Set(events).count == events.count, "\(id) has an event twice: \(events)")
            let reserved = events.contains("inventory.reserved")
            let rejected = events.contains("inventory.rejected")
            let released = events.contains("inventory.released")
            #expect(!(reserved && rejected), "\(id): \(events)")
            if cancelledOrders.contains(id) {
                // Reserved before the cancellation arrived: released once; else a tombstone: nothing.
                #expect(reserved == released, "\(id): \(events)")
            } else {
                #expect(reserved != rejected, "\(id) decided exactly once: \(events)")
                #expect(!released)
                if reserved { held += 1 }
            }
        }
        let mug = try #require(product)
        #expect(mug.onHand == onHand)
        #expect(mug.reserved == held, "reserved matches the reservations still held")
        #expect(held <= onHand)
        await runtime.connection.close()
    }
}
