/// `troupe.inventory.rejected.v1` on `inventory.rejected.<orderId>`: Not every line could be reserved; nothing was.
public struct InventoryRejected: EventPayload {
    public static let type = "troupe.inventory.rejected.v1"
    public static let subjectPrefix = "inventory.rejected"
    public static let producer = Producer.inventory

    public var orderId: String
    public var reason: RejectionReason
    public var lines: [RejectedLine]

    public init(orderId: String, reason: RejectionReason, lines: [RejectedLine]) {
        self.orderId = orderId
        self.reason = reason
        self.lines = lines
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.notEmpty(lines, "lines", max: 100)
        for (index, line) in lines.enumerated() { try line.validate(at: "lines[\(index)]") }
    }
}
