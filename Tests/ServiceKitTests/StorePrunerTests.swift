import Foundation
import GRDB
import Logging
import ServiceKit
import Testing

@Suite("Store retention")
struct StorePrunerTests {
    @Test func forgetsInboxRowsAndTombstonesOlderThanTheRetentionAndKeepsTheRest() async throws {
        let store = try ServiceStore.inMemory { migrator in
            migrator.registerMigration("service") { db in try Tombstones.createTable(in: db) }
        }
        let now = Date().timeIntervalSince1970
        let day = 24 * 3600.0
        try await store.writer.write { (db) throws in
            for index in 0..<12 {
                try db.execute(
                    sql: "INSERT INTO inbox (consumer, eventId, processedAt) VALUES ('c', ?, ?)",
                    arguments: ["old\(index)", now - 9 * day])
            }
            #expect(try Inbox.markProcessed("new", consumer: "c", in: StoreSession(db)))
            try db.execute(
                sql: "INSERT INTO cancelledOrder (orderId, cancelledAt) VALUES ('ord_old', ?)",
                arguments: [now - 9 * day])
            try Tombstones.record("ord_new", in: StoreSession(db))
        }
        let pruner = StorePruner(store: store, logger: Logger(label: "test"))
        #expect(StorePruner.defaultRetention == .seconds(8 * 24 * 3600))
        // In batches smaller than what there is to delete.
        let removed = try await pruner.prune(
            before: Date().addingTimeInterval(-StorePruner.defaultRetention.timeInterval), batch: 5)
        #expect(removed.inbox == 12 && removed.tombstones == 1)
        try await store.writer.read { (db) throws in
            #expect(try Inbox.hasProcessed("new", consumer: "c", in: StoreSession(db)))
            #expect(try !Inbox.hasProcessed("old0", consumer: "c", in: StoreSession(db)))
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inbox") == 1)
            #expect(try Tombstones.isCancelled("ord_new", in: StoreSession(db)))
            #expect(try !Tombstones.isCancelled("ord_old", in: StoreSession(db)))
        }
    }

    @Test func tombstonesThatPredateTheirTimeCountFromTheUpgrade() throws {
        // A store made before tombstones had a time: its rows are kept a full retention from now.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-prune-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: directory.appendingPathComponent("s.sqlite").path)
        try old.write { db in
            try Tombstones.createTable(in: db)
            try db.execute(sql: "INSERT INTO cancelledOrder (orderId) VALUES ('ord_1')")
        }
        try old.close()
        let store = try ServiceStore.open(directory: directory.path, name: "s") { migrator in
            migrator.registerMigration("service") { db in
                if try !db.tableExists("cancelledOrder") { try Tombstones.createTable(in: db) }
            }
        }
        let time = try store.writer.read { db in
            try Double.fetchOne(db, sql: "SELECT cancelledAt FROM cancelledOrder WHERE orderId = 'ord_1'")
        }
        #expect(abs((time ?? 0) - Date().timeIntervalSince1970) < 60)
    }
}
