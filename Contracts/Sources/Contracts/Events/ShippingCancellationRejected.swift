/// `troupe.shipping.cancellation_rejected.v1` on `shipping.cancellation_rejected.<orderId>`: Shipping refused a cancellation request: the parcel has left.
public struct ShippingCancellationRejected: EventPayload {
    public static let type = "troupe.shipping.cancellation_rejected.v1"
    public static let subjectPrefix = "shipping.cancellation_rejected"
    public static let producer = Producer.shipping

    public var orderId: String
    public var reason: CancellationRejectionReason

    public init(orderId: String, reason: CancellationRejectionReason) {
        self.orderId = orderId
        self.reason = reason
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
    }
}
