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

    @Test func aCompleteShippedSagaHasNoViolations() {
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
        func sent<C>(_ template: NotificationTemplate, _ cause: CloudEvent<C>) -> AnyEvent {
            AnyEvent(
                CloudEvent(
                    data: NotificationSent(
                        orderId: Self.orderId, notificationId: "ntf_01JD8Z7Q1R2S3T4V5W6X7Y8Z9A", customerId: "cus_42",
                        template: template, channels: ["log"], sentAt: Timestamp.string(Date())),
                    causedBy: cause))
        }
        let events: [AnyEvent] = [
            AnyEvent(placed), AnyEvent(reserved), AnyEvent(authorized), AnyEvent(scheduled), AnyEvent(confirmed),
            AnyEvent(dispatched), AnyEvent(shipped), AnyEvent(committed), AnyEvent(captured),
            sent(.orderConfirmed, confirmed), sent(.orderShipped, shipped),
        ]
        let check = SagaCheck(
            events: events, undecodable: [], orders: [.init(orderId: Self.orderId, status: "SHIPPED")],
            stock: [.init(sku: "SKU-MUG", initialOnHand: 10, onHand: 8, reserved: 0)],
            accounts: [.init(customerId: "cus_42", authorized: 0, captured: 200)])
        #expect(check.violations() == [])
    }
}
