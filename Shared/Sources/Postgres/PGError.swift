/// A failure of PostgreSQL or of the connection to it, with the SQLSTATE that says which.
///
/// The store decides from `kind` what to do: a unique violation is an answer (the row is there), a
/// serialization failure or deadlock is retried, a lost connection makes the service answer 503 and
/// try again (docs/postgres.md).
public struct PGError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The connection could not be made, or broke.
        case connection
        /// 23505: a row with the same key exists.
        case uniqueViolation
        /// 40001: a concurrent transaction got there first; run the transaction again.
        case serializationFailure
        /// 40P01: two transactions waited for each other; one was cancelled; run it again.
        case deadlock
        /// 57P01…57P03, 08…: the server is shutting down or restarting; reconnect.
        case serverGoingAway
        /// A value came back in a type this layer does not read.
        case unsupportedType
        /// Any other SQL error.
        case other
    }

    public let kind: Kind
    /// The five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    public let message: String

    public init(_ kind: Kind, sqlState: String? = nil, _ message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// Whether running the same transaction again may succeed (nothing of it was committed).
    public var isTransient: Bool {
        switch kind {
        case .connection, .serializationFailure, .deadlock, .serverGoingAway: true
        case .uniqueViolation, .unsupportedType, .other: false
        }
    }

    public var description: String {
        if let sqlState { "PostgreSQL \(sqlState): \(message)" } else { "PostgreSQL: \(message)" }
    }

    static func kind(sqlState: String) -> Kind {
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
