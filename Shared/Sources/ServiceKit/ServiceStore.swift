public import Foundation
public import GRDB
public import Postgres

/// A service's own store, with the kit's tables (outbox, inbox) migrated first and the service's own
/// migrations after them: SQLite (WAL mode, one file) by default, PostgreSQL when the service is
/// given a database URL (`PostgresStore`).
///
/// Both engines run database work on queues of their own, so `write` and `read` suspend the calling
/// task without blocking Swift concurrency's threads.
public struct ServiceStore: Sendable {
    enum Engine: Sendable {
        case sqlite(any DatabaseWriter)
        case postgres(PostgresStore)
    }

    let engine: Engine

    /// GRDB's writer of a SQLite store (tests, and what only SQLite has).
    public var writer: any DatabaseWriter {
        guard case .sqlite(let writer) = engine else { preconditionFailure("a SQLite store was expected") }
        return writer
    }

    /// Which engine keeps the store.
    public var dialect: StoreDialect {
        switch engine {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// What committed transactions added to the outbox, for the relay to publish at once.
    public let outbox: OutboxHandoff
    /// Signs the paging cursors the service issues, with a key kept in the store (so that a
    /// cursor outlives a restart).
    public let cursors: CursorSigner

    /// Opens (creating when missing) `<directory>/<name>.sqlite` and migrates it. A write waits up to
    /// `busyTimeout` while another process (a backup, an operator's `sqlite3`) holds the lock.
    public static func open(
        directory: String, name: String, busyTimeout: Duration = .seconds(5),
        migrations: (inout DatabaseMigrator) -> Void = { _ in }
    ) throws -> ServiceStore {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError("cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout.timeInterval)
        configuration.label = name
        configuration.prepareDatabase { db in try ServiceStore.tune(db) }
        let pool = try DatabasePool(path: "\(directory)/\(name).sqlite", configuration: configuration)
        return try ServiceStore(writer: pool, migrations: migrations)
    }

    /// Settings of every connection (docs/pipeline.md, "The store's settings"). Debian's SQLite is
    /// built with `SECURE_DELETE`, which zeroes every deleted row on disk: the relay deletes each
    /// published outbox row, so that doubled the pages each of those transactions wrote. `FAST`
    /// zeroes only where it costs no extra write. Savepoints (one per event of a batch) keep their
    /// undo pages in memory instead of a temporary file. The writer commits with GRDB's WAL setting,
    /// `synchronous = NORMAL`: a killed process loses no commit, a power cut can lose the last ones
    /// (docs/architecture.md, "Durability").
    static func tune(_ db: Database) throws {
        try db.execute(sql: "PRAGMA secure_delete = FAST; PRAGMA temp_store = MEMORY")
    }

    /// An in-memory store, for unit tests of adapters.
    public static func inMemory(migrations: (inout DatabaseMigrator) -> Void = { _ in }) throws -> ServiceStore {
        try ServiceStore(writer: DatabaseQueue(), migrations: migrations)
    }

    /// Connects to the PostgreSQL database at `url` and migrates it: the kit's tables, then
    /// `migrations`. Several instances of a service may share the database (docs/postgres.md).
    public static func open(
        postgres url: PGURL, name: String, migrations: (inout PGMigrator) -> Void = { _ in }
    ) throws -> ServiceStore {
        try ServiceStore(postgres: PostgresStore(url: url, name: name, migrations: migrations))
    }

    private init(postgres: PostgresStore) throws {
        engine = .postgres(postgres)
        outbox = OutboxHandoff()
        cursors = CursorSigner(key: try postgres.writeNow(outbox: nil) { db in try CursorSigner.key(in: db) })
    }

    private init(writer: any DatabaseWriter, migrations: (inout DatabaseMigrator) -> Void) throws {
        self.engine = .sqlite(writer)
        self.outbox = OutboxHandoff()
        var migrator = DatabaseMigrator()
        migrator.registerMigration("kit-v1-outbox-inbox") { db in
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("eventId", .text).notNull().unique()
                t.column("subject", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("headers", .text).notNull()
                t.column("oncePerSubject", .boolean).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "inbox") { t in
                t.primaryKey {
                    t.column("consumer", .text)
                    t.column("eventId", .text)
                }
                t.column("processedAt", .datetime).notNull()
            }
        }
        migrations(&migrator)
        // After the services' own migrations, which existing stores have already applied.
        migrator.registerMigration("kit-v2-secrets") { db in
            try db.create(table: "kit_secret") { t in
                t.primaryKey("name", .text)
                t.column("value", .blob).notNull()
            }
        }
        migrator.registerMigration("kit-v3-retention") { db in
            // Tombstones get a time, so that they can be pruned; those already there count from now.
            if try db.tableExists("cancelledOrder") {
                try db.execute(sql: "ALTER TABLE cancelledOrder ADD COLUMN cancelledAt DOUBLE NOT NULL DEFAULT 0")
                try db.execute(
                    sql: "UPDATE cancelledOrder SET cancelledAt = ?", arguments: [Date().timeIntervalSince1970])
                try db.create(index: "cancelledOrder_cancelledAt", on: "cancelledOrder", columns: ["cancelledAt"])
            }
        }
        try migrator.migrate(writer)
        cursors = CursorSigner(key: try writer.write { db in try CursorSigner.key(in: StoreSession(db)) })
        let outbox = self.outbox
        writer.writeWithoutTransaction { db in outbox.attach(to: db) }
    }
}

extension Duration {
    /// In seconds, for Foundation and GRDB.
    public var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension ServiceStore {
    /// Runs `body` in a write transaction. Every write of a service goes through here, so that the
    /// outbox hand-off starts each transaction clean: when SQLite rolls a transaction back by itself
    /// (a full disk), GRDB does not tell transaction observers, and rows staged in it must never be
    /// published with the next commit.
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        let outbox = self.outbox
        switch engine {
        case .sqlite(let writer):
            return try await writer.write { db in
                outbox.beginTransaction()
                return try body(StoreSession(db, scratch: outbox.scratch))
            }
        case .postgres(let store):
            return try await store.write(outbox: outbox, body)
        }
    }

    /// Reads a consistent snapshot of the store, off the writer.
    public func read<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let writer): try await writer.read { db in try body(StoreSession(db, scratch: nil)) }
        case .postgres(let store): try await store.read(body)
        }
    }
}

/// A store failure that is not SQLite's own (the data directory, for example).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
