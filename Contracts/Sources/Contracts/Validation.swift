/// The field rules shared by the events' `validate()` and stated again in their JSON Schemas.
enum Rule {
    static let upperDigits = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    static let crockford = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    static let identifierCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    static let skuCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

    static func fail(_ field: String, _ message: String) -> ContractError {
        ContractError(.invalidData, message, field: "data.\(field)")
    }

    /// `ord_` followed by a 26-character ULID (Crockford base 32).
    static func orderId(_ value: String, _ field: String = "orderId") throws(ContractError) {
        try prefixedULID(value, "ord_", field)
    }

    /// `<prefix>` followed by a 26-character ULID: `shp_…`, `pay_…`, `ntf_…`.
    static func prefixedULID(_ value: String, _ prefix: String, _ field: String) throws(ContractError) {
        guard value.hasPrefix(prefix), value.count == prefix.count + 26,
            value.dropFirst(prefix.count).allSatisfy(crockford.contains)
        else { throw fail(field, "must be \(prefix) followed by 26 ULID characters") }
    }

    static func customerId(_ value: String, _ field: String = "customerId") throws(ContractError) {
        guard (1...64).contains(value.count), value.allSatisfy(identifierCharacters.contains) else {
            throw fail(field, "must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
    }

    static func sku(_ value: String, _ field: String) throws(ContractError) {
        guard (1...64).contains(value.count), value.allSatisfy(skuCharacters.contains) else {
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
        guard value.count == 3, value.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw fail(field, "must be an ISO 4217 code such as USD")
        }
    }

    static func country(_ value: String, _ field: String) throws(ContractError) {
        guard value.count == 2, value.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw fail(field, "must be an ISO 3166-1 alpha-2 code such as GB")
        }
    }

    static func code(_ value: String, _ field: String) throws(ContractError) {
        guard (1...64).contains(value.count), value.allSatisfy(upperDigits.contains) else {
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
