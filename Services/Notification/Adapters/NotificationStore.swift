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
}
