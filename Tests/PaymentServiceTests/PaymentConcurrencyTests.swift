import Contracts
import Foundation
import GRDB
import ServiceKit
import ServiceTestSupport
import TestSupport
import Testing

@testable import PaymentService

/// Issue 4.5 for payment: one account's credit is shared by many orders whose events are handled
/// eight at a time, twice each, with cancellations racing the authorizations. Money is never
/// authorized twice, never over the limit, and every hold is voided or captured exactly once —
/// with one instance on SQLite, and with two instances sharing a PostgreSQL database (a real
/// server), each copy of an event going to another instance at the same time.
@Suite("Payment under concurrent, duplicated, reordered delivery", .serialized, .timeLimit(.minutes(2)))
struct PaymentConcurrencyTests {
    @Test func oneAccountsCreditIsNeverOverspentAndEveryHoldEndsOnce() async throws {
        let bench = try await HandlerBench(PaymentApp.descriptor, migrations: PaymentStore.migrations)
        try await oneAccountsCreditIsNeverOverspentAndEveryHoldEndsOnce(on: [bench])
        await bench.close()
    }

    @Test func twoInstancesOnOneDatabaseNeverOverspendNorApplyAnEventTwice() async throws {
        try await withPostgresServer { server in
            let url = try await Blocking.run { try server.createDatabase("payments") }
            var benches: [HandlerBench] = []
            for _ in 0..<2 {
                benches.append(
                    try await HandlerBench(
                        PaymentApp.descriptor, migrations: PaymentStore.migrations,
                        postgresMigrations: PaymentStore.postgresMigrations,
                        environment: ["TROUPE_DATABASE_URL": url]))
            }
            try await oneAccountsCreditIsNeverOverspentAndEveryHoldEndsOnce(on: benches)
            for bench in benches { await bench.close() }
        }
    }

    /// Each event is delivered twice; with several instances, the copies go to different ones.
    func oneAccountsCreditIsNeverOverspentAndEveryHoldEndsOnce(on benches: [HandlerBench]) async throws {
        let bench = benches[0]
        let service = bench.context
        let price: Int64 = 2500
        let limit = 30 * price  // half of the 60 orders fit
        try await service.write { db in
            try PaymentStore.save(
                Account(customerId: "cus_42", currency: "USD", creditLimit: limit, authorized: 0, captured: 0), in: db)
        }
        let instances = benches.map { PaymentHandlers(service: $0.context) }
        // The n-th copy of a delivery goes to instance n (modulo their number).
        let handle: @Sendable ((AnyEvent, String)) async throws -> HandlerOutcome = { delivery in
            let (event, consumer) = delivery
            let copy = consumer.hasSuffix("#2") ? 1 : 0
            return try await instances[copy % instances.count].handle(
                event, consumer: String(consumer.split(separator: "#")[0]))
        }

        var reservations: [String: CloudEvent<InventoryReserved>] = [:]
        var deliveries: [(AnyEvent, String)] = []
        var cancelledOrders: Set<String> = []
        for index in 0..<60 {
            let id = HandlerBench.orderId(index)
            let reserved = CloudEvent(
                data: InventoryReserved(
                    orderId: id, customerId: "cus_42",
                    pricedLines: [PricedLine(sku: "SKU-MUG", quantity: 2, unitPrice: 1250)],
                    total: price, currency: "USD"),
                causationid: nil, traceparent: nil)
            reservations[id] = reserved
            deliveries += [(AnyEvent(reserved), "payment-inventory#1"), (AnyEvent(reserved), "payment-inventory#2")]
            if index % 3 == 0 {
                cancelledOrders.insert(id)
                let cancelled = CloudEvent(
                    data: OrderCancelled(orderId: id, customerId: "cus_42", reason: .customerRequest),
                    causationid: nil, traceparent: nil)
                deliveries += [(AnyEvent(cancelled), "payment-orders#1"), (AnyEvent(cancelled), "payment-orders#2")]
            }
        }
        try await HandlerBench.deliver(deliveries.shuffled(), inFlight: 8, handle: handle)

        // Then shipping dispatches every order still authorized, and each dispatch comes twice.
        let orders = Array(reservations.keys)
        let held = try await service.read { db in
            try orders.filter { try PaymentStore.payment($0, in: db)?.status == .AUTHORIZED }
        }
        var dispatches: [(AnyEvent, String)] = []
        for id in held {
            let dispatched = CloudEvent(
                data: ShippingDispatched(
                    orderId: id, shipmentId: "shp_01JD8Z7A2B3C4D5E6F7G8H9J0K", trackingNumber: "TRK1",
                    dispatchedAt: Timestamp.string(Date())),
                causationid: nil, traceparent: nil)
            dispatches += [(AnyEvent(dispatched), "payment-shipping#1"), (AnyEvent(dispatched), "payment-shipping#2")]
        }
        try await HandlerBench.deliver(dispatches.shuffled(), inFlight: 8, handle: handle)

        let byOrder = try await bench.outgoingByOrder()
        var capturedOrders = 0
        for id in reservations.keys {
            let events = byOrder[id] ?? []
            #expect(Set(events).count == events.count, "\(id) has an event twice: \(events)")
            let authorized = events.contains("payments.authorized")
            let declined = events.contains("payments.declined")
            let voided = events.contains("payments.voided")
            let captured = events.contains("payments.captured")
            #expect(!(authorized && declined), "\(id): \(events)")
            if cancelledOrders.contains(id) {
                // Authorized before its cancellation arrived: voided once; else a tombstone.
                #expect(authorized == voided, "\(id): \(events)")
                #expect(!captured)
            } else {
                #expect(authorized != declined, "\(id) decided exactly once: \(events)")
                #expect(captured == authorized && !voided, "\(id): \(events)")
            }
            if captured { capturedOrders += 1 }
        }
        let account = try #require(
            try await service.read { db in try PaymentStore.account("cus_42", in: db) })
        #expect(account.authorized == 0, "every hold was voided or captured")
        #expect(account.captured == Int64(capturedOrders) * price)
        #expect(account.captured <= limit)
        #expect(capturedOrders > 0)
    }
}
