/// `troupe.shipping.cancelled.v1` on `shipping.cancelled.<orderId>`: Shipping accepted a cancellation request before dispatch.
public struct ShippingCancelled: EventPayload {
    public static let type = "troupe.shipping.cancelled.v1"
    public static let subjectPrefix = "shipping.cancelled"
    public static let producer = Producer.shipping

    public var orderId: String
    public var shipmentId: String?

    public init(orderId: String, shipmentId: String? = nil) {
        self.orderId = orderId
        self.shipmentId = shipmentId
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        if let shipmentId { try Rule.prefixedULID(shipmentId, "shp_", "shipmentId") }
    }
}
