import Foundation
import GRDB
import GRDBSQLite

/// Runs the store's own statements on SQLite's C interface, past GRDB's per-statement bookkeeping.
///
/// GRDB prepares and caches the statements (`cachedStatement`), owns the connection and runs the
/// transactions; what it adds to each execution — arguments validated through
/// `StatementArguments`, the observation broker told before and after, the access region recorded,
/// rows copied into `Row`s — was about a seventh of the order service's time at saturation
/// (docs/pipeline.md, "Done: statements run on SQLite's own interface"). Nothing here needs it:
/// no transaction observer watches the store's tables (the outbox hand-off and the after-commit
/// actions collect in `TransactionScratch` instead), the statements never begin or end a
/// transaction, and errors become the same `DatabaseError` GRDB throws, so that a locked store, a
/// full disk or a broken constraint is classified as before.
enum SQLiteStatements {
    /// Executes `statement` with `arguments` to its end.
    static func execute(_ statement: Statement, _ arguments: [any StoreValue], in db: Database) throws {
        let handle = try bind(statement, arguments, in: db)
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            if code != SQLITE_ROW { throw error(code, statement, in: db) }
        }
    }

    /// The rows `statement` returns with `arguments`, up to `limit`.
    static func rows(
        _ statement: Statement, _ arguments: [any StoreValue], limit: Int = .max, in db: Database
    ) throws -> [[DatabaseValue]] {
        let handle = try bind(statement, arguments, in: db)
        defer { sqlite3_reset(handle) }
        var rows: [[DatabaseValue]] = []
        let columns = sqlite3_column_count(handle)
        while rows.count < limit {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw error(code, statement, in: db) }
            var row: [DatabaseValue] = []
            row.reserveCapacity(Int(columns))
            for column in 0..<columns { row.append(value(handle, column)) }
            rows.append(row)
        }
        return rows
    }

    /// Resets `statement` and binds every one of its parameters.
    private static func bind(_ statement: Statement, _ arguments: [any StoreValue], in db: Database) throws
        -> SQLiteStatement
    {
        let handle = statement.sqliteStatement
        // A statement that failed earlier answers its error again to the reset: it is reset all
        // the same, and the error was thrown then.
        sqlite3_reset(handle)
        guard sqlite3_bind_parameter_count(handle) == Int32(arguments.count) else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE,
                message: "\(arguments.count) arguments for \(sqlite3_bind_parameter_count(handle)) parameters",
                sql: statement.sql)
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument.databaseValue.storage {
            case .null: code = sqlite3_bind_null(handle, index)
            case .int64(let value): code = sqlite3_bind_int64(handle, index, value)
            case .double(let value): code = sqlite3_bind_double(handle, index, value)
            case .string(let value):
                let count = Int32(value.utf8.count)
                code = value.withCString { sqlite3_bind_text(handle, index, $0, count, transient) }
            case .blob(let value):
                code = value.withUnsafeBytes { bytes in
                    guard let base = bytes.baseAddress else { return sqlite3_bind_zeroblob(handle, index, 0) }
                    return sqlite3_bind_blob(handle, index, base, Int32(bytes.count), transient)
                }
            }
            guard code == SQLITE_OK else { throw error(code, statement, in: db) }
        }
        return handle
    }

    private static func value(_ handle: SQLiteStatement, _ column: Int32) -> DatabaseValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return sqlite3_column_int64(handle, column).databaseValue
        case SQLITE_FLOAT: return sqlite3_column_double(handle, column).databaseValue
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard let text = sqlite3_column_text(handle, column) else { return "".databaseValue }
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self).databaseValue
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard let bytes = sqlite3_column_blob(handle, column), count > 0 else { return Data().databaseValue }
            return Data(bytes: bytes, count: count).databaseValue
        default: return .null
        }
    }

    private static func error(_ code: Int32, _ statement: Statement, in db: Database) -> DatabaseError {
        let message = db.lastErrorMessage ?? String(cString: sqlite3_errstr(code))
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    /// SQLite copies what is bound with this destructor, so the Swift buffer may go at once.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
