public import Foundation
public import GRDB
public import Postgres

/// The store as handlers, routes and the kit's tables see it inside `ServiceContext.write`, `read`
/// or `commitTogether`: SQL with `?` placeholders, whichever engine keeps the store.
///
/// This is the seam between the services and the engine (docs/postgres.md, "The store's seam"):
/// everything above it — the adapters' statements, the inbox, the outbox, savepoints, what runs
/// after a commit — is written once, for SQLite (GRDB) and PostgreSQL (libpq). The SQL keeps to what
/// both read alike: upserts are `INSERT … ON CONFLICT … DO UPDATE`, `INSERT … ON CONFLICT DO
/// NOTHING` ignores a duplicate, columns are named and rows read by position, identifiers are never
/// quoted (PostgreSQL folds them to lower case, the same everywhere). Statements are prepared once
/// per connection.
public struct StoreSession {
    enum Engine {
        case sqlite(Database)
        case postgres(PostgresSession)
    }

    let engine: Engine
    /// What a SQLite write transaction collects for its end (nil when reading, or for a connection
    /// that is not a store's writer).
    let scratch: TransactionScratch?

    /// A session on `db`; for a store's writer connection, its outbox rows and after-commit actions
    /// go to the store's hand-off.
    public init(_ db: Database) { self.init(db, scratch: OutboxHandoff.staging(for: db)?.scratch) }

    init(_ db: Database, scratch: TransactionScratch?) {
        engine = .sqlite(db)
        self.scratch = scratch
    }

    init(_ session: PostgresSession) {
        engine = .postgres(session)
        scratch = nil
    }

