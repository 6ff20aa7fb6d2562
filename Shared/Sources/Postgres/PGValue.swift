/// A value sent to or read from PostgreSQL: the few types a service's store uses.
///
/// Parameters go out in text form (the server parses them as the type the statement needs), except
/// bytes, which go out raw. Results come back in PostgreSQL's binary form and are read by the
/// column's type (`PGRow`).
public enum PGValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])

    public var isNull: Bool { self == .null }

    public var int: Int64? {
        switch self {
        case .int(let value): value
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }

    public var bool: Bool? {
        switch self {
        case .bool(let value): value
        case .int(let value): value != 0
        default: nil
        }
    }

    public var text: String? {
        switch self {
        case .text(let value): value
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        switch self {
        case .bytes(let value): value
        case .text(let value): Array(value.utf8)
        default: nil
        }
    }
}

extension PGValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// Swift values that go into a statement as parameters.
public protocol PGEncodable {
    var pgValue: PGValue { get }
}

extension Int: PGEncodable { public var pgValue: PGValue { .int(Int64(self)) } }
extension Int64: PGEncodable { public var pgValue: PGValue { .int(self) } }
extension Int32: PGEncodable { public var pgValue: PGValue { .int(Int64(self)) } }
extension Bool: PGEncodable { public var pgValue: PGValue { .bool(self) } }
extension Double: PGEncodable { public var pgValue: PGValue { .double(self) } }
extension String: PGEncodable { public var pgValue: PGValue { .text(self) } }
extension Substring: PGEncodable { public var pgValue: PGValue { .text(String(self)) } }
extension [UInt8]: PGEncodable { public var pgValue: PGValue { .bytes(self) } }
extension PGValue: PGEncodable { public var pgValue: PGValue { self } }
extension Optional: PGEncodable where Wrapped: PGEncodable {
    public var pgValue: PGValue { self?.pgValue ?? .null }
}
