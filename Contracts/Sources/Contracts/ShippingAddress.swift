/// Where an order goes.
public struct ShippingAddress: Codable, Sendable, Hashable {
    public var name: String
    public var line1: String
    public var line2: String?
    public var city: String
    public var postalCode: String
    /// ISO 3166-1 alpha-2, upper case.
    public var country: String

    public init(name: String, line1: String, line2: String? = nil, city: String, postalCode: String, country: String) {
        self.name = name
        self.line1 = line1
        self.line2 = line2
        self.city = city
        self.postalCode = postalCode
        self.country = country
    }

    func validate(at path: String) throws(ContractError) {
        try Rule.text(name, "\(path).name")
        try Rule.text(line1, "\(path).line1")
        if let line2 { try Rule.text(line2, "\(path).line2") }
        try Rule.text(city, "\(path).city")
        try Rule.text(postalCode, "\(path).postalCode")
        try Rule.country(country, "\(path).country")
    }
}
