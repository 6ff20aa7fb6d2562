/// Why bytes are not a valid Troupe event: the reason a consumer dead-letters them with.
public struct ContractError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        /// Not JSON at all (bad syntax, invalid UTF-8).
        public static let notJSON = Code(name: "not_json")
        /// JSON, but not a CloudEvents 1.0 structured event.
        public static let notCloudEvent = Code(name: "not_cloudevent")
        /// A CloudEvents `specversion` other than 1.0.
        public static let unsupportedSpecVersion = Code(name: "unsupported_specversion")
        /// A `type` that is not one of Troupe's events.
        public static let unknownType = Code(name: "unknown_type")
        /// A known event in a major version this reader neither knows nor can upcast.
        public static let unsupportedVersion = Code(name: "unsupported_version")
        /// The envelope or the data break the contract (a missing field, a value out of range).
        public static let invalidData = Code(name: "invalid_data")
        /// A valid event on a subject where it does not belong: its type is another domain's or
        /// another event's, or its order another order's. Forged or misrouted, whatever its `source`
        /// says (a publisher may write its whole domain's subjects, so the subject is the proof).
        public static let wrongSubject = Code(name: "wrong_subject")

        public var description: String { name }
    }

    public var code: Code
    /// The JSON path at fault (`data.lines[0].quantity`), when one field is.
    public var field: String?
    public var message: String

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    /// `invalid_data: data.lines[0].quantity: must be between 1 and 1000`.
    public var description: String {
        if let field { return "\(code): \(field): \(message)" }
        return "\(code): \(message)"
    }
}
