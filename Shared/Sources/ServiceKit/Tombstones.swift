import Foundation
public import GRDB

/// Orders a service has seen cancelled (or, for shipping, has cancelled): nothing may be acquired
/// for them any more (docs/architecture.md, "Tombstones"). Each service keeps its own, in its own store.
public enum Tombstones {
    /// Creates the table, in a service's migration.
    public static func createTable(in db: Database) throws {
        try db.create(table: "cancelledOrder") { t in t.primaryKey("orderId", .text) }
    }

    public static func isCancelled(_ orderId: String, in db: StoreSession) throws -> Bool {
        try db.row("SELECT 1 FROM cancelledOrder WHERE orderId = ?", [orderId]) != nil
    }

    /// Records the tombstone, inside the caller's transaction; idempotent. `cancelledAt` (added by
    /// the kit's migration `kit-v3-retention`) lets `StorePruner` forget it after the retention.
    public static func record(_ orderId: String, in db: StoreSession) throws {
        try db.execute(
            "INSERT INTO cancelledOrder (orderId, cancelledAt) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [orderId, Date().timeIntervalSince1970])
    }
}
