#if canImport(Glibc)
    import Glibc
#endif
/// A lean JSON coder for the events' hot path: the same bytes as Foundation's `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]`, and a decoder that accepts a subset of what
/// `JSONDecoder` accepts, with the same result.
///
/// Foundation's coders cost 11–13 µs for a 920-byte event, and a saga decodes 26 events and
/// encodes 11: a seventh of all the CPU of the suite at its highest rate (docs/pipeline.md). These
/// work on the shapes events have — objects, arrays, strings, integers, booleans, null — through
/// `Codable`, so every event type gets them without code of its own.
///
/// The decoder is strict: it refuses (throws) anything it does not handle exactly as `JSONDecoder`
/// would — `\u` escapes, numbers with a fraction or exponent, duplicate keys, nesting deeper than
/// 64, floating-point fields — and `EventDecoder` then takes its full path with Foundation's
/// decoder, which gives the precise reason. Never laxer: malformed JSON, invalid UTF-8 and
/// trailing bytes are refused.
enum EventJSON {
    /// The document's bytes, keys sorted byte-wise (as `JSONEncoder`'s `.sortedKeys` does for the
    /// ASCII keys of events).
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = TreeEncoder()
        try value.encode(to: encoder)
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(encoder.value ?? .object(ObjectBox()), to: &out)
        return out
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        try decode(type, from: try parse(bytes))
    }

    /// The parsed document, valid while `bytes` is.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Document {
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }

    static func decode<T: Decodable>(_ type: T.Type, from document: Document) throws -> T {
        try T(from: TreeDecoder(document: document, node: 0, codingPath: []))
    }

    struct Unsupported: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

// MARK: - Encoding

extension EventJSON {
    enum Value {
        case string(String)
        case int(Int64)
        case uint(UInt64)
        case bool(Bool)
        case null
        case object(ObjectBox)
        case array(ArrayBox)
    }

    final class ObjectBox {
        var keys: [String] = []
        var values: [Value] = []

        func set(_ value: Value, for key: String) {
            if let index = keys.firstIndex(of: key) {
                values[index] = value
            } else {
                keys.append(key)
                values.append(value)
            }
        }
    }

    final class ArrayBox {
        var items: [Value] = []
    }

