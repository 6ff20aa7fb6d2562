/// `troupe.shipping.dispatched.v1` on `shipping.dispatched.<orderId>`: The parcel has left: the point of no return.
public struct ShippingDispatched: EventPayload {
    public static let type = "troupe.shipping.dispatched.v1"
    public static let subjectPrefix = "shipping.dispatched"
    public static let producer = Producer.shipping

    public var orderId: String
    public var shipmentId: String
    public var trackingNumber: String
    public var dispatchedAt: String

    public init(orderId: String, shipmentId: String, trackingNumber: String, dispatchedAt: String) {
        self.orderId = orderId
        self.shipmentId = shipmentId
        self.trackingNumber = trackingNumber
        self.dispatchedAt = dispatchedAt
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.prefixedULID(shipmentId, "shp_", "shipmentId")
        try Rule.code(trackingNumber, "trackingNumber")
        try Rule.timestamp(dispatchedAt, "dispatchedAt")
    }
}
