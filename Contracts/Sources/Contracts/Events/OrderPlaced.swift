/// `troupe.order.placed.v1` on `orders.placed.<orderId>`: A customer placed an order (starts the saga).
public struct OrderPlaced: EventPayload {
    public static let type = "troupe.order.placed.v1"
    public static let subjectPrefix = "orders.placed"
    public static let producer = Producer.order

    public var orderId: String
    public var customerId: String
    public var lines: [Line]
    public var shippingAddress: ShippingAddress
    public var placedAt: String

    public init(orderId: String, customerId: String, lines: [Line], shippingAddress: ShippingAddress, placedAt: String)
    {
        self.orderId = orderId
        self.customerId = customerId
        self.lines = lines
        self.shippingAddress = shippingAddress
        self.placedAt = placedAt
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try lines.validate(at: "lines")
        try shippingAddress.validate(at: "shippingAddress")
        try Rule.timestamp(placedAt, "placedAt")
    }
}
