import Contracts
public import Foundation
import GRDB
public import Logging
import Messaging
public import ServiceLifecycle

/// Forgets what the store no longer needs to remember: inbox rows (ids of events already applied)
/// and tombstones (orders seen cancelled) older than `retention`.
///
/// Both exist to recognise an event that comes again: a redelivery, a consumer re-created at
/// runtime (it reads its stream from the start), an operator's replay. None of these can bring an
/// event older than what the streams keep (`maxAge`, 7 days by contract), so the retention is the
/// longest `maxAge` of the contract's streams plus a day. Rows go in small transactions, so that
/// pruning never holds the store's write lock for long; it runs soon after start and then hourly.
public struct StorePruner: Service {
    let store: ServiceStore
    let retention: Duration
    let logger: Logger

    /// The longest time a stream of the contract keeps an event, and a day more.
    public static let defaultRetention: Duration =
        (StreamDefinition.all.map(\.maxAge).max() ?? .seconds(7 * 24 * 3600)) + .seconds(24 * 3600)

    public init(store: ServiceStore, retention: Duration = StorePruner.defaultRetention, logger: Logger) {
        self.store = store
        self.retention = retention
        self.logger = logger
    }

    public func run() async throws {
        var delay = Duration.seconds(60)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await StreamKeeper.pause(delay)
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            do {
                let removed = try await prune(before: Date().addingTimeInterval(-retention.timeInterval))
                if removed.inbox + removed.tombstones > 0 {
                    logger.info(
                        "pruned the store",
                        metadata: ["inbox": "\(removed.inbox)", "tombstones": "\(removed.tombstones)"])
                }
                delay = .seconds(3600)
            } catch {
                // A locked or full store: try again later; nothing depends on it being done now.
                logger.warning("pruning the store failed", metadata: [LogKey.error: "\(StorageFault.describe(error))"])
                delay = .seconds(300)
            }
        }
    }

    /// Deletes inbox rows and tombstones older than `cutoff`, `batch` rows per transaction;
    /// returns how many of each went.
    @discardableResult
    public func prune(before cutoff: Date, batch: Int = 5000) async throws -> (inbox: Int, tombstones: Int) {
        let limit = cutoff.timeIntervalSince1970
        // The inbox has no index on its time (one more b-tree to write for every event): rows are
        // appended in time order, so the oldest are the first by rowid. Each pass looks at the
        // first `batch` rows and deletes those past the cutoff; it stops at the first young ones.
        // (PostgreSQL has no rowid: its inbox has an index on the time instead, and rows are taken
        // by their physical address, `ctid`.)
        let postgres = store.dialect == .postgres
        let inbox = try await deleteInBatches(
            postgres
                ? "DELETE FROM inbox WHERE ctid IN (SELECT ctid FROM inbox WHERE processedAt < ? LIMIT ?)"
                : "DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox ORDER BY rowid LIMIT ?) AND processedAt < ?",
            postgres ? [limit, batch] : [batch, limit], batch: batch)
        // (The SQLite stores of services without tombstones have no table for them.)
        if !postgres {
            let hasTombstones = try await store.read { db in
                try db.value(Int.self, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cancelledOrder'")
            }
            guard hasTombstones == 1 else { return (inbox, 0) }
        }
        let address = postgres ? "ctid" : "rowid"
        let tombstones = try await deleteInBatches(
            "DELETE FROM cancelledOrder WHERE \(address) IN "
                + "(SELECT \(address) FROM cancelledOrder WHERE cancelledAt < ? LIMIT ?)",
            [limit, batch], batch: batch)
        return (inbox, tombstones)
    }

    /// Runs `sql`, which deletes at most `batch` rows, in a transaction of its own until a pass
    /// deletes fewer; returns how many rows went in all.
    private func deleteInBatches(_ sql: String, _ arguments: [any StoreValue], batch: Int) async throws -> Int {
        var total = 0
        while true {
            let removed = try await store.write { db -> Int in try db.execute(sql, arguments) }
            total += removed
            if removed < batch { return total }
        }
    }
}
