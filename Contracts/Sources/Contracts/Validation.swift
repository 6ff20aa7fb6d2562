/// The field rules shared by the events' `validate()` and stated again in their JSON Schemas.
enum Rule {
    static let upperDigits = ASCIISet("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    static let crockford = ASCIISet("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    static let identifierCharacters = ASCIISet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    static let skuCharacters = ASCIISet("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    static let upperLetters = ASCIISet("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    static func fail(_ field: String, _ message: String) -> ContractError {
        ContractError(.invalidData, message, field: "data.\(field)")
    }

    /// `ord_` followed by a 26-character ULID (Crockford base 32).
    static func orderId(_ value: String, _ field: String = "orderId") throws(ContractError) {
        try prefixedULID(value, "ord_", field)
    }

    /// `<prefix>` followed by a 26-character ULID: `shp_…`, `pay_…`, `ntf_…`.
    static func prefixedULID(_ value: String, _ prefix: String, _ field: String) throws(ContractError) {
        let prefixLength = prefix.utf8.count
        guard value.utf8.count == prefixLength + 26, value.utf8.starts(with: prefix.utf8),
            crockford.containsAll(value.utf8.dropFirst(prefixLength))
        else { throw fail(field, "must be \(prefix) followed by 26 ULID characters") }
    }

    static func customerId(_ value: String, _ field: String = "customerId") throws(ContractError) {
        guard (1...64).contains(value.utf8.count), identifierCharacters.containsAll(value.utf8) else {
            throw fail(field, "must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
    }

    static func sku(_ value: String, _ field: String) throws(ContractError) {
        guard (1...64).contains(value.utf8.count), skuCharacters.containsAll(value.utf8) else {
            throw fail(field, "must be 1-64 characters of A-Z 0-9 _ -")
        }
    }

    static func range(_ value: Int64, _ range: ClosedRange<Int64>, _ field: String) throws(ContractError) {
        guard range.contains(value) else {
            throw fail(field, "must be between \(range.lowerBound) and \(range.upperBound)")
        }
    }

    /// 1 to `max` characters, counted as the JSON Schemas' `maxLength` counts them: in Unicode code
    /// points (a flag emoji is two), not in grapheme clusters as `String.count` does.
    static func text(_ value: String, _ field: String, max: Int = 200) throws(ContractError) {
        guard !value.isEmpty, value.unicodeScalars.count <= max else {
            throw fail(field, "must be 1-\(max) characters")
        }
    }

    static func currency(_ value: String, _ field: String = "currency") throws(ContractError) {
        guard value.utf8.count == 3, upperLetters.containsAll(value.utf8) else {
            throw fail(field, "must be an ISO 4217 code such as USD")
        }
    }

    static func country(_ value: String, _ field: String) throws(ContractError) {
        guard value.utf8.count == 2, upperLetters.containsAll(value.utf8) else {
            throw fail(field, "must be an ISO 3166-1 alpha-2 code such as GB")
        }
    }

    static func code(_ value: String, _ field: String) throws(ContractError) {
        guard (1...64).contains(value.utf8.count), upperDigits.containsAll(value.utf8) else {
            throw fail(field, "must be 1-64 characters of A-Z 0-9")
        }
    }

    /// RFC 3339 UTC with milliseconds: `2026-11-22T11:32:38.123Z`.
    static func timestamp(_ value: String, _ field: String) throws(ContractError) {
        guard Timestamp.isValid(value) else { throw fail(field, "must be an RFC 3339 UTC time with milliseconds") }
    }

    /// A calendar date, `YYYY-MM-DD`.
    static func date(_ value: String, _ field: String) throws(ContractError) {
        guard Timestamp.isValidDate(value) else { throw fail(field, "must be a date YYYY-MM-DD") }
    }

    static func notEmpty<T>(_ values: [T], _ field: String, max: Int) throws(ContractError) {
        guard (1...max).contains(values.count) else { throw fail(field, "must have 1-\(max) entries") }
    }
}

/// A set of ASCII characters, checked byte by byte: a string whose every UTF-8 byte is in it is
/// made of those characters only, one byte (and one `Character`) each, so its UTF-8 count is its
/// length. Non-ASCII bytes are never in it.
struct ASCIISet: Sendable {
    private let low: UInt64
    private let high: UInt64

    init(_ characters: StaticString) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for index in 0..<characters.utf8CodeUnitCount {
            let byte = characters.utf8Start[index]
            precondition(byte < 128, "ASCIISet holds ASCII only")
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        self.low = low
        self.high = high
    }

    func contains(_ byte: UInt8) -> Bool {
        byte < 64 ? (low >> UInt64(byte)) & 1 == 1 : byte < 128 && (high >> UInt64(byte - 64)) & 1 == 1
    }

    func containsAll<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        bytes.allSatisfy(contains)
    }
}
