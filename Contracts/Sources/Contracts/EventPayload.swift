/// The `data` of one kind of Troupe event: plain data, with the constants that route it.
public protocol EventPayload: Codable, Sendable, Hashable {
    /// The CloudEvents type, `troupe.<domain>.<event>.v<major>`.
    static var type: String { get }
    /// The subject without the order id: `orders.placed`.
    static var subjectPrefix: String { get }
    static var producer: Producer { get }
    /// Whether an order has at most one event of this kind (all but notifications): the outbox
    /// relay then guards its subject against a second copy.
    static var oncePerOrder: Bool { get }
    /// The order the event belongs to: its subject's last token and its `correlationid`.
    var orderId: String { get }
    /// Checks the rules the JSON Schema states, naming the field at fault (`lines[0].quantity`).
    func validate() throws(ContractError)
}

extension EventPayload {
    public static var oncePerOrder: Bool { true }

    /// `<subjectPrefix>.<orderId>`, for example `inventory.reserved.ord_…`.
    public var subject: String { "\(Self.subjectPrefix).\(orderId)" }

    /// The subject filter of this kind of event for every order: `orders.placed.*`.
    public static var filterSubject: String { "\(subjectPrefix).*" }

    /// The schema file name: the type without `troupe.` (`order.placed.v1`).
    public static var schemaName: String { String(type.dropFirst("troupe.".count)) }

    /// `troupe:schemas/order.placed.v1.json`.
    public static var dataschema: String { "troupe:schemas/\(schemaName).json" }
}
