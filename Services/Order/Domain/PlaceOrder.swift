import Contracts

/// `POST /orders`: the request, and the rules of docs/http.md ("POST /orders") that it must meet.
struct PlaceOrderRequest: Codable, Sendable, Hashable {
    struct RequestLine: Codable, Sendable, Hashable {
        var sku: String
        var quantity: Int
    }

    struct Address: Codable, Sendable, Hashable {
        var name: String
        var line1: String
        var line2: String?
        var city: String
        var postalCode: String
        var country: String
    }

    var customerId: String
    var lines: [RequestLine]
    var shippingAddress: Address

    /// The first rule broken, as (field, message); nil when the request is valid.
    func violation() -> (field: String, message: String)? {
        let identifier = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        let skuCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard (1...64).contains(customerId.count), customerId.allSatisfy(identifier.contains) else {
            return ("customerId", "must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
        guard (1...100).contains(lines.count) else { return ("lines", "must have 1-100 lines") }
        var seen = Set<String>()
        for (index, line) in lines.enumerated() {
            guard (1...64).contains(line.sku.count), line.sku.allSatisfy(skuCharacters.contains) else {
                return ("lines[\(index)].sku", "must be 1-64 characters of A-Z 0-9 _ -")
            }
            guard seen.insert(line.sku).inserted else { return ("lines[\(index)].sku", "appears more than once") }
            guard (1...1000).contains(line.quantity) else {
                return ("lines[\(index)].quantity", "must be between 1 and 1000")
            }
        }
        let address = shippingAddress
        let fields: [(String, String?)] = [
            ("name", address.name), ("line1", address.line1), ("line2", address.line2), ("city", address.city),
            ("postalCode", address.postalCode),
        ]
        for (name, value) in fields {
            guard let value else { continue }
            // Counted in code points, as the published schema's maxLength counts (not in graphemes).
            guard !value.trimmingWhitespace.isEmpty, value.unicodeScalars.count <= 200 else {
                return ("shippingAddress.\(name)", "must be 1-200 characters (Unicode code points)")
            }
        }
        guard Countries.assigned.contains(address.country) else {
            return ("shippingAddress.country", "must be an assigned ISO 3166-1 alpha-2 code in upper case")
        }
        return nil
    }

    /// The event that places the order.
    func placed(orderId: String, at time: String) -> OrderPlaced {
        OrderPlaced(
            orderId: orderId, customerId: customerId, lines: lines.map { Line(sku: $0.sku, quantity: $0.quantity) },
            shippingAddress: ShippingAddress(
                name: shippingAddress.name, line1: shippingAddress.line1, line2: shippingAddress.line2,
                city: shippingAddress.city, postalCode: shippingAddress.postalCode, country: shippingAddress.country),
            placedAt: time)
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<max(start, end)]
    }
}

/// The assigned ISO 3166-1 alpha-2 codes.
enum Countries {
    static let assigned: Set<String> = Set(
        """
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
        FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
        JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
        MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
        PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
        TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
        """.split(whereSeparator: \.isWhitespace).map(String.init))
}
