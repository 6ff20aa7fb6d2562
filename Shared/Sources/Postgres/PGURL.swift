/// A `postgres://user:password@host:port/database` URL, checked before anything connects.
///
/// `TROUPE_DATABASE_URL` takes one; anything else (another scheme, no host, no database) is refused
/// at start with one line that says what is wrong, never later. libpq reads the URL itself
/// (query options such as `sslmode=require` included); this only checks its shape.
public struct PGURL: Sendable, Hashable, CustomStringConvertible {
    public let string: String
    public let user: String?
    public let host: String
    public let port: Int
    public let database: String

    public init(_ string: String) throws(PGURLError) {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { string.hasPrefix($0) }) else {
            throw PGURLError("must start with postgres:// (postgres://user:password@host:port/database)")
        }
        var rest = Substring(string.dropFirst(scheme.count))
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        guard let slash = rest.firstIndex(of: "/") else {
            throw PGURLError("names no database (postgres://user:password@host:port/database)")
        }
        let database = String(rest[rest.index(after: slash)...])
        guard !database.isEmpty else {
            throw PGURLError("names no database (postgres://user:password@host:port/database)")
        }
        var authority = rest[..<slash]
        var user: String?
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            user = String(credentials.split(separator: ":", maxSplits: 1).first ?? "")
            authority = authority[authority.index(after: at)...]
        }
        var host = String(authority)
        var port = 5432
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon])
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw PGURLError("has an invalid port \"\(authority[authority.index(after: colon)...])\"")
            }
            port = number
        }
        guard !host.isEmpty else { throw PGURLError("names no host (postgres://user:password@host:port/database)") }
        self.string = string
        self.user = user
        self.host = host
        self.port = port
        self.database = database
    }

    /// The URL with its password replaced by `***`, for logs and the printed settings.
    public var masked: String { Self.mask(string) }

    public var description: String { masked }

    /// `url` with the password of its user part replaced by `***`.
    public static func mask(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else {
            return url
        }
        let credentials = url[schemeEnd.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}

/// Why a database URL was refused.
public struct PGURLError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "the database URL \(reason)" }
}
