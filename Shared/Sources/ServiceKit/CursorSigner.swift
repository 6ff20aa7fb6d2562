import Crypto
import Foundation
import GRDB

/// Paging cursors that only this service can have issued: `c2.<key>.<tag>`, the key of the last
/// item of the previous page (base64url) and an HMAC-SHA256 of it (truncated to 128 bits) under a
/// secret the service keeps in its store. docs/http.md, "Paging": a cursor the service did not
/// issue is a 400, so a client cannot page from a key of its own choosing (nor from a cursor of
/// another service).
public struct CursorSigner: Sendable {
    /// The secret (a `SymmetricKey` is made from it per use: the type is not `Sendable`).
    private let secret: Data

    init(key: Data) {
        self.secret = key
    }

    /// The cursor for a page ending at `value`.
    public func cursor(_ value: String) -> String {
        let data = Data(value.utf8)
        return "c2." + Self.base64URL(data) + "." + Self.base64URL(tag(data))
    }

    /// The key a cursor carries, or nil when this service did not issue it.
    public func value(of cursor: String) -> String? {
        let parts = cursor.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "c2", let data = Self.fromBase64URL(parts[1]),
            let given = Self.fromBase64URL(parts[2]), given.count == 16
        else { return nil }
        // Compared in constant time, as the tags of a MAC must be.
        guard constantTimeEqual(tag(data), given) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    private func tag(_ data: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: secret))).prefix(16)
    }

    private func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// The store's cursor key, made (32 random bytes) the first time.
    static func key(in db: StoreSession) throws -> Data {
        let find = "SELECT value FROM kit_secret WHERE name = 'cursor'"
        if let key = try db.value(Data.self, find) { return key }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        // Two instances starting at once make one key each: the first stored is the one both use.
        try db.execute("INSERT INTO kit_secret (name, value) VALUES ('cursor', ?) ON CONFLICT DO NOTHING", [key])
        return try db.value(Data.self, find) ?? key
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func fromBase64URL(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
