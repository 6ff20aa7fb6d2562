import Contracts
import Foundation
import SagaCheck
import Testing

/// The checker itself finds violations: the end-to-end tests' checks are not vacuous.
@Suite("SagaCheck names every violation")
struct SagaCheckTests {
    static let orderId = "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F"

    func placed() -> CloudEvent<OrderPlaced> {
        CloudEvent(
            data: OrderPlaced(
                orderId: Self.orderId, customerId: "cus_42", lines: [Line(sku: "SKU-MUG", quantity: 2)],
                shippingAddress: ShippingAddress(name: "A", line1: "1", city: "C", postalCode: "P", country: "GB"),
                placedAt: Timestamp.string(Date())),
            causationid: nil, traceparent: nil)
    }

    @Test func aCancelledOrderWithoutCompensationAndADuplicateAreCaught() {
        let placed = placed()
        let reserved = CloudEvent(
            data: InventoryReserved(
                orderId: Self.orderId, customerId: "cus_42",
                pricedLines: [PricedLine(sku: "SKU-MUG", quantity: 2, unitPrice: 100)], total: 200, currency: "USD"),
            causedBy: placed)
        let cancelled = CloudEvent(
            data: OrderCancelled(orderId: Self.orderId, customerId: "cus_42", reason: .paymentDeclined),
            causedBy: reserved)
        let events = [AnyEvent(placed), AnyEvent(reserved), AnyEvent(cancelled), AnyEvent(cancelled)]
        let check = SagaCheck(
            events: events, undecodable: ["orders.placed.x: not_json"],
            orders: [
                .init(orderId: Self.orderId, status: "CANCELLED"), .init(orderId: "ord_other", status: "PENDING"),
            ],
            stock: [.init(sku: "SKU-MUG", initialOnHand: 10, onHand: 10, reserved: 2)],
            accounts: [.init(customerId: "cus_42", authorized: 200, captured: 0)])
        let found = check.violations()
        #expect(found.contains { $0.hasPrefix("guarantee 7: undecodable") })
        #expect(found.contains { $0.contains("appears twice") })
        #expect(found.contains { $0.contains("2 order.cancelled, expected 1") })
        #expect(found.contains { $0.contains("0 inventory.released, expected 1") })
        #expect(found.contains { $0.contains("0 order_cancelled notifications") })
        #expect(found.contains { $0.contains("ord_other is PENDING") })
        #expect(found.contains { $0.contains("SKU-MUG still has 2 reserved") })
        #expect(found.contains { $0.contains("cus_42 still has 200 authorized") })
    }

    /// A complete shipped saga, every event by name, in order.
    func shippedSaga() -> [(String, AnyEvent)] {
        let placed = placed()
        let reserved = CloudEvent(
            data: InventoryReserved(
                orderId: Self.orderId, customerId: "cus_42",
                pricedLines: [PricedLine(sku: "SKU-MUG", quantity: 2, unitPrice: 100)], total: 200, currency: "USD"),
            causedBy: placed)
        let authorized = CloudEvent(
            data: PaymentAuthorized(
                orderId: Self.orderId, customerId: "cus_42", paymentId: "pay_01JD8Z70MN1P2Q3R4S5T6V7W8X", amount: 200,
                currency: "USD"),
            causedBy: reserved)
        let scheduled = CloudEvent(
            data: ShippingScheduled(
                orderId: Self.orderId, shipmentId: "shp_01JD8Z7A2B3C4D5E6F7G8H9J0K", carrier: "X",
                estimatedDelivery: "2026-11-25"),
            causedBy: authorized)
        let confirmed = CloudEvent(
            data: OrderConfirmed(
                orderId: Self.orderId, customerId: "cus_42", shipmentId: scheduled.data.shipmentId, total: 200,
                currency: "USD"),
            causedBy: scheduled)
        let dispatched = CloudEvent(
            data: ShippingDispatched(
                orderId: Self.orderId, shipmentId: scheduled.data.shipmentId, trackingNumber: "T1",
                dispatchedAt: Timestamp.string(Date())),
            causedBy: scheduled)
        let shipped = CloudEvent(
            data: OrderShipped(
                orderId: Self.orderId, customerId: "cus_42", shipmentId: scheduled.data.shipmentId, trackingNumber: "T1"
            ),
            causedBy: dispatched)
        let committed = CloudEvent(
            data: InventoryCommitted(orderId: Self.orderId, lines: [Line(sku: "SKU-MUG", quantity: 2)]),
            causedBy: dispatched)
        let captured = CloudEvent(
            data: PaymentCaptured(
                orderId: Self.orderId, paymentId: authorized.data.paymentId, amount: 200, currency: "USD"),
            causedBy: dispatched)
        return [
            ("placed", AnyEvent(placed)), ("reserved", AnyEvent(reserved)), ("authorized", AnyEvent(authorized)),
            ("scheduled", AnyEvent(scheduled)), ("confirmed", AnyEvent(confirmed)),
            ("dispatched", AnyEvent(dispatched)), ("shipped", AnyEvent(shipped)), ("committed", AnyEvent(committed)),
            ("captured", AnyEvent(captured)), ("sent-confirmed", sent(.orderConfirmed, confirmed)),
            ("sent-shipped", sent(.orderShipped, shipped)),
        ]
    }

