/// `troupe.inventory.released.v1` on `inventory.released.<orderId>`: A reservation was released after a cancellation.
public struct InventoryReleased: EventPayload {
    public static let type = "troupe.inventory.released.v1"
    public static let subjectPrefix = "inventory.released"
    public static let producer = Producer.inventory

    public var orderId: String
    public var lines: [Line]

    public init(orderId: String, lines: [Line]) {
        self.orderId = orderId
        self.lines = lines
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try lines.validate(at: "lines")
    }
}
