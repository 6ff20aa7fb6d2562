import GRDB
import Postgres
import ServiceKit

/// Notification's table: one row per order and template.
enum NotificationStore {
    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notification-v1") { db in
            try db.create(table: "notification") { t in
                t.primaryKey("notificationId", .text)
                t.column("orderId", .text).notNull()
                t.column("customerId", .text).notNull()
                t.column("template", .text).notNull()
                t.column("channels", .text).notNull()
                t.column("status", .text).notNull()
                t.column("sentAt", .text).notNull()
                t.uniqueKey(["orderId", "template"])
            }
        }
    }

    /// The same table in PostgreSQL (`TROUPE_DATABASE_URL`); the kit makes the outbox and inbox.
    static func postgresMigrations(_ migrator: inout PGMigrator) {
        migrator.register("notification-v1") { db in
            try db.run(
                """
                CREATE TABLE notification (
                    notificationId text PRIMARY KEY, orderId text NOT NULL, customerId text NOT NULL,
                    template text NOT NULL, channels text NOT NULL, status text NOT NULL, sentAt text NOT NULL,
                    UNIQUE (orderId, template)
                );
                """)
        }
    }

    /// A sent (or failed) notification, as `GET /notifications` lists it.
    struct Item: Encodable, Sendable {
        let notificationId: String
        let orderId: String
        let customerId: String
        let template: String
        let channels: [String]
        let status: String
        let sentAt: String
    }

    /// Newest first, before the `before` id (a page's cursor), of one order when given.
    static func list(orderId: String?, before: String?, limit: Int, in db: StoreSession) throws -> [Item] {
        var sql =
            "SELECT notificationId, orderId, customerId, template, channels, status, sentAt FROM notification "
            + "WHERE notificationId < ?"
        var arguments: [any StoreValue] = [before ?? "ntf_~"]
        if let orderId {
            sql += " AND orderId = ?"
            arguments.append(orderId)
        }
        sql += " ORDER BY notificationId DESC LIMIT ?"
        arguments.append(limit)
        return try db.rows(sql, arguments).map { row in
            Item(
                notificationId: row[0], orderId: row[1], customerId: row[2], template: row[3],
                channels: (row[4] as String).split(separator: ",").map(String.init), status: row[5], sentAt: row[6])
        }
    }
}