    /// Which engine keeps the store, for the few statements that differ (`StorePruner`).
    public var dialect: StoreDialect {
        switch engine {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// GRDB's connection, for what only SQLite has (tests of the SQLite store, its migrations).
    var db: Database {
        guard case .sqlite(let db) = engine else { preconditionFailure("a SQLite store was expected") }
        return db
    }

    /// Runs one statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [any StoreValue] = []) throws -> Int {
        switch engine {
        case .sqlite(let db):
            try SQLiteStatements.execute(db.cachedStatement(sql: sql), arguments, in: db)
            return db.changesCount
        case .postgres(let session):
            return try session.connection.execute(sql, values: arguments.map(\.pgValue)).affectedRows
        }
    }

    /// Runs a statement made of several (a migration, `ROLLBACK`): not prepared, no arguments.
    public func run(_ sql: String) throws {
        switch engine {
        case .sqlite(let db): try db.execute(sql: sql)
        case .postgres(let session): try session.connection.run(sql)
        }
    }

    /// The rows a query returns.
    public func rows(_ sql: String, _ arguments: [any StoreValue] = []) throws -> [StoreRow] {
        switch engine {
        case .sqlite(let db):
            return try SQLiteStatements.rows(db.cachedStatement(sql: sql), arguments, in: db).map(StoreRow.sqlite)
        case .postgres(let session):
            return try session.connection.execute(sql, values: arguments.map(\.pgValue)).rows.map(StoreRow.postgres)
        }
    }

    /// The first row a query returns, if any.
    public func row(_ sql: String, _ arguments: [any StoreValue] = []) throws -> StoreRow? {
        switch engine {
        case .sqlite(let db):
            return try SQLiteStatements.rows(db.cachedStatement(sql: sql), arguments, limit: 1, in: db).first
                .map(StoreRow.sqlite)
        case .postgres(let session):
            return try session.connection.execute(sql, values: arguments.map(\.pgValue)).first.map(StoreRow.postgres)
        }
    }

    /// The first column of every row a query returns (a NULL is skipped).
    public func values<T: StoreValue>(_ type: T.Type, _ sql: String, _ arguments: [any StoreValue] = []) throws -> [T] {
        try rows(sql, arguments).compactMap { $0[0] as T? }
    }

    /// The first column of the first row a query returns, if any and not NULL.
    public func value<T: StoreValue>(_ type: T.Type, _ sql: String, _ arguments: [any StoreValue] = []) throws -> T? {
        try row(sql, arguments)?[0] as T?
    }

    /// Serialises the decisions about `keys` (`order:<id>`, `account:<id>`, `sku:<sku>`) between
    /// instances of a service that share a PostgreSQL database: each key's lock is taken, in a
    /// fixed order, and held until the transaction ends, so that a second instance deciding about
    /// the same order, account or product waits, then reads what the first committed. Nothing to
    /// do in SQLite, whose one writer serialises everything.
    ///
    /// Locks of one batch add up until its commit (a batch takes the keys it knows of up front, in
    /// order: `ServiceContext.applyBatch`); two instances taking further keys in another order can
    /// still deadlock, which PostgreSQL ends after `deadlock_timeout` by failing one event
    /// (`deadlock`, transient): its savepoint is undone, its locks with it, and it comes back with
    /// back-off.
    ///
    /// `keys` is only evaluated for PostgreSQL: in SQLite a batch builds no key strings.
    public func lock(_ keys: @autoclosure () -> [String]) throws {
        guard case .postgres(let session) = engine else { return }
        for key in Set(keys()).sorted() where session.locked.insert(key).inserted {
            try session.connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])
        }
    }

    /// Whether a transaction is open: false after the engine ended one by itself (SQLite rolls back
    /// on a full disk; a PostgreSQL connection that broke ends its transaction).
    public var isInsideTransaction: Bool {
        switch engine {
        case .sqlite(let db): db.isInsideTransaction
        case .postgres(let session): session.connection.isConnected && session.connection.inTransaction
        }
    }

    /// Runs `action` once the current transaction has committed — never if it rolls back, nor if the
    /// event savepoint it was added in is undone. For effects outside the store that must follow
    /// only what was stored, such as a metric of what was decided.
    public func afterCommit(_ action: @escaping @Sendable () -> Void) {
        switch engine {
        case .sqlite(let db):
            // On a connection that is not a store's writer, GRDB runs it after the commit (an
            // undone savepoint does not withdraw it there).
            if let scratch {
                scratch.add(afterCommit: action)
            } else {
                db.afterNextTransaction(onCommit: { _ in action() })
            }
        case .postgres(let session): session.commitActions.append(action)
        }
    }

    /// Runs `action` after the current transaction ends, committed or not.
    func afterTransaction(_ action: @escaping @Sendable (_ committed: Bool) -> Void) {
        switch engine {
        case .sqlite(let db):
            if let scratch {
                scratch.add(afterEnd: action)
            } else {
                db.afterNextTransaction(onCommit: { _ in action(true) }, onRollback: { _ in action(false) })
            }
        case .postgres(let session): session.endActions.append(action)
        }
    }

    /// The instance of a PostgreSQL store (`PostgresStore.instance`); nil for SQLite.
    var instance: String? {
        guard case .postgres(let session) = engine else { return nil }
        return session.instance
    }

    /// Runs `body` in a savepoint of the current transaction: its writes stay when it answers
    /// `.commit`, and are undone — outbox rows and `afterCommit` actions with them — when it
    /// answers `.rollback` or throws (the error is thrown on).
    func inEventSavepoint(_ body: () throws -> Database.TransactionCompletion) throws {
        switch engine {
        case .sqlite(let db): try db.inEventSavepoint(scratch: scratch, body)
        case .postgres(let session): try session.inSavepoint(body)
        }
    }

    /// Inserts an outbox row unless its event id is there already; returns the row with its `seq`
    /// when it was inserted (to be handed to the relay at commit), nil when it was there.
    func insertOutbox(_ entry: OutboxEntry) throws -> OutboxEntry? {
        let arguments: [any StoreValue] = [
            entry.eventId, entry.subject, entry.payload, entry.headers, entry.oncePerSubject,
            entry.createdAt.timeIntervalSince1970,
        ]
        var stored = entry
        switch engine {
        case .sqlite(let db):
            let inserted = try execute(
                "INSERT INTO outbox (eventId, subject, payload, headers, oncePerSubject, createdAt) "
                    + "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", arguments)
            guard inserted == 1 else { return nil }
            stored.seq = db.lastInsertedRowID
            scratch?.stage(stored)
        case .postgres(let session):
            // The row is this instance's to publish at commit; no other instance's relay takes it
            // before its claim runs out.
            guard
                let seq = try value(
                    Int64.self,
                    "INSERT INTO outbox (eventId, subject, payload, headers, oncePerSubject, createdAt, claimedBy, "
                        + "claimedUntil) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
                    arguments + [session.instance, Date().timeIntervalSince1970 + PostgresStore.claim])
            else { return nil }
            stored.seq = seq
            session.staged.append(stored)
        }
        return stored
    }
}

