/// `troupe.inventory.reserved.v1` on `inventory.reserved.<orderId>`: Every line is reserved and priced.
public struct InventoryReserved: EventPayload {
    public static let type = "troupe.inventory.reserved.v1"
    public static let subjectPrefix = "inventory.reserved"
    public static let producer = Producer.inventory

    public var orderId: String
    public var customerId: String
    public var pricedLines: [PricedLine]
    public var total: Int64
    public var currency: String

    public init(orderId: String, customerId: String, pricedLines: [PricedLine], total: Int64, currency: String) {
        self.orderId = orderId
        self.customerId = customerId
        self.pricedLines = pricedLines
        self.total = total
        self.currency = currency
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try Rule.notEmpty(pricedLines, "pricedLines", max: 100)
        for (index, line) in pricedLines.enumerated() { try line.validate(at: "pricedLines[\(index)]") }
        try Rule.range(total, 0...1_000_000_000_000_000, "total")
        try Rule.currency(currency)
    }
}
