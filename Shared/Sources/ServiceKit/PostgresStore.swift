import Dispatch
import Foundation
import GRDB
import Postgres

/// A service's store in PostgreSQL (`TROUPE_DATABASE_URL`): the engine under `ServiceStore` when
/// the store is not SQLite.
///
/// Like GRDB's pool for SQLite, one connection writes, on a serial queue of its own, and another
/// reads, so that a route that only looks never waits behind a batch. Both are libpq connections
/// used synchronously on their queue (docs/postgres.md). A connection that broke (the server
/// restarted, the network went) fails the transaction in flight with a transient error — the
/// request answers 503, the event comes back — and is made again at the next use.
final class PostgresStore: @unchecked Sendable {
    // @unchecked: `writer` is touched only on `writeQueue`, `reader` only on `readQueue`.
    let url: PGURL
    private let name: String
    private let writeQueue: DispatchQueue
    private let readQueue: DispatchQueue
    private var writer: PGConnection?
    private var reader: PGConnection?
    /// This process among the instances sharing the database: the owner of the outbox rows it
    /// commits until their claim runs out (`Outbox.pending`).
    let instance = UUID().uuidString.lowercased()
    /// How long the rows an instance commits are its own to publish; after that (the instance
    /// died before its broker confirmed them, or restarted under a new `instance`) any instance's
    /// relay takes them (`Outbox.hasOrphans`). Short: a copy published by a second relay while the
    /// first still waits for its answer is dropped by the broker (`Nats-Msg-Id`), while a long claim
    /// holds a dead instance's events back for as long.
    static let claim: TimeInterval = 3

    /// Connects and migrates (the kit's tables, then the service's): one clear error if it cannot.
    init(url: PGURL, name: String, migrations: (inout PGMigrator) -> Void) throws {
        self.url = url
        self.name = name
        writeQueue = DispatchQueue(label: "troupe.store.\(name).write")
        readQueue = DispatchQueue(label: "troupe.store.\(name).read")
        let connection = try PGConnection(url: url, applicationName: name)
        var migrator = PGMigrator(lockKey: "troupe-\(name)")
        Self.kitMigrations(&migrator)
        migrations(&migrator)
        try migrator.migrate(connection)
        writer = connection
    }

    /// The kit's tables: the outbox, the inbox, the kit's secrets, the tombstones.
    static func kitMigrations(_ migrator: inout PGMigrator) {
        migrator.register("kit-v1") { db in
            try db.run(
                """
                CREATE TABLE outbox (
                    seq bigserial PRIMARY KEY,
                    eventId text NOT NULL UNIQUE,
                    subject text NOT NULL,
                    payload bytea NOT NULL,
                    headers text NOT NULL,
                    oncePerSubject boolean NOT NULL,
                    createdAt double precision NOT NULL,
                    claimedBy text NOT NULL,
                    claimedUntil double precision NOT NULL
                );
                CREATE TABLE inbox (
                    consumer text NOT NULL,
                    eventId text NOT NULL,
                    processedAt double precision NOT NULL,
                    PRIMARY KEY (consumer, eventId)
                );
                CREATE INDEX inbox_processedAt ON inbox (processedAt);
                CREATE TABLE kit_secret (name text PRIMARY KEY, value bytea NOT NULL);
                CREATE TABLE cancelledOrder (orderId text PRIMARY KEY, cancelledAt double precision NOT NULL);
                CREATE INDEX cancelledOrder_cancelledAt ON cancelledOrder (cancelledAt);
                """)
        }
    }

    /// Runs `body` in a transaction on the writing connection; after the commit, hands the outbox
    /// rows it kept to `outbox` and runs its `afterCommit` actions.
    func write<T: Sendable>(
        outbox: OutboxHandoff?, _ body: @escaping @Sendable (StoreSession) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writeQueue.async {
                continuation.resume(with: Result { try self.writeNow(outbox: outbox, body) })
            }
        }
    }

    /// `write`, on the calling thread (which must be the writing queue, or start-up).
    func writeNow<T>(outbox: OutboxHandoff?, _ body: (StoreSession) throws -> T) throws -> T {
        let connection = try live(&writer)
        let session = PostgresSession(connection, instance: instance)
        do {
            let value = try connection.transaction { try body(StoreSession(session)) }
            if !session.staged.isEmpty { outbox?.committed(session.staged) }
            for action in session.commitActions { action() }
            for action in session.endActions { action(true) }
            return value
        } catch {
            for action in session.endActions { action(false) }
            throw error
        }
    }

    /// Runs `body` on the reading connection, in a transaction of its own (one consistent snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            readQueue.async {
                continuation.resume(
                    with: Result {
                        let connection = try self.live(&self.reader)
                        return try connection.transaction(isolation: .repeatableRead) {
                            try body(StoreSession(PostgresSession(connection, instance: self.instance)))
                        }
                    })
            }
        }
    }

    /// The connection, made (again) when there is none or it broke.
    private func live(_ connection: inout PGConnection?) throws -> PGConnection {
        if let open = connection, open.isConnected { return open }
        connection = nil
        let fresh = try PGConnection(url: url, applicationName: name)
        connection = fresh
        return fresh
    }
}

/// What one PostgreSQL transaction of a store keeps beside the connection: the outbox rows and the
/// actions to run once it commits, undone with the savepoint they were added in.
final class PostgresSession {
    let connection: PGConnection
    /// The instance the outbox rows of this transaction belong to (`PostgresStore.instance`).
    let instance: String
    var staged: [OutboxEntry] = []
    var commitActions: [@Sendable () -> Void] = []
    var endActions: [@Sendable (Bool) -> Void] = []
    /// The advisory locks this transaction holds (`StoreSession.lock`): each is taken once.
    var locked: Set<String> = []

    init(_ connection: PGConnection, instance: String) {
        self.connection = connection
        self.instance = instance
    }

    /// `StoreSession.inEventSavepoint` on PostgreSQL.
    ///
    /// PostgreSQL releases the locks taken inside a savepoint that is rolled back, so the record of
    /// the locks held goes back with it: a later event of the batch takes them again.
    func inSavepoint(_ body: () throws -> Database.TransactionCompletion) throws {
        let marks = (staged.count, commitActions.count)
        let lockedBefore = locked
        do {
            try connection.savepoint {
                if try body() == .rollback { throw UndoSavepoint() }
            }
        } catch is UndoSavepoint {
            undo(to: marks)
            locked = lockedBefore
        } catch {
            undo(to: marks)
            locked = lockedBefore
            throw error
        }
    }

    private func undo(to marks: (Int, Int)) {
        staged.removeLast(staged.count - marks.0)
        commitActions.removeLast(commitActions.count - marks.1)
    }

    /// Thrown inside a savepoint to undo it when its body answered `.rollback`.
    private struct UndoSavepoint: Error {}
}
