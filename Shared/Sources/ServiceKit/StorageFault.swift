import GRDB
import Postgres

/// A store failure that passes by itself or by an operator's hand — the disk is full, another
/// process holds the database's lock, the disk reports an I/O error — as opposed to a bug.
///
/// SQLite rolls the transaction back, so nothing of the failed write is kept: an HTTP request
/// answers 503 `unavailable` (the client retries, with its `Idempotency-Key`), an event is asked
/// for again with back-off and never dead-lettered for it.
public struct StorageFault: Sendable, CustomStringConvertible {
    /// What went wrong, for people: "disk full", "store locked by another process", …
    public let reason: String

    /// The fault behind `error`, or nil when `error` is not a passing store failure.
    public init?(_ error: any Error) {
        if let error = error as? PGError {
            // A database that is away, restarting, or that made this transaction give way to
            // another: nothing was kept, and the same write can succeed the next time.
            guard error.isTransient else { return nil }
            reason =
                error.kind == .connection || error.kind == .serverGoingAway
                ? "database unreachable (\(error.message))" : "database conflict (\(error.kind)), retry"
            return
        }
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode.primaryResultCode {
        case .SQLITE_FULL: reason = "disk full"
        case .SQLITE_BUSY, .SQLITE_LOCKED: reason = "store locked by another process"
        case .SQLITE_IOERR: reason = "disk I/O error (\(error.extendedResultCode))"
        case .SQLITE_READONLY: reason = "store is read-only"
        case .SQLITE_CANTOPEN: reason = "cannot open the store's files"
        default: return nil
        }
    }

    public var description: String { "store unavailable: \(reason)" }

    /// `error` for a log line: the store fault it stands for when it is one, else as it is.
    public static func describe(_ error: any Error) -> String {
        StorageFault(error).map { "\($0)" } ?? "\(error)"
    }
}
