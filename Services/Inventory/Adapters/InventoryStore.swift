import Contracts
import Foundation
import GRDB
import Postgres
import ServiceKit

/// Inventory's tables and the reads and writes its handlers and routes need.
struct InventoryStore: Sendable {
    let store: ServiceStore

    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("inventory-v1") { db in
            try db.create(table: "product") { t in
                t.primaryKey("sku", .text)
                t.column("name", .text).notNull()
                t.column("unitPrice", .integer).notNull()
                t.column("currency", .text).notNull()
                t.column("onHand", .integer).notNull()
                t.column("reserved", .integer).notNull()
            }
            try db.create(table: "reservation") { t in
                t.primaryKey("orderId", .text)
                t.column("lines", .text).notNull()
                t.column("status", .text).notNull()
            }
            try Tombstones.createTable(in: db)
        }
    }

    /// The same tables in PostgreSQL (`TROUPE_DATABASE_URL`); the kit makes the outbox, the inbox
    /// and the tombstones.
    static func postgresMigrations(_ migrator: inout PGMigrator) {
        migrator.register("inventory-v1") { db in
            try db.run(
                """
                CREATE TABLE product (
                    sku text PRIMARY KEY, name text NOT NULL, unitPrice bigint NOT NULL, currency text NOT NULL,
                    onHand bigint NOT NULL, reserved bigint NOT NULL
                );
                CREATE TABLE reservation (orderId text PRIMARY KEY, lines text NOT NULL, status text NOT NULL);
                """)
        }
    }

    /// The state of one order for a decision: its reservation, whether it was cancelled, and the
    /// products named by `skus` (plus those of the reservation).
    static func state(orderId: String, skus: [String], in db: StoreSession) throws -> InventoryState {
        // One decision at a time per order and per product, whichever instance makes it.
        try db.lock([LockKey.order(orderId)])
        var reservation: Reservation?
        if let row = try db.row("SELECT orderId, lines, status FROM reservation WHERE orderId = ?", [orderId]) {
            // Columns named and read by position: a lookup by name compares names case-insensitively.
            reservation = Reservation(
                orderId: row[0],
                lines: try storeDecoder.decode([Line].self, from: Data((row[1] as String).utf8)),
                status: Reservation.Status(rawValue: row[2]) ?? .rejected)
        }
        let cancelled =
            try Tombstones.isCancelled(orderId, in: db)
        var products: [String: Product] = [:]
        let named = Set(skus + (reservation?.lines.map(\.sku) ?? []))
        try db.lock(named.map(LockKey.product))
        for sku in named {
            if let product = try product(sku, in: db) { products[sku] = product }
        }
        return InventoryState(products: products, reservation: reservation, cancelled: cancelled)
    }

    static func save(_ state: InventoryState, orderId: String, in db: StoreSession) throws {
        for product in state.products.values { try save(product, in: db) }
        if let reservation = state.reservation {
            let lines = String(decoding: try storeEncoder.encode(reservation.lines), as: UTF8.self)
            try db.execute(
                """
                INSERT INTO reservation (orderId, lines, status) VALUES (?, ?, ?)
                ON CONFLICT (orderId) DO UPDATE SET lines = excluded.lines, status = excluded.status
                """,
                [reservation.orderId, lines, reservation.status.rawValue])
        }
        if state.cancelled {
            try Tombstones.record(orderId, in: db)
        }
    }

    static func product(_ sku: String, in db: StoreSession) throws -> Product? {
        try db.row("SELECT \(productColumns) FROM product WHERE sku = ?", [sku]).map(product)
    }

    static func save(_ product: Product, in db: StoreSession) throws {
        try db.execute(
            """
            INSERT INTO product (sku, name, unitPrice, currency, onHand, reserved) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (sku) DO UPDATE SET name = excluded.name, unitPrice = excluded.unitPrice,
                currency = excluded.currency, onHand = excluded.onHand, reserved = excluded.reserved
            """,
            [product.sku, product.name, product.unitPrice, product.currency, product.onHand, product.reserved])
    }

    static func products(after: String?, limit: Int, in db: StoreSession) throws -> [Product] {
        try db.rows("SELECT \(productColumns) FROM product WHERE sku > ? ORDER BY sku LIMIT ?", [after ?? "", limit])
            .map(product)
    }

    private static let productColumns = "sku, name, unitPrice, currency, onHand, reserved"

    /// A row of `productColumns`, read by position.
    private static func product(_ row: StoreRow) -> Product {
        Product(
            sku: row[0], name: row[1], unitPrice: row[2], currency: row[3], onHand: row[4], reserved: row[5])
    }
}

/// The store's coders, made once: making one costs about as much as a small encode, and each is
/// thread-safe.
private let storeEncoder = JSONEncoder()
private let storeDecoder = JSONDecoder()
