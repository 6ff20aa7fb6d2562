import Contracts
import Foundation
import GRDB
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

    /// The state of one order for a decision: its reservation, whether it was cancelled, and the
    /// products named by `skus` (plus those of the reservation).
    static func state(orderId: String, skus: [String], in db: Database) throws -> InventoryState {
        var reservation: Reservation?
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM reservation WHERE orderId = ?"), arguments: [orderId])
        {
            reservation = Reservation(
                orderId: row["orderId"],
                lines: try storeDecoder.decode([Line].self, from: Data((row["lines"] as String).utf8)),
                status: Reservation.Status(rawValue: row["status"]) ?? .rejected)
        }
        let cancelled =
            try Tombstones.isCancelled(orderId, in: db)
        var products: [String: Product] = [:]
        for sku in Set(skus + (reservation?.lines.map(\.sku) ?? [])) {
            if let product = try product(sku, in: db) { products[sku] = product }
        }
        return InventoryState(products: products, reservation: reservation, cancelled: cancelled)
    }

    static func save(_ state: InventoryState, orderId: String, in db: Database) throws {
        for product in state.products.values { try save(product, in: db) }
        if let reservation = state.reservation {
            let lines = String(decoding: try storeEncoder.encode(reservation.lines), as: UTF8.self)
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO reservation (orderId, lines, status) VALUES (?, ?, ?)")
                .execute(arguments: [reservation.orderId, lines, reservation.status.rawValue])
        }
        if state.cancelled {
            try Tombstones.record(orderId, in: db)
        }
    }

    static func product(_ sku: String, in db: Database) throws -> Product? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM product WHERE sku = ?"), arguments: [sku]).map(product)
    }

    static func save(_ product: Product, in db: Database) throws {
        try db.cachedStatement(
            sql:
                "INSERT OR REPLACE INTO product (sku, name, unitPrice, currency, onHand, reserved) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [
            product.sku, product.name, product.unitPrice, product.currency, product.onHand, product.reserved,
        ])
    }

    static func products(after: String?, limit: Int, in db: Database) throws -> [Product] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM product WHERE sku > ? ORDER BY sku LIMIT ?"),
            arguments: [after ?? "", limit]
        ).map(product)
    }

    private static func product(_ row: Row) -> Product {
        Product(
            sku: row["sku"], name: row["name"], unitPrice: row["unitPrice"], currency: row["currency"],
            onHand: row["onHand"], reserved: row["reserved"])
    }
}

/// The store's coders, made once: making one costs about as much as a small encode, and each is
/// thread-safe.
private let storeEncoder = JSONEncoder()
private let storeDecoder = JSONDecoder()
