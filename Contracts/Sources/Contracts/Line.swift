/// One order line: a SKU and how many.
public struct Line: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int

    public init(sku: String, quantity: Int) {
        self.sku = sku
        self.quantity = quantity
    }

    func validate(at path: String) throws(ContractError) {
        try Rule.sku(sku, "\(path).sku")
        try Rule.range(Int64(quantity), 1...1000, "\(path).quantity")
    }
}

/// An order line priced by inventory: `unitPrice` in minor units of the event's currency.
public struct PricedLine: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int
    public var unitPrice: Int64

    public init(sku: String, quantity: Int, unitPrice: Int64) {
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
    }

    func validate(at path: String) throws(ContractError) {
        try Rule.sku(sku, "\(path).sku")
        try Rule.range(Int64(quantity), 1...1000, "\(path).quantity")
        try Rule.range(unitPrice, 0...1_000_000_000, "\(path).unitPrice")
    }
}

/// A line inventory could not reserve: `available` is 0 for an unknown SKU.
public struct RejectedLine: Codable, Sendable, Hashable {
    public var sku: String
    public var requested: Int
    public var available: Int64

    public init(sku: String, requested: Int, available: Int64) {
        self.sku = sku
        self.requested = requested
        self.available = available
    }

    func validate(at path: String) throws(ContractError) {
        try Rule.sku(sku, "\(path).sku")
        try Rule.range(Int64(requested), 1...1000, "\(path).requested")
        try Rule.range(available, 0...1_000_000_000, "\(path).available")
    }
}

extension Array where Element == Line {
    func validate(at path: String) throws(ContractError) {
        try Rule.notEmpty(self, path, max: 100)
        for (index, line) in enumerated() { try line.validate(at: "\(path)[\(index)]") }
    }
}
