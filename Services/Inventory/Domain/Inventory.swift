import Contracts

/// A product of the catalogue, with its stock.
struct Product: Codable, Sendable, Hashable {
    var sku: String
    var name: String
    var unitPrice: Int64
    var currency: String
    var onHand: Int64
    var reserved: Int64

    var available: Int64 { onHand - reserved }
}

/// What inventory holds for one order.
struct Reservation: Codable, Sendable, Hashable {
    enum Status: String, Codable, Sendable { case reserved, released, committed, rejected }
    var orderId: String
    var lines: [Line]
    var status: Status
}

/// Inventory's view of one order and the products it names: all a decision needs.
struct InventoryState: Sendable, Hashable {
    var products: [String: Product]
    var reservation: Reservation?
    /// The order was cancelled: nothing may be acquired for it any more.
    var cancelled: Bool
}

/// Inventory's rules, as pure decisions: `(state, event) -> (state, events)`.
enum InventoryDecisions {
    struct Decision: Sendable {
        var state: InventoryState
        var events: [AnyEvent]
    }

    /// `lines` with each SKU once, its quantities summed, in the order each SKU first appears.
    static func merged(_ lines: [Line]) -> [Line] {
        var merged: [Line] = []
        var position: [String: Int] = [:]
        for line in lines {
            if let index = position[line.sku] {
                merged[index].quantity += line.quantity
            } else {
                position[line.sku] = merged.count
                merged.append(line)
            }
        }
        return merged
    }

    /// `orders.placed`: reserve every line or none; `unknown_sku` wins over `out_of_stock`.
    static func placed(_ state: InventoryState, _ event: CloudEvent<OrderPlaced>) -> Decision {
        guard !state.cancelled, state.reservation == nil else { return Decision(state: state, events: []) }
        var order = event.data
        // The same SKU on two lines is one line of their sum: checked, reserved and priced once
        // (the API refuses such orders, but an event is checked against the stock as a whole).
        order.lines = Self.merged(order.lines)
        var next = state
        let unknown = order.lines.filter { state.products[$0.sku] == nil }
        if !unknown.isEmpty {
            next.reservation = Reservation(orderId: order.orderId, lines: order.lines, status: .rejected)
            let rejected = InventoryRejected(
                orderId: order.orderId, reason: .unknownSku,
                lines: unknown.map { RejectedLine(sku: $0.sku, requested: $0.quantity, available: 0) })
            return Decision(state: next, events: [AnyEvent(CloudEvent(data: rejected, causedBy: event))])
        }
        let short = order.lines.filter { state.products[$0.sku]!.available < Int64($0.quantity) }
        if !short.isEmpty {
            next.reservation = Reservation(orderId: order.orderId, lines: order.lines, status: .rejected)
            let rejected = InventoryRejected(
                orderId: order.orderId, reason: .outOfStock,
                lines: short.map {
                    RejectedLine(
                        sku: $0.sku, requested: $0.quantity, available: max(0, state.products[$0.sku]!.available))
                })
            return Decision(state: next, events: [AnyEvent(CloudEvent(data: rejected, causedBy: event))])
        }
        var priced: [PricedLine] = []
        for line in order.lines {
            next.products[line.sku]!.reserved += Int64(line.quantity)
            priced.append(
                PricedLine(sku: line.sku, quantity: line.quantity, unitPrice: state.products[line.sku]!.unitPrice))
        }
        next.reservation = Reservation(orderId: order.orderId, lines: order.lines, status: .reserved)
        let total = priced.reduce(Int64(0)) { $0 + Int64($1.quantity) * $1.unitPrice }
        let currency = state.products[order.lines[0].sku]!.currency
        let reserved = InventoryReserved(
            orderId: order.orderId, customerId: order.customerId, pricedLines: priced, total: total, currency: currency)
        return Decision(state: next, events: [AnyEvent(CloudEvent(data: reserved, causedBy: event))])
    }

    /// `orders.cancelled`: remember it; release what was reserved.
    static func cancelled(_ state: InventoryState, _ event: CloudEvent<OrderCancelled>) -> Decision {
        var next = state
        next.cancelled = true
        guard var reservation = state.reservation, reservation.status == .reserved else {
            return Decision(state: next, events: [])
        }
        for line in reservation.lines { next.products[line.sku]?.reserved -= Int64(line.quantity) }
        reservation.status = .released
        next.reservation = reservation
        let released = InventoryReleased(orderId: reservation.orderId, lines: reservation.lines)
        return Decision(state: next, events: [AnyEvent(CloudEvent(data: released, causedBy: event))])
    }

    enum DispatchOutcome: Sendable {
        case decided(Decision)
        /// No reservation yet: `orders.placed` has not arrived.
        case notYet
    }

    /// `shipping.dispatched`: the reserved stock leaves with the parcel.
    static func dispatched(_ state: InventoryState, _ event: CloudEvent<ShippingDispatched>) -> DispatchOutcome {
        guard var reservation = state.reservation else { return .notYet }
        guard reservation.status == .reserved else { return .decided(Decision(state: state, events: [])) }
        var next = state
        for line in reservation.lines {
            next.products[line.sku]?.reserved -= Int64(line.quantity)
            next.products[line.sku]?.onHand -= Int64(line.quantity)
        }
        reservation.status = .committed
        next.reservation = reservation
        let committed = InventoryCommitted(orderId: reservation.orderId, lines: reservation.lines)
        return .decided(Decision(state: next, events: [AnyEvent(CloudEvent(data: committed, causedBy: event))]))
    }
}
