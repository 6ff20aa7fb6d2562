import Contracts

/// An order as its events make it: the fold of its history (event sourcing).
struct OrderState: Codable, Sendable, Hashable {
    enum Status: String, Codable, Sendable { case PENDING, CONFIRMED, SHIPPED, CANCELLED }

    var orderId: String
    var customerId: String
    var status: Status
    var cancellationReason: CancellationReason?
    var lines: [Line]
    /// Prices per SKU, once inventory has priced the order.
    var unitPrices: [String: Int64]?
    var total: Int64?
    var currency: String?
    var shipmentId: String?
    var trackingNumber: String?
    var paymentId: String?
    var cancellationRequestedAt: String?
    var createdAt: String
    var updatedAt: String
    /// How many events the history holds.
    var version: Int

    var isFinal: Bool { status == .SHIPPED || status == .CANCELLED }

    /// Folds one event into the state. Pure; the one definition of what each event means to an order.
    static func evolve(_ state: OrderState?, _ event: AnyEvent) -> OrderState? {
        if case .orderPlaced(let placed) = event {
            return OrderState(
                orderId: placed.data.orderId, customerId: placed.data.customerId, status: .PENDING,
                cancellationReason: nil, lines: placed.data.lines, unitPrices: nil, total: nil, currency: nil,
                shipmentId: nil, trackingNumber: nil, paymentId: nil, cancellationRequestedAt: nil,
                createdAt: placed.time,
                updatedAt: placed.time, version: 1)
        }
        guard var next = state else { return nil }
        next.version += 1
        next.updatedAt = event.time
        switch event {
        case .inventoryReserved(let e):
            next.unitPrices = Dictionary(
                e.data.pricedLines.map { ($0.sku, $0.unitPrice) }, uniquingKeysWith: { a, _ in a })
            next.total = e.data.total
            next.currency = e.data.currency
        case .paymentAuthorized(let e):
            next.paymentId = e.data.paymentId
        case .shippingScheduled(let e):
            next.shipmentId = e.data.shipmentId
        case .orderConfirmed:
            next.status = .CONFIRMED
        case .shippingDispatched(let e):
            next.trackingNumber = e.data.trackingNumber
        case .orderShipped(let e):
            next.status = .SHIPPED
            next.trackingNumber = e.data.trackingNumber
        case .orderCancellationRequested(let e):
            next.cancellationRequestedAt = e.data.requestedAt
        case .orderCancelled(let e):
            next.status = .CANCELLED
            next.cancellationReason = e.data.reason
        default:
            break  // Recorded in the history; no change to the state's fields.
        }
        return next
    }

    /// The state after all of `events`, oldest first.
    static func fold(_ events: [AnyEvent]) -> OrderState? {
        events.reduce(nil) { evolve($0, $1) }
    }
}
