import Contracts
import GRDB
import Postgres
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

    /// The same tables in PostgreSQL (`TROUPE_DATABASE_URL`); the kit makes the outbox, the inbox
    /// and the tombstones.
    static func postgresMigrations(_ migrator: inout PGMigrator) {
        migrator.register("payment-v1") { db in
            try db.run(
                """
                CREATE TABLE account (
                    customerId text PRIMARY KEY, currency text NOT NULL, creditLimit bigint NOT NULL,
                    authorized bigint NOT NULL, captured bigint NOT NULL
                );
                CREATE TABLE payment (
                    orderId text PRIMARY KEY, paymentId text, customerId text NOT NULL, amount bigint NOT NULL,
                    currency text NOT NULL, status text NOT NULL
                );
                """)
        }
    }

    static func state(orderId: String, customerId: String?, in db: StoreSession) throws -> PaymentState {
        // One decision at a time per order and per account, whichever instance makes it.
        try db.lock([LockKey.order(orderId)])
        let payment = try self.payment(orderId, in: db)
        let customer = customerId ?? payment?.customerId
        if let customer { try db.lock([LockKey.account(customer)]) }
        let account = try customer.flatMap { try self.account($0, in: db) }
        let cancelled =
            try Tombstones.isCancelled(orderId, in: db)
        return PaymentState(account: account, payment: payment, cancelled: cancelled)
    }

    static func save(_ state: PaymentState, orderId: String, in db: StoreSession) throws {
        if let account = state.account { try save(account, in: db) }
        if let p = state.payment {
            try db.execute(
                """
                INSERT INTO payment (orderId, paymentId, customerId, amount, currency, status)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (orderId) DO UPDATE SET paymentId = excluded.paymentId,
                    customerId = excluded.customerId, amount = excluded.amount,
                    currency = excluded.currency, status = excluded.status
                """,
                [p.orderId, p.paymentId, p.customerId, p.amount, p.currency, p.status.rawValue])
        }
        if state.cancelled {
            try Tombstones.record(orderId, in: db)
        }
    }

    static func account(_ customerId: String, in db: StoreSession) throws -> Account? {
        // Columns named and read by position: a lookup by name compares names case-insensitively.
        try db.row(
            "SELECT customerId, currency, creditLimit, authorized, captured FROM account WHERE customerId = ?",
            [customerId]
        ).map { Account(customerId: $0[0], currency: $0[1], creditLimit: $0[2], authorized: $0[3], captured: $0[4]) }
    }

    static func save(_ account: Account, in db: StoreSession) throws {
        try db.execute(
            """
            INSERT INTO account (customerId, currency, creditLimit, authorized, captured)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (customerId) DO UPDATE SET currency = excluded.currency,
                creditLimit = excluded.creditLimit, authorized = excluded.authorized,
                captured = excluded.captured
            """,
            [account.customerId, account.currency, account.creditLimit, account.authorized, account.captured])
    }

    static func payment(_ orderId: String, in db: StoreSession) throws -> Payment? {
        try db.row(
            "SELECT orderId, paymentId, customerId, amount, currency, status FROM payment WHERE orderId = ?", [orderId]
        ).map {
            Payment(
                orderId: $0[0], paymentId: $0[1], customerId: $0[2], amount: $0[3], currency: $0[4],
                status: Payment.Status(rawValue: $0[5]) ?? .DECLINED)
        }
    }
}
