public import Contracts
import Foundation
import HTTPTypes
public import Hummingbird

/// Events for decision tests: one order, with causes chained as the saga chains them.
public enum Fixture {
    public static let orderId = "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F"
    public static let shipmentId = "shp_01JD8Z7A2B3C4D5E6F7G8H9J0K"
    public static let paymentId = "pay_01JD8Z70MN1P2Q3R4S5T6V7W8X"

    public static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    public static func placed(
        _ lines: [Line] = [Line(sku: "SKU-MUG", quantity: 2)], country: String = "GB",
        traceparent: String? = Fixture.traceparent
    ) -> CloudEvent<OrderPlaced> {
        CloudEvent(
            data: OrderPlaced(
                orderId: orderId, customerId: "cus_42", lines: lines,
                shippingAddress: ShippingAddress(
                    name: "Ada", line1: "1 Sq", city: "London", postalCode: "SW1", country: country),
                placedAt: Timestamp.string(Date())),
            causationid: nil, traceparent: traceparent)
    }

    /// A `POST /orders` request with one header, for the order service's request parsing.
    public static func postOrders(header name: String, _ value: String) -> Request {
        var fields = HTTPFields()
        fields[HTTPField.Name(name)!] = value
        return Request(
            head: HTTPRequest(
                method: .post, scheme: "http", authority: "127.0.0.1", path: "/orders", headerFields: fields),
            body: RequestBody(buffer: ByteBuffer()))
    }

    public static func reserved(total: Int64 = 2500) -> CloudEvent<InventoryReserved> {
        CloudEvent(
            data: InventoryReserved(
                orderId: orderId, customerId: "cus_42",
                pricedLines: [PricedLine(sku: "SKU-MUG", quantity: 2, unitPrice: total / 2)], total: total,
                currency: "USD"),
            causedBy: placed())
    }

    public static func authorized() -> CloudEvent<PaymentAuthorized> {
        CloudEvent(
            data: PaymentAuthorized(
                orderId: orderId, customerId: "cus_42", paymentId: paymentId, amount: 2500, currency: "USD"),
            causedBy: reserved())
    }

    public static func scheduled() -> CloudEvent<ShippingScheduled> {
        CloudEvent(
            data: ShippingScheduled(
                orderId: orderId, shipmentId: shipmentId, carrier: "Royal Mail", estimatedDelivery: "2026-11-25"),
            causedBy: authorized())
    }

    public static func dispatched() -> CloudEvent<ShippingDispatched> {
        CloudEvent(
            data: ShippingDispatched(
                orderId: orderId, shipmentId: shipmentId, trackingNumber: "TRK1", dispatchedAt: Timestamp.string(Date())
            ),
            causedBy: scheduled())
    }

    public static func cancelled(_ reason: CancellationReason = .customerRequest) -> CloudEvent<OrderCancelled> {
        CloudEvent(data: OrderCancelled(orderId: orderId, customerId: "cus_42", reason: reason), causedBy: placed())
    }

    public static func cancellationRequested() -> CloudEvent<OrderCancellationRequested> {
        CloudEvent(
            data: OrderCancellationRequested(orderId: orderId, requestedAt: Timestamp.string(Date())), causationid: nil,
            traceparent: nil)
    }
}