    /// Where one `encode(to:)` puts its value: the encoder of a field, an element or the document.
    final class TreeEncoder: Encoder {
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        var value: Value?

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let box: ObjectBox
            if case .object(let existing) = value {
                box = existing
            } else {
                box = ObjectBox()
                value = .object(box)
            }
            return KeyedEncodingContainer(KeyedWriter(box: box, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            let box: ArrayBox
            if case .array(let existing) = value {
                box = existing
            } else {
                box = ArrayBox()
                value = .array(box)
            }
            return UnkeyedWriter(box: box, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { SingleWriter(encoder: self) }
    }

    static func encodeValue<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> Value {
        switch value {
        case let string as String: return .string(string)
        case let int as Int: return .int(Int64(int))
        case let int as Int64: return .int(int)
        case let bool as Bool: return .bool(bool)
        default:
            let encoder = TreeEncoder()
            encoder.codingPath = codingPath
            try value.encode(to: encoder)
            return encoder.value ?? .object(ObjectBox())
        }
    }

    static func integer<T: BinaryInteger>(_ value: T) -> Value {
        if let signed = Int64(exactly: value) { return .int(signed) }
        return .uint(UInt64(value))
    }

    static func unsupported(_ value: Any, _ path: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(
            value, .init(codingPath: path, debugDescription: "EventJSON encodes no floating-point numbers"))
    }

    struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: ObjectBox
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { box.set(.null, for: key.stringValue) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { box.set(.bool(value), for: key.stringValue) }
        mutating func encode(_ value: String, forKey key: Key) throws { box.set(.string(value), for: key.stringValue) }
        mutating func encode(_ value: Double, forKey key: Key) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Float, forKey key: Key) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Int, forKey key: Key) throws { box.set(.int(Int64(value)), for: key.stringValue) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { box.set(.int(value), for: key.stringValue) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { box.set(integer(value), for: key.stringValue) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            box.set(try encodeValue(value, codingPath: codingPath), for: key.stringValue)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            let nested = ObjectBox()
            box.set(.object(nested), for: key.stringValue)
            return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = ArrayBox()
            box.set(.array(nested), for: key.stringValue)
            return UnkeyedWriter(box: nested, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Encoder { SuperEncoder(box: box, key: "super", codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            SuperEncoder(box: box, key: key.stringValue, codingPath: codingPath)
        }
    }

    /// An encoder whose value lands under `key` of `box` as soon as it is made (`superEncoder`).
    final class SuperEncoder: Encoder {
        let inner = TreeEncoder()
        let box: ObjectBox
        let key: String
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        init(box: ObjectBox, key: String, codingPath: [any CodingKey]) {
            self.box = box
            self.key = key
            self.codingPath = codingPath
            inner.codingPath = codingPath
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            defer { box.set(inner.value ?? .null, for: key) }
            return inner.container(keyedBy: type)
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            defer { box.set(inner.value ?? .null, for: key) }
            return inner.unkeyedContainer()
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            SingleWriter(encoder: inner) { [box, key] value in box.set(value, for: key) }
        }
    }

    struct UnkeyedWriter: UnkeyedEncodingContainer {
        let box: ArrayBox
        let codingPath: [any CodingKey]
        var count: Int { box.items.count }

        mutating func encodeNil() throws { box.items.append(.null) }
        mutating func encode(_ value: Bool) throws { box.items.append(.bool(value)) }
        mutating func encode(_ value: String) throws { box.items.append(.string(value)) }
        mutating func encode(_ value: Double) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Float) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Int) throws { box.items.append(.int(Int64(value))) }
        mutating func encode(_ value: Int8) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int16) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int32) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int64) throws { box.items.append(.int(value)) }
        mutating func encode(_ value: UInt) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt8) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt16) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt32) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt64) throws { box.items.append(integer(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            box.items.append(try encodeValue(value, codingPath: codingPath))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            let nested = ObjectBox()
            box.items.append(.object(nested))
            return KeyedEncodingContainer(KeyedWriter<NestedKey>(box: nested, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = ArrayBox()
            box.items.append(.array(nested))
            return UnkeyedWriter(box: nested, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Encoder {
            let encoder = TreeEncoder()
            encoder.codingPath = codingPath
            return encoder
        }
    }

    struct SingleWriter: SingleValueEncodingContainer {
        let encoder: TreeEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        var then: ((Value) -> Void)? = nil

        private func set(_ value: Value) {
            encoder.value = value
            then?(value)
        }

        mutating func encodeNil() throws { set(.null) }
        mutating func encode(_ value: Bool) throws { set(.bool(value)) }
        mutating func encode(_ value: String) throws { set(.string(value)) }
        mutating func encode(_ value: Double) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Float) throws { throw unsupported(value, codingPath) }
        mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
        mutating func encode(_ value: Int8) throws { set(integer(value)) }
        mutating func encode(_ value: Int16) throws { set(integer(value)) }
        mutating func encode(_ value: Int32) throws { set(integer(value)) }
        mutating func encode(_ value: Int64) throws { set(.int(value)) }
        mutating func encode(_ value: UInt) throws { set(integer(value)) }
        mutating func encode(_ value: UInt8) throws { set(integer(value)) }
        mutating func encode(_ value: UInt16) throws { set(integer(value)) }
        mutating func encode(_ value: UInt32) throws { set(integer(value)) }
        mutating func encode(_ value: UInt64) throws { set(integer(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { set(try encodeValue(value, codingPath: codingPath)) }
    }

    static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .string(let string): writeString(string, to: &out)
        case .int(let int): writeInteger(int, to: &out)
        case .uint(let uint):
            out.append(contentsOf: String(uint).utf8)
        case .bool(let bool): out.append(contentsOf: bool ? trueBytes : falseBytes)
        case .null: out.append(contentsOf: nullBytes)
        case .array(let box):
            out.append(UInt8(ascii: "["))
            for (index, item) in box.items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let box):
            out.append(UInt8(ascii: "{"))
            var order = Array(box.keys.indices)
            // Insertion sort: an event's objects have a dozen keys at most.
            var position = 1
            while position < order.count {
                let current = order[position]
                var slot = position
                while slot > 0, box.keys[current].utf8.lexicographicallyPrecedes(box.keys[order[slot - 1]].utf8) {
                    order[slot] = order[slot - 1]
                    slot -= 1
                }
                order[slot] = current
                position += 1
            }
            for (index, member) in order.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(box.keys[member], to: &out)
                out.append(UInt8(ascii: ":"))
                write(box.values[member], to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)

    static func writeInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = out.count
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        out[start...].reverse()
    }

    /// As `JSONEncoder` writes strings: `"` and `\` escaped, control characters as `\b \t \n \f \r`
    /// or `\u00XX`, everything else (`/` included) as it is, in UTF-8.
    static func writeString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            // Runs that need no escape are copied whole.
            var run = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                default:
                    out.append(UInt8(ascii: "u"))
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "0"))
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0x0F)])
                }
                run = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

