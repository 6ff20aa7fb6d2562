import Contracts
import GRDB
import ServiceKit

/// Payment's tables.
enum PaymentStore {
    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("payment-v1") { db in
            try db.create(table: "account") { t in
                t.primaryKey("customerId", .text)
                t.column("currency", .text).notNull()
                t.column("creditLimit", .integer).notNull()
                t.column("authorized", .integer).notNull()
                t.column("captured", .integer).notNull()
            }
            try db.create(table: "payment") { t in
                t.primaryKey("orderId", .text)
                t.column("paymentId", .text)
                t.column("customerId", .text).notNull()
                t.column("amount", .integer).notNull()
                t.column("currency", .text).notNull()
                t.column("status", .text).notNull()
            }
            try Tombstones.createTable(in: db)
        }
    }

    static func state(orderId: String, customerId: String?, in db: Database) throws -> PaymentState {
        let payment = try self.payment(orderId, in: db)
        let customer = customerId ?? payment?.customerId
        let account = try customer.flatMap { try self.account($0, in: db) }
        let cancelled =
            try Tombstones.isCancelled(orderId, in: db)
        return PaymentState(account: account, payment: payment, cancelled: cancelled)
    }

    static func save(_ state: PaymentState, orderId: String, in db: Database) throws {
        if let account = state.account { try save(account, in: db) }
        if let p = state.payment {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO payment (orderId, paymentId, customerId, amount, currency, status)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [p.orderId, p.paymentId, p.customerId, p.amount, p.currency, p.status.rawValue])
        }
        if state.cancelled {
            try Tombstones.record(orderId, in: db)
        }
    }

    static func account(_ customerId: String, in db: Database) throws -> Account? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE customerId = ?"), arguments: [customerId])
            .map {
                Account(
                    customerId: $0["customerId"], currency: $0["currency"], creditLimit: $0["creditLimit"],
                    authorized: $0["authorized"], captured: $0["captured"])
            }
    }

    static func save(_ account: Account, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO account (customerId, currency, creditLimit, authorized, captured)
                VALUES (?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            account.customerId, account.currency, account.creditLimit, account.authorized, account.captured,
        ])
    }

    static func payment(_ orderId: String, in db: Database) throws -> Payment? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM payment WHERE orderId = ?"), arguments: [orderId]).map {
            Payment(
                orderId: $0["orderId"], paymentId: $0["paymentId"], customerId: $0["customerId"], amount: $0["amount"],
                currency: $0["currency"], status: Payment.Status(rawValue: $0["status"]) ?? .DECLINED)
        }
    }
}
