/// `troupe.order.confirmed.v1` on `orders.confirmed.<orderId>`: Inventory reserved, payment authorized, shipping scheduled: the order is confirmed.
public struct OrderConfirmed: EventPayload {
    public static let type = "troupe.order.confirmed.v1"
    public static let subjectPrefix = "orders.confirmed"
    public static let producer = Producer.order

    public var orderId: String
    public var customerId: String
    public var shipmentId: String
    public var total: Int64
    public var currency: String

    public init(orderId: String, customerId: String, shipmentId: String, total: Int64, currency: String) {
        self.orderId = orderId
        self.customerId = customerId
        self.shipmentId = shipmentId
        self.total = total
        self.currency = currency
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try Rule.prefixedULID(shipmentId, "shp_", "shipmentId")
        try Rule.range(total, 0...1_000_000_000_000_000, "total")
        try Rule.currency(currency)
    }
}
