import GRDB

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
    static func list(orderId: String?, before: String?, limit: Int, in db: Database) throws -> [Item] {
        var sql = "SELECT * FROM notification WHERE notificationId < ?"
        var arguments: [any DatabaseValueConvertible] = [before ?? "ntf_~"]
        if let orderId {
            sql += " AND orderId = ?"
            arguments.append(orderId)
        }
        sql += " ORDER BY notificationId DESC LIMIT ?"
        arguments.append(limit)
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
            Item(
                notificationId: row["notificationId"], orderId: row["orderId"], customerId: row["customerId"],
                template: row["template"], channels: (row["channels"] as String).split(separator: ",").map(String.init),
                status: row["status"], sentAt: row["sentAt"])
        }
    }
}
