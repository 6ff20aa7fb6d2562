/// `troupe.shipping.failed.v1` on `shipping.failed.<orderId>`: No shipment could be scheduled.
public struct ShippingFailed: EventPayload {
    public static let type = "troupe.shipping.failed.v1"
    public static let subjectPrefix = "shipping.failed"
    public static let producer = Producer.shipping

    public var orderId: String
    public var reason: ShippingFailureReason
    public var detail: String?

    public init(orderId: String, reason: ShippingFailureReason, detail: String? = nil) {
        self.orderId = orderId
        self.reason = reason
        self.detail = detail
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        if let detail { try Rule.text(detail, "detail", max: 500) }
    }
}
