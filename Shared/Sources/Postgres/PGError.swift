/// A failure of PostgreSQL or of the connection to it, with the SQLSTATE that says which.
///
/// The store decides from `kind` what to do: a unique violation is an answer (the row is there), a
/// serialization failure or deadlock is retried, a lost connection makes the service answer 503 and
/// try again (docs/postgres.md).
public struct PGError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure: a struct of constants, so that a kind can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }

        /// The connection could not be made, or broke.
        public static let connection = Code("connection")
        /// 23505: a row with the same key exists.
        public static let uniqueViolation = Code("unique violation")
        /// 40001: a concurrent transaction got there first; run the transaction again.
        public static let serializationFailure = Code("serialization failure")
        /// 40P01: two transactions waited for each other; one was cancelled; run it again.
        public static let deadlock = Code("deadlock")
        /// 57P01…57P03: the server is shutting down or restarting; reconnect.
        public static let serverGoingAway = Code("server going away")
        /// Any other SQL error.
        public static let other = Code("other")
    }

    public let kind: Code
    /// The five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    public let message: String

    public init(_ kind: Code, sqlState: String? = nil, _ message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// Whether running the same transaction again may succeed (nothing of it was committed).
    public var isTransient: Bool {
        [.connection, .serializationFailure, .deadlock, .serverGoingAway].contains(kind)
    }

    public var description: String {
        if let sqlState { "PostgreSQL \(sqlState): \(message)" } else { "PostgreSQL: \(message)" }
    }

    static func kind(sqlState: String) -> Code {
        switch sqlState {
        case "23505": .uniqueViolation
        case "40001": .serializationFailure
        case "40P01": .deadlock
        case "57P01", "57P02", "57P03": .serverGoingAway
        case _ where sqlState.hasPrefix("08"): .connection
        default: .other
        }
    }
}
