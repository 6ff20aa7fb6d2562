import Contracts
import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceTestSupport
import TestSupport
import Testing

@testable import InventoryService

/// Issue 4.5: several messages in flight inside one service never break per-order correctness.
/// Real handlers and a real store; the events of 80 orders arrive concurrently, duplicated, and with
/// cancellations overtaking their placements — to one instance on SQLite, and to two instances
/// sharing a PostgreSQL database (a real server), the two copies of an event to different ones.
@Suite("Inventory under concurrent, duplicated, reordered delivery", .serialized, .timeLimit(.minutes(2)))
struct InventoryConcurrencyTests {
    @Test func eachOrderIsDecidedOnceAndStockIsConserved() async throws {
        let bench = try await HandlerBench(InventoryApp.descriptor, migrations: InventoryStore.migrations)
        try await eachOrderIsDecidedOnceAndStockIsConserved(on: [bench])
        await bench.close()
    }

    @Test func twoInstancesOnOneDatabaseNeverOversellNorApplyAnEventTwice() async throws {
        try await withPostgresServer { server in
            let url = try await Blocking.run { try server.createDatabase("inventory") }
            var benches: [HandlerBench] = []
            for _ in 0..<2 {
                benches.append(
                    try await HandlerBench(
                        InventoryApp.descriptor, migrations: InventoryStore.migrations,
                        postgresMigrations: InventoryStore.postgresMigrations,
                        environment: ["TROUPE_DATABASE_URL": url]))
            }
            try await eachOrderIsDecidedOnceAndStockIsConserved(on: benches)
            for bench in benches { await bench.close() }
        }
    }

    /// Each event is delivered twice; with several instances, the copies go to different ones.
    func eachOrderIsDecidedOnceAndStockIsConserved(on benches: [HandlerBench]) async throws {
        let bench = benches[0]
        let service = bench.context
        let onHand: Int64 = 50
        try await service.write { db in
            try InventoryStore.save(
                Product(sku: "SKU-MUG", name: "Mug", unitPrice: 1250, currency: "USD", onHand: onHand, reserved: 0),
                in: db)
        }
        let instances = benches.map { InventoryHandlers(service: $0.context) }

        // 80 orders of 1 mug (more than the stock); every placement delivered twice; a third of
        // the orders cancelled, the cancellation delivered twice and racing its placement.
        var deliveries: [(AnyEvent, String)] = []
        var cancelledOrders: Set<String> = []
        for index in 0..<80 {
            let id = HandlerBench.orderId(index)
            let placed = CloudEvent(
                data: OrderPlaced(
                    orderId: id, customerId: "cus_42", lines: [Line(sku: "SKU-MUG", quantity: 1)],
                    shippingAddress: ShippingAddress(
                        name: "Ada", line1: "1 Sq", city: "London", postalCode: "SW1", country: "GB"),
                    placedAt: Timestamp.string(Date())),
                causationid: nil, traceparent: nil)
            deliveries += [(AnyEvent(placed), "inventory-orders"), (AnyEvent(placed), "inventory-orders#2")]
            if index % 3 == 0 {
                cancelledOrders.insert(id)
                let cancelled = CloudEvent(
                    data: OrderCancelled(orderId: id, customerId: "cus_42", reason: .customerRequest), causedBy: placed)
                deliveries += [
                    (AnyEvent(cancelled), "inventory-orders"), (AnyEvent(cancelled), "inventory-orders#2"),
                ]
            }
        }
        deliveries.shuffle()
        // Eight in flight at a time, like a consumer with that concurrency.
        // (The second copy of each event goes to the second instance, if there is one.)
        try await HandlerBench.deliver(deliveries, inFlight: 8) { event, consumer in
            let copy = consumer.hasSuffix("#2") ? 1 : 0
            return try await instances[copy % instances.count].handle(event, consumer: "inventory-orders")
        }

        let byOrder = try await bench.outgoingByOrder()
        let product = try await service.read { db in try InventoryStore.product("SKU-MUG", in: db) }
        var held: Int64 = 0
        for index in 0..<80 {
            let id = HandlerBench.orderId(index)
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
    }
}