    func sent<C>(_ template: NotificationTemplate, _ cause: CloudEvent<C>) -> AnyEvent {
        AnyEvent(
            CloudEvent(
                data: NotificationSent(
                    orderId: Self.orderId, notificationId: "ntf_01JD8Z7Q1R2S3T4V5W6X7Y8Z9A", customerId: "cus_42",
                    template: template, channels: ["log"], sentAt: Timestamp.string(Date())),
                causedBy: cause))
    }

    /// The check of the shipped saga with `events`, and the stock and account it leaves.
    func check(
        _ events: [AnyEvent], status: String = "SHIPPED", onHand: Int64 = 8, captured: Int64 = 200
    ) -> [String] {
        SagaCheck(
            events: events, undecodable: [], orders: [.init(orderId: Self.orderId, status: status)],
            stock: [.init(sku: "SKU-MUG", initialOnHand: 10, onHand: onHand, reserved: 0)],
            accounts: [.init(customerId: "cus_42", authorized: 0, captured: captured)]
        ).violations()
    }

    @Test func aCompleteShippedSagaHasNoViolations() {
        #expect(check(shippedSaga().map(\.1)) == [])
    }

    /// Each check fires on its own violation, from the complete saga with one thing wrong.
    @Test func everyCheckFiresOnTheViolationItIsFor() throws {
        let saga = shippedSaga()
        let events = saga.map(\.1)
        func without(_ name: String) -> [AnyEvent] { saga.filter { $0.0 != name }.map(\.1) }
        func event(_ name: String) throws -> AnyEvent { try #require(saga.first { $0.0 == name }?.1) }
        func expectFound(_ found: [String], _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(found.contains { $0.contains(text) }, "\(found)", sourceLocation: sourceLocation)
        }

        // A SHIPPED order missing each of its events, or a notification.
        for name in ["reserved", "authorized", "scheduled", "confirmed", "dispatched", "shipped", "committed"] {
            let type = try event(name).type.dropFirst("troupe.".count).dropLast(3)
            expectFound(check(without(name), onHand: name == "committed" ? 10 : 8), "0 \(type), expected 1")
        }
        expectFound(check(without("captured"), captured: 0), "0 payment.captured, expected 1")
        expectFound(check(without("sent-shipped")), "0 order_shipped notifications, expected 1")

        // A SHIPPED order with a compensation.
        guard case .paymentAuthorized(let authorized) = try event("authorized") else {
            Issue.record("the saga's authorization is not one")
            return
        }
        let voided = AnyEvent(
            CloudEvent(
                data: PaymentVoided(
                    orderId: Self.orderId, paymentId: authorized.data.paymentId, amount: 200, currency: "USD"),
                causedBy: authorized))
        expectFound(check(events + [voided]), "1 payment.voided, expected 0")

        // A CANCELLED order that was captured (and shipped).
        let cancelled = AnyEvent(
            CloudEvent(
                data: OrderCancelled(orderId: Self.orderId, customerId: "cus_42", reason: .customerRequest),
                causedBy: authorized))
        let cancelledFound = check(events + [cancelled, voided], status: "CANCELLED")
        expectFound(cancelledFound, "1 payment.captured, expected 0")
        expectFound(cancelledFound, "1 shipping.dispatched, expected 0")
        expectFound(cancelledFound, "0 order_cancelled notifications, expected 1")

        // Two distinct events of a kind that occurs once.
        guard case .paymentCaptured(let capture) = try event("captured"),
            case .shippingDispatched(let dispatch) = try event("dispatched")
        else {
            Issue.record("the saga's capture or dispatch is not one")
            return
        }
        let again = AnyEvent(CloudEvent(data: capture.data, causedBy: dispatch))
        let doubled = check(events + [again], captured: 400)
        expectFound(doubled, "has 2 payment.captured")

        // The causation chain: a missing cause, a saga start naming one, a cause that is not the order's.
        guard case .paymentCaptured(var orphan) = try event("captured"),
            case .orderPlaced(var start) = try event("placed")
        else {
            Issue.record("the saga's capture or placement is not one")
            return
        }
        orphan.causationid = nil
        expectFound(check(without("captured") + [AnyEvent(orphan)]), "has no causationid")
        start.causationid = authorized.id
        expectFound(check(without("placed") + [AnyEvent(start)]), "names a cause")
        orphan.causationid = "0193b7a2-0000-7000-8000-000000000000"
        expectFound(check(without("captured") + [AnyEvent(orphan)]), "names unknown cause")

        // Money and stock: the account says another capture, the stock another commitment.
        expectFound(check(events, captured: 300), "guarantee 5: cus_42 captured 300 ≠ 200")
        expectFound(check(events, onHand: 9), "guarantee 4: SKU-MUG onHand 9 ≠ 10 − 2")
    }

}
