/// `troupe.order.cancellation_requested.v1` on `orders.cancellation_requested.<orderId>`: The customer asked to cancel; shipping decides.
public struct OrderCancellationRequested: EventPayload {
    public static let type = "troupe.order.cancellation_requested.v1"
    public static let subjectPrefix = "orders.cancellation_requested"
    public static let producer = Producer.order

    public var orderId: String
    public var requestedAt: String

    public init(orderId: String, requestedAt: String) {
        self.orderId = orderId
        self.requestedAt = requestedAt
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.timestamp(requestedAt, "requestedAt")
    }
}