// MARK: - Decoding

extension EventJSON {
    /// One parsed value. Objects and arrays are followed by their members (an object's as key,
    /// value pairs); `end` is the index of the node after the whole value.
    struct Node {
        enum Kind: UInt8 { case object, array, string, escapedString, number, trueValue, falseValue, null }
        var kind: Kind
        /// The bytes of a string (inside the quotes) or a number.
        var start: Int32
        var length: Int32
        /// Members of an object (pairs) or elements of an array.
        var count: Int32
        var end: Int32
    }

    struct Document {
        let bytes: UnsafeRawBufferPointer
        let nodes: [Node]

        func string(_ index: Int) throws -> String {
            let node = nodes[index]
            let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.start + node.length)])
            switch node.kind {
            case .string:
                return String(decoding: raw, as: UTF8.self)
            case .escapedString:
                var unescaped: [UInt8] = []
                unescaped.reserveCapacity(raw.count)
                var index = 0
                while index < raw.count {
                    let byte = raw[index]
                    if byte == UInt8(ascii: "\\") {
                        index += 1
                        switch raw[index] {
                        case UInt8(ascii: "\""): unescaped.append(UInt8(ascii: "\""))
                        case UInt8(ascii: "\\"): unescaped.append(UInt8(ascii: "\\"))
                        case UInt8(ascii: "/"): unescaped.append(UInt8(ascii: "/"))
                        case UInt8(ascii: "b"): unescaped.append(0x08)
                        case UInt8(ascii: "f"): unescaped.append(0x0C)
                        case UInt8(ascii: "n"): unescaped.append(0x0A)
                        case UInt8(ascii: "r"): unescaped.append(0x0D)
                        case UInt8(ascii: "t"): unescaped.append(0x09)
                        default: throw Unsupported("escape")
                        }
                    } else {
                        unescaped.append(byte)
                    }
                    index += 1
                }
                return String(decoding: unescaped, as: UTF8.self)
            default:
                throw Unsupported("not a string")
            }
        }

        /// The string under `key` in the top-level object, when it is one.
        func topLevelString(_ key: String) -> String? {
            guard let first = nodes.first, first.kind == .object else { return nil }
            var member = 1
            for _ in 0..<first.count {
                if keyEquals(member, key) { return try? string(member + 1) }
                member = Int(nodes[member + 1].end)
            }
            return nil
        }

        /// Whether the key node at `index` is exactly `key`.
        func keyEquals(_ index: Int, _ key: String) -> Bool {
            let node = nodes[index]
            guard node.kind == .string, Int(node.length) == key.utf8.count else { return false }
            let start = bytes.baseAddress! + Int(node.start)
            var key = key
            return key.withUTF8 { memcmp($0.baseAddress!, start, $0.count) == 0 }
        }

        func bool(_ index: Int) throws -> Bool {
            switch nodes[index].kind {
            case .trueValue: return true
            case .falseValue: return false
            default: throw Unsupported("not a boolean")
            }
        }

        func integer<T: FixedWidthInteger>(_ index: Int, as type: T.Type) throws -> T {
            let node = nodes[index]
            guard node.kind == .number else { throw Unsupported("not a number") }
            var position = Int(node.start)
            let end = position + Int(node.length)
            let negative = bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            var value: T = 0
            while position < end {
                let byte = bytes[position]
                // A fraction or an exponent: left to Foundation's decoder.
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw Unsupported("not an integer") }
                let digit = T(byte - UInt8(ascii: "0"))
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (next, overflow2) =
                    negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
                guard !overflow1, !overflow2 else { throw Unsupported("out of range") }
                value = next
                position += 1
            }
            return value
        }
    }

    /// A strict RFC 8259 parser into `Node`s.
    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        var nodes: [Node] = []
        var depth = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
            nodes.reserveCapacity(64)
        }

        mutating func parseDocument() throws -> Document {
            skipSpace()
            try parseValue()
            skipSpace()
            guard position == bytes.count else { throw Unsupported("trailing bytes") }
            return Document(bytes: bytes, nodes: nodes)
        }

        private mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        private mutating func parseValue() throws {
            guard position < bytes.count else { throw Unsupported("end of input") }
            switch bytes[position] {
            case UInt8(ascii: "{"): try parseObject()
            case UInt8(ascii: "["): try parseArray()
            case UInt8(ascii: "\""): try parseString()
            case UInt8(ascii: "t"): try parseLiteral("true", .trueValue)
            case UInt8(ascii: "f"): try parseLiteral("false", .falseValue)
            case UInt8(ascii: "n"): try parseLiteral("null", .null)
            default: try parseNumber()
            }
        }

        private mutating func open(_ kind: Node.Kind) throws -> Int {
            depth += 1
            guard depth <= 64 else { throw Unsupported("nesting") }
            nodes.append(Node(kind: kind, start: Int32(position), length: 0, count: 0, end: 0))
            position += 1
            return nodes.count - 1
        }

        private mutating func parseObject() throws {
            let index = try open(.object)
            var count: Int32 = 0
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
            } else {
                while true {
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                        throw Unsupported("object key")
                    }
                    let key = nodes.count
                    try parseString()
                    // Duplicate keys: Foundation decides which wins; left to it.
                    var other = index + 1
                    for _ in 0..<count {
                        if sameBytes(other, key) { throw Unsupported("duplicate key") }
                        other = Int(nodes[other + 1].end)
                    }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw Unsupported(":") }
                    position += 1
                    skipSpace()
                    try parseValue()
                    count += 1
                    if try endOfMember(closing: UInt8(ascii: "}")) { break }
                }
            }
            close(index, count: count)
        }

        /// After a member or an element: true at the closing bracket, false at a comma (either consumed).
        private mutating func endOfMember(closing: UInt8) throws -> Bool {
            skipSpace()
            guard position < bytes.count else { throw Unsupported("end of input") }
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: ",") { return false }
            guard byte == closing else { throw Unsupported("expected , or the closing bracket") }
            return true
        }

        private mutating func close(_ index: Int, count: Int32) {
            nodes[index].count = count
            nodes[index].end = Int32(nodes.count)
            depth -= 1
        }

        private func sameBytes(_ first: Int, _ second: Int) -> Bool {
            let a = nodes[first]
            let b = nodes[second]
            guard a.length == b.length else { return false }
            return UnsafeRawBufferPointer(rebasing: bytes[Int(a.start)..<Int(a.start + a.length)])
                .elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[Int(b.start)..<Int(b.start + b.length)]))
        }

        private mutating func parseArray() throws {
            let index = try open(.array)
            var count: Int32 = 0
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
            } else {
                while true {
                    skipSpace()
                    try parseValue()
                    count += 1
                    if try endOfMember(closing: UInt8(ascii: "]")) { break }
                }
            }
            close(index, count: count)
        }

        private mutating func parseString() throws {
            position += 1  // the opening quote
            let start = position
            var escaped = false
            var ascii = true
            while true {
                guard position < bytes.count else { throw Unsupported("unterminated string") }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { throw Unsupported("control character in a string") }
                if byte >= 0x80 { ascii = false }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    position += 1
                    guard position < bytes.count else { throw Unsupported("unterminated string") }
                    switch bytes[position] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    default: throw Unsupported("escape")  // \u…, or not JSON at all
                    }
                }
                position += 1
            }
            if !ascii {
                // Invalid UTF-8 is refused, as Foundation refuses it.
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                guard String(validating: raw, as: UTF8.self) != nil else { throw Unsupported("invalid UTF-8") }
            }
            nodes.append(
                Node(
                    kind: escaped ? .escapedString : .string, start: Int32(start), length: Int32(position - start),
                    count: 0, end: Int32(nodes.count + 1)))
            position += 1  // the closing quote
        }

        private mutating func parseLiteral(_ literal: StaticString, _ kind: Node.Kind) throws {
            let length = literal.utf8CodeUnitCount
            guard position + length <= bytes.count else { throw Unsupported("literal") }
            for offset in 0..<length where bytes[position + offset] != literal.utf8Start[offset] {
                throw Unsupported("literal")
            }
            nodes.append(
                Node(kind: kind, start: Int32(position), length: Int32(length), count: 0, end: Int32(nodes.count + 1)))
            position += length
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        private mutating func parseNumber() throws {
            let start = position
            func digit(_ at: Int) -> Bool {
                at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digit(position) else { throw Unsupported("not a value") }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else {
                while digit(position) { position += 1 }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digit(position) else { throw Unsupported("number") }
                while digit(position) { position += 1 }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
                {
                    position += 1
                }
                guard digit(position) else { throw Unsupported("number") }
                while digit(position) { position += 1 }
            }
            nodes.append(
                Node(
                    kind: .number, start: Int32(start), length: Int32(position - start), count: 0,
                    end: Int32(nodes.count + 1)))
        }
    }

    struct TreeDecoder: Decoder {
        let document: Document
        let node: Int
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard document.nodes[node].kind == .object else { throw mismatch("an object") }
            return KeyedDecodingContainer(KeyedReader<Key>(document: document, node: node, codingPath: codingPath))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard document.nodes[node].kind == .array else { throw mismatch("an array") }
            return UnkeyedReader(document: document, node: node, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            SingleReader(document: document, node: node, codingPath: codingPath)
        }

        func mismatch(_ expected: String) -> DecodingError {
            .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected)"))
        }
    }

    static func decodeValue<T: Decodable>(
        _ type: T.Type, _ document: Document, _ node: Int, _ codingPath: [any CodingKey]
    ) throws -> T {
        if T.self == String.self { return try document.string(node) as! T }
        if T.self == Int.self { return try document.integer(node, as: Int.self) as! T }
        if T.self == Int64.self { return try document.integer(node, as: Int64.self) as! T }
        return try T(from: TreeDecoder(document: document, node: node, codingPath: codingPath))
    }

    struct KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let document: Document
        let node: Int
        let codingPath: [any CodingKey]

        var allKeys: [Key] {
            var keys: [Key] = []
            var member = node + 1
            for _ in 0..<document.nodes[node].count {
                if let text = try? document.string(member), let key = Key(stringValue: text) { keys.append(key) }
                member = Int(document.nodes[member + 1].end)
            }
            return keys
        }

        /// The node of `key`'s value, or nil when the object has no such key.
        private func find(_ key: Key) -> Int? {
            let name = key.stringValue
            var member = node + 1
            for _ in 0..<document.nodes[node].count {
                if document.keyEquals(member, name) { return member + 1 }
                member = Int(document.nodes[member + 1].end)
            }
            return nil
        }

        private func value(_ key: Key) throws -> Int {
            guard let found = find(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no such key"))
            }
            return found
        }

        func contains(_ key: Key) -> Bool { find(key) != nil }

        func decodeNil(forKey key: Key) throws -> Bool { document.nodes[try value(key)].kind == .null }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try document.bool(try value(key)) }

        func decode(_ type: String.Type, forKey key: Key) throws -> String { try document.string(try value(key)) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { throw Unsupported("floating point") }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw Unsupported("floating point") }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
            try document.integer(try value(key), as: Int.self)
        }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
            try document.integer(try value(key), as: type)
        }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
            try document.integer(try value(key), as: type)
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try decodeValue(type, document, try value(key), codingPath)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try TreeDecoder(document: document, node: try value(key), codingPath: codingPath)
                .container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try TreeDecoder(document: document, node: try value(key), codingPath: codingPath).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { throw Unsupported("superDecoder") }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw Unsupported("superDecoder") }
    }

    struct UnkeyedReader: UnkeyedDecodingContainer {
        let document: Document
        let node: Int
        let codingPath: [any CodingKey]
        var currentIndex = 0
        private var next: Int

        init(document: Document, node: Int, codingPath: [any CodingKey]) {
            self.document = document
            self.node = node
            self.codingPath = codingPath
            self.next = node + 1
        }

        var count: Int? { Int(document.nodes[node].count) }
        var isAtEnd: Bool { currentIndex >= Int(document.nodes[node].count) }

        private mutating func take() throws -> Int {
            guard !isAtEnd else { throw Unsupported("past the end of an array") }
            let taken = next
            next = Int(document.nodes[taken].end)
            currentIndex += 1
            return taken
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd else { throw Unsupported("past the end of an array") }
            if document.nodes[next].kind == .null {
                _ = try take()
                return true
            }
            return false
        }

        mutating func decode(_ type: Bool.Type) throws -> Bool { try document.bool(try take()) }
        mutating func decode(_ type: String.Type) throws -> String { try document.string(try take()) }
        mutating func decode(_ type: Double.Type) throws -> Double { throw Unsupported("floating point") }
        mutating func decode(_ type: Float.Type) throws -> Float { throw Unsupported("floating point") }
        mutating func decode(_ type: Int.Type) throws -> Int { try document.integer(try take(), as: type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try document.integer(try take(), as: type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try document.integer(try take(), as: type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try document.integer(try take(), as: type) }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let index = try take()
            return try decodeValue(type, document, index, codingPath)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try TreeDecoder(document: document, node: try take(), codingPath: codingPath).container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try TreeDecoder(document: document, node: try take(), codingPath: codingPath).unkeyedContainer()
        }

        mutating func superDecoder() throws -> any Decoder { throw Unsupported("superDecoder") }
    }

    struct SingleReader: SingleValueDecodingContainer {
        let document: Document
        let node: Int
        let codingPath: [any CodingKey]

        func decodeNil() -> Bool { document.nodes[node].kind == .null }
        func decode(_ type: Bool.Type) throws -> Bool { try document.bool(node) }
        func decode(_ type: String.Type) throws -> String { try document.string(node) }
        func decode(_ type: Double.Type) throws -> Double { throw Unsupported("floating point") }
        func decode(_ type: Float.Type) throws -> Float { throw Unsupported("floating point") }
        func decode(_ type: Int.Type) throws -> Int { try document.integer(node, as: type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try document.integer(node, as: type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try document.integer(node, as: type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try document.integer(node, as: type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try document.integer(node, as: type) }
        func decode(_ type: UInt.Type) throws -> UInt { try document.integer(node, as: type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try document.integer(node, as: type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try document.integer(node, as: type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try document.integer(node, as: type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try document.integer(node, as: type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type, document, node, codingPath) }
    }
}
