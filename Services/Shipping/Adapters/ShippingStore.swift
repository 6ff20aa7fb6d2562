import Contracts
import Foundation
import GRDB
import Postgres
import ServiceKit

/// Shipping's tables.
enum ShippingStore {
    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("shipping-v1") { db in
            try db.create(table: "address") { t in
                t.primaryKey("orderId", .text)
                t.column("address", .text).notNull()
            }
            try db.create(table: "shipment") { t in
                t.primaryKey("orderId", .text)
                t.column("document", .text).notNull()
                t.column("status", .text).notNull()
                t.column("dispatchAt", .double)
            }
            try db.create(index: "shipmentDue", on: "shipment", columns: ["status", "dispatchAt"])
            try Tombstones.createTable(in: db)
        }
    }

    /// The same tables in PostgreSQL (`TROUPE_DATABASE_URL`); the kit makes the outbox, the inbox
    /// and the tombstones.
    static func postgresMigrations(_ migrator: inout PGMigrator) {
        migrator.register("shipping-v1") { db in
            try db.run(
                """
                CREATE TABLE address (orderId text PRIMARY KEY, address text NOT NULL);
                CREATE TABLE shipment (
                    orderId text PRIMARY KEY, document text NOT NULL, status text NOT NULL,
                    dispatchAt double precision
                );
                CREATE INDEX shipmentDue ON shipment (status, dispatchAt);
                """)
        }
    }

    static func state(orderId: String, in db: StoreSession) throws -> ShippingState {
        // One decision at a time per order, whichever instance makes it (the dispatch timer's too).
        try db.lock([LockKey.order(orderId)])
        let address = try db.value(String.self, "SELECT address FROM address WHERE orderId = ?", [orderId])
            .map { try storeDecoder.decode(ShippingAddress.self, from: Data($0.utf8)) }
        let cancelled =
            try Tombstones.isCancelled(orderId, in: db)
        return ShippingState(address: address, shipment: try shipment(orderId, in: db), cancelled: cancelled)
    }

    static func save(_ state: ShippingState, orderId: String, in db: StoreSession) throws {
        if let address = state.address {
            try db.execute(
                "INSERT INTO address (orderId, address) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [orderId, String(decoding: try storeEncoder.encode(address), as: UTF8.self)])
        }
        if let shipment = state.shipment {
            try db.execute(
                """
                INSERT INTO shipment (orderId, document, status, dispatchAt) VALUES (?, ?, ?, ?)
                ON CONFLICT (orderId) DO UPDATE SET document = excluded.document, status = excluded.status,
                    dispatchAt = excluded.dispatchAt
                """,
                [
                    orderId, String(decoding: try storeEncoder.encode(shipment), as: UTF8.self),
                    shipment.status.rawValue, shipment.dispatchAt?.timeIntervalSince1970,
                ])
        }
        if state.cancelled {
            try Tombstones.record(orderId, in: db)
        }
    }

    static func shipment(_ orderId: String, in db: StoreSession) throws -> Shipment? {
        try db.value(String.self, "SELECT document FROM shipment WHERE orderId = ?", [orderId])
            .map { try storeDecoder.decode(Shipment.self, from: Data($0.utf8)) }
    }

    /// Orders whose dispatch timer has fired.
    static func due(now: Date, limit: Int, in db: StoreSession) throws -> [String] {
        try db.values(
            String.self,
            "SELECT orderId FROM shipment WHERE status = 'SCHEDULED' AND dispatchAt <= ? ORDER BY dispatchAt LIMIT ?",
            [now.timeIntervalSince1970, limit])
    }
}

/// The store's coders, made once: making one costs about as much as a small encode, and each is
/// thread-safe.
private let storeEncoder = JSONEncoder()
private let storeDecoder = JSONDecoder()
