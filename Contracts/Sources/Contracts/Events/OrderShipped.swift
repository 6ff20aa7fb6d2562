/// `troupe.order.shipped.v1` on `orders.shipped.<orderId>`: The parcel has left: the order is shipped.
public struct OrderShipped: EventPayload {
    public static let type = "troupe.order.shipped.v1"
    public static let subjectPrefix = "orders.shipped"
    public static let producer = Producer.order

    public var orderId: String
    public var customerId: String
    public var shipmentId: String
    public var trackingNumber: String

    public init(orderId: String, customerId: String, shipmentId: String, trackingNumber: String) {
        self.orderId = orderId
        self.customerId = customerId
        self.shipmentId = shipmentId
        self.trackingNumber = trackingNumber
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try Rule.prefixedULID(shipmentId, "shp_", "shipmentId")
        try Rule.code(trackingNumber, "trackingNumber")
    }
}