/// The names of the decision locks (`StoreSession.lock`), spelled once: the lock a batch takes up
/// front and the one `load` takes for the same thing must be the same key.
public enum LockKey {
    public static func order(_ orderId: String) -> String { "order:\(orderId)" }
    public static func account(_ customerId: String) -> String { "account:\(customerId)" }
    public static func product(_ sku: String) -> String { "sku:\(sku)" }
    public static func idempotencyKey(_ key: String) -> String { "idempotency-key:\(key)" }
}

/// The engine that keeps a store.
public enum StoreDialect: Sendable {
    case sqlite
    case postgres
}

/// One row of a query, read by position: `let name: String = row[1]`.
public enum StoreRow {
    /// A SQLite row's columns, copied (`SQLiteStatements.rows`).
    case sqlite([DatabaseValue])
    case postgres(PGRow)

    /// The value of the `index`-th column (`String?` and the like for a column that may be NULL); a
    /// NULL in a column read as not optional, or a value of another type, stops the process, as a
    /// broken store would (the store's own schema says what each column holds).
    public subscript<T: StoreValue>(_ index: Int) -> T {
        switch self {
        case .sqlite(let row):
            guard let decoded = T.fromDatabaseValue(row[index]) else {
                preconditionFailure("column \(index) holds \(row[index]), not a \(T.self)")
            }
            return decoded
        case .postgres(let row):
            let value = row[index]
            guard let decoded = T.fromPostgres(value) else {
                preconditionFailure("column \(index) holds \(value), not a \(T.self)")
            }
            return decoded
        }
    }
}

/// What goes into a statement and comes out of a row: text, integers, doubles, booleans, bytes,
/// dates (and optionals of them). `pgValue` (the value as a PostgreSQL parameter) comes from
/// `PGEncodable`.
public protocol StoreValue: DatabaseValueConvertible, PGEncodable, Sendable {
    /// The value read from a PostgreSQL column; nil when it holds something else.
    static func fromPostgres(_ value: PGValue) -> Self?
}

extension String: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> String? { value.text }
}

extension Int: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> Int? { value.int.map(Int.init) }
}

extension Int64: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> Int64? { value.int }
}

extension Double: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> Double? { value.double }
}

extension Bool: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> Bool? { value.bool }
}

extension Data: StoreValue {
    public var pgValue: PGValue { .bytes([UInt8](self)) }
    public static func fromPostgres(_ value: PGValue) -> Data? { value.bytes.map { Data($0) } }
}

/// Dates are seconds since 1970 in PostgreSQL (a `double precision` column); GRDB's own text form in
/// SQLite.
extension Date: StoreValue {
    public var pgValue: PGValue { .double(timeIntervalSince1970) }
    public static func fromPostgres(_ value: PGValue) -> Date? { value.double.map(Date.init(timeIntervalSince1970:)) }
}

extension Optional: StoreValue where Wrapped: StoreValue {
    public static func fromPostgres(_ value: PGValue) -> Wrapped?? {
        if value.isNull { return .some(nil) }
        return Wrapped.fromPostgres(value).map { .some($0) }
    }
}
