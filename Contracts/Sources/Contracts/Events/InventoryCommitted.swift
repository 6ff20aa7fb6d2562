/// `troupe.inventory.committed.v1` on `inventory.committed.<orderId>`: A reservation left the stock with the parcel.
public struct InventoryCommitted: EventPayload {
    public static let type = "troupe.inventory.committed.v1"
    public static let subjectPrefix = "inventory.committed"
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
