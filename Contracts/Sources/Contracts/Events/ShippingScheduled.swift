/// `troupe.shipping.scheduled.v1` on `shipping.scheduled.<orderId>`: A shipment is scheduled.
public struct ShippingScheduled: EventPayload {
    public static let type = "troupe.shipping.scheduled.v1"
    public static let subjectPrefix = "shipping.scheduled"
    public static let producer = Producer.shipping

    public var orderId: String
    public var shipmentId: String
    public var carrier: String
    public var estimatedDelivery: String

    public init(orderId: String, shipmentId: String, carrier: String, estimatedDelivery: String) {
        self.orderId = orderId
        self.shipmentId = shipmentId
        self.carrier = carrier
        self.estimatedDelivery = estimatedDelivery
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.prefixedULID(shipmentId, "shp_", "shipmentId")
        try Rule.text(carrier, "carrier", max: 64)
        try Rule.date(estimatedDelivery, "estimatedDelivery")
    }
}
