public import Contracts
import Foundation

/// Checks the guarantees of docs/architecture.md ("Guarantees") over every event of the streams and
/// the services' final states, and names every violation. Used by the end-to-end tests (and by
/// `troupe check`).
public struct SagaCheck: Sendable {
    /// An order's final state, as the order API reports it.
    public struct OrderOutcome: Sendable {
        public var orderId: String
        public var status: String
        public init(orderId: String, status: String) {
            self.orderId = orderId
            self.status = status
        }
    }

    /// Stock of one SKU: before the run (when known), and now.
    public struct Stock: Sendable {
        public var sku: String
        /// nil when unknown (a live suite whose stock was set by hand): `onHand` is then not checked.
        public var initialOnHand: Int64?
        public var onHand: Int64
        public var reserved: Int64
        public init(sku: String, initialOnHand: Int64?, onHand: Int64, reserved: Int64) {
            self.sku = sku
            self.initialOnHand = initialOnHand
            self.onHand = onHand
            self.reserved = reserved
        }
    }

    /// An account now.
    public struct Account: Sendable {
        public var customerId: String
        public var authorized: Int64
        public var captured: Int64
        public init(customerId: String, authorized: Int64, captured: Int64) {
            self.customerId = customerId
            self.authorized = authorized
            self.captured = captured
        }
    }

    public var events: [AnyEvent]
    /// Raw messages that did not decode (on the event streams): each is a violation of guarantee 7.
    public var undecodable: [String]
    public var orders: [OrderOutcome]
    public var stock: [Stock]
    public var accounts: [Account]

    public init(events: [AnyEvent], undecodable: [String], orders: [OrderOutcome], stock: [Stock], accounts: [Account])
    {
        self.events = events
        self.undecodable = undecodable
        self.orders = orders
        self.stock = stock
        self.accounts = accounts
    }

    /// Every violation found; empty when all guarantees hold.
    public func violations() -> [String] {
        var found = undecodable.map { "guarantee 7: undecodable event: \($0)" }
        var ids = Set<String>()
        for event in events where !ids.insert(event.id).inserted {
            found.append("guarantee 6: event id \(event.id) appears twice")
        }
        let byOrder = Dictionary(grouping: events, by: \.orderId)
        for order in orders {
            let history = byOrder[order.orderId] ?? []
            var count: [String: Int] = [:]
            for event in history { count[String(event.type.dropFirst("troupe.".count).dropLast(3)), default: 0] += 1 }
            let notifications = history.compactMap(Self.template)
            func exactly(_ type: String, _ n: Int) {
                if count[type, default: 0] != n {
                    found.append(
                        "\(order.orderId) (\(order.status)): \(count[type, default: 0]) \(type), expected \(n)")
                }
            }
            func notified(_ template: String, _ n: Int) {
                let seen = notifications.filter { $0 == template }.count
                if seen != n { found.append("\(order.orderId): \(seen) \(template) notifications, expected \(n)") }
            }
            switch order.status {
            case "SHIPPED":
                for type in [
                    "inventory.reserved", "payment.authorized", "shipping.scheduled", "order.confirmed",
                    "shipping.dispatched", "order.shipped", "inventory.committed", "payment.captured",
                ] { exactly(type, 1) }
                for type in ["inventory.released", "payment.voided", "order.cancelled"] { exactly(type, 0) }
                notified("order_confirmed", 1)
                notified("order_shipped", 1)
            case "CANCELLED":
                exactly("order.cancelled", 1)
                exactly("inventory.released", min(1, count["inventory.reserved", default: 0]))
                exactly("payment.voided", min(1, count["payment.authorized", default: 0]))
                for type in ["shipping.dispatched", "payment.captured", "inventory.committed"] { exactly(type, 0) }
                notified("order_cancelled", 1)
            default:
                found.append("guarantee 1: \(order.orderId) is \(order.status), not SHIPPED or CANCELLED")
            }
            for (type, n) in count where n > 1 && !type.hasPrefix("notification.") {
                found.append("guarantee 6: \(order.orderId) has \(n) \(type)")
            }
        }
        // The causation chain: every cause is an event of the same order.
        for event in events {
            let startsSaga = event.type == OrderPlaced.type || event.type == OrderCancellationRequested.type
            guard let cause = event.causationid else {
                if !startsSaga { found.append("guarantee 7: \(event.type) \(event.id) has no causationid") }
                continue
            }
            if startsSaga { found.append("guarantee 7: \(event.type) \(event.id) names a cause") }
            if !(byOrder[event.orderId] ?? []).contains(where: { $0.id == cause }) {
                found.append("guarantee 7: \(event.type) \(event.id) names unknown cause \(cause)")
            }
        }
        // Conservation is computed over distinct events (a copy is guarantee 6's business, above).
        var seen = Set<String>()
        let distinct = events.filter { seen.insert($0.id).inserted }
        var committed: [String: Int64] = [:]
        for case .inventoryCommitted(let e) in distinct {
            for line in e.data.lines { committed[line.sku, default: 0] += Int64(line.quantity) }
        }
        for item in stock {
            if let initial = item.initialOnHand, item.onHand != initial - committed[item.sku, default: 0] {
                found.append(
                    "guarantee 4: \(item.sku) onHand \(item.onHand) ≠ \(initial) − \(committed[item.sku, default: 0]) committed"
                )
            }
            if item.reserved != 0 { found.append("guarantee 4: \(item.sku) still has \(item.reserved) reserved") }
        }
        var capturedByCustomer: [String: Int64] = [:]
        var customerOfPayment: [String: String] = [:]
        for case .paymentAuthorized(let e) in distinct { customerOfPayment[e.data.paymentId] = e.data.customerId }
        for case .paymentCaptured(let e) in distinct {
            capturedByCustomer[customerOfPayment[e.data.paymentId] ?? "?", default: 0] += e.data.amount
        }
        for account in accounts {
            if account.captured != capturedByCustomer[account.customerId, default: 0] {
                found.append(
                    "guarantee 5: \(account.customerId) captured \(account.captured) ≠ \(capturedByCustomer[account.customerId, default: 0]) in events"
                )
            }
            if account.authorized != 0 {
                found.append("guarantee 5: \(account.customerId) still has \(account.authorized) authorized")
            }
        }
        return found
    }

    static func template(_ event: AnyEvent) -> String? {
        switch event {
        case .notificationSent(let e): e.data.template.rawValue
        case .notificationFailed(let e): e.data.template.rawValue
        default: nil
        }
    }
}
