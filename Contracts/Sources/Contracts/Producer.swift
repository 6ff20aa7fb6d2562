/// The service that produces a kind of event; each owns one stream.
public enum Producer: String, Sendable, Hashable, CaseIterable, Codable {
    case order, inventory, payment, shipping, notification

    /// The CloudEvents `source`: `/troupe/<service>`.
    public var source: String { "/troupe/\(rawValue)" }

    /// The first token of its subjects (`orders`, `inventory`, `payments`, `shipping`, `notifications`).
    public var domain: String {
        switch self {
        case .order: "orders"
        case .inventory: "inventory"
        case .payment: "payments"
        case .shipping: "shipping"
        case .notification: "notifications"
        }
    }

    /// The stream it writes.
    public var stream: StreamDefinition {
        switch self {
        case .order: .orders
        case .inventory: .inventory
        case .payment: .payments
        case .shipping: .shipping
        case .notification: .notifications
        }
    }
}
