public import Foundation
public import GRDB

/// The store as handlers, routes and the kit's tables see it inside `ServiceContext.write`, `read`
/// or `commitTogether`: SQL with `?` placeholders, whichever engine keeps the store.
///
/// This is the seam between the services and the engine (docs/postgres.md, "The store's seam"):
/// everything above it — the adapters' statements, the inbox, the outbox, savepoints, what runs
/// after a commit — is written once. The SQL keeps to what SQLite and PostgreSQL read alike:
/// upserts are `INSERT … ON CONFLICT … DO UPDATE`, `INSERT … ON CONFLICT DO NOTHING` ignores a
/// duplicate, rows are read by position, identifiers are never quoted. Statements are prepared once
/// per connection (GRDB's statement cache).
public struct StoreSession {
    let db: Database

    public init(_ db: Database) { self.db = db }

    /// Runs one statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [any StoreValue] = []) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    /// Runs a statement made of several (a migration): not cached, no arguments.
    public func run(_ sql: String) throws {
        try db.execute(sql: sql)
    }

    /// The rows a query returns.
    public func rows(_ sql: String, _ arguments: [any StoreValue] = []) throws -> [StoreRow] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments)).map(StoreRow.init)
    }

    /// The first row a query returns, if any.
    public func row(_ sql: String, _ arguments: [any StoreValue] = []) throws -> StoreRow? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments)).map(StoreRow.init)
    }

    /// The first column of every row a query returns (a NULL is skipped).
    public func values<T: StoreValue>(_ type: T.Type, _ sql: String, _ arguments: [any StoreValue] = []) throws -> [T] {
        try rows(sql, arguments).compactMap { $0[0] as T? }
    }

    /// The first column of the first row a query returns, if any and not NULL.
    public func value<T: StoreValue>(_ type: T.Type, _ sql: String, _ arguments: [any StoreValue] = []) throws -> T? {
        try row(sql, arguments)?[0] as T?
    }

    /// Whether a transaction is open: false after the engine ended one by itself (SQLite rolls back
    /// on a full disk).
    public var isInsideTransaction: Bool { db.isInsideTransaction }

    /// Runs `action` once the current transaction has committed — never if it rolls back, nor if the
    /// event savepoint it was added in is undone (`Database.afterCommit`).
    public func afterCommit(_ action: @escaping @Sendable () -> Void) { db.afterCommit(action) }

    /// Runs `action` after the current transaction ends, committed or not.
    func afterTransaction(_ action: @escaping @Sendable (_ committed: Bool) -> Void) {
        db.afterNextTransaction(onCommit: { _ in action(true) }, onRollback: { _ in action(false) })
    }

    /// Runs `body` in the savepoint of one event or request (`Database.inEventSavepoint`).
    func inEventSavepoint(_ body: () throws -> Database.TransactionCompletion) throws {
        try db.inEventSavepoint(body)
    }

    /// The row id of the last insert (SQLite's `rowid`: the outbox's `seq`).
    var lastInsertedRowID: Int64 { db.lastInsertedRowID }

    private static func arguments(_ values: [any StoreValue]) -> StatementArguments {
        StatementArguments(values.map { $0 as (any DatabaseValueConvertible)? })
    }
}

/// One row of a query, read by position: `let name: String = row[1]`.
public struct StoreRow {
    let row: Row

    /// The value of the `index`-th column (`String?` and the like for a column that may be NULL); a
    /// NULL in a column read as not optional, or a value of another type, stops the process, as a
    /// broken store would (the store's own schema says what each column holds).
    public subscript<T: StoreValue>(_ index: Int) -> T { row[index] }
}

/// What goes into a statement and comes out of a row: text, integers, doubles, booleans, bytes,
/// dates (and optionals of them).
public protocol StoreValue: DatabaseValueConvertible {}

extension String: StoreValue {}
extension Int: StoreValue {}
extension Int64: StoreValue {}
extension Double: StoreValue {}
extension Bool: StoreValue {}
extension Data: StoreValue {}
extension Date: StoreValue {}
extension Optional: StoreValue where Wrapped: StoreValue {}
