/// `troupe.order.cancelled.v1` on `orders.cancelled.<orderId>`: The order is cancelled: the one trigger of all compensation.
public struct OrderCancelled: EventPayload {
    public static let type = "troupe.order.cancelled.v1"
    public static let subjectPrefix = "orders.cancelled"
    public static let producer = Producer.order

    public var orderId: String
    public var customerId: String
    public var reason: CancellationReason
    public var detail: String?

    public init(orderId: String, customerId: String, reason: CancellationReason, detail: String? = nil) {
        self.orderId = orderId
        self.customerId = customerId
        self.reason = reason
        self.detail = detail
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        if let detail { try Rule.text(detail, "detail", max: 500) }
    }
}
