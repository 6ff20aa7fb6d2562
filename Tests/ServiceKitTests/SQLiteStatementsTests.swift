import Foundation
import GRDB
import Testing

@testable import ServiceKit

/// The store's statements on SQLite's own interface (`SQLiteStatements`): every kind of value goes
/// in and comes out as it was, errors are GRDB's `DatabaseError` with SQLite's code, and what an
/// undone event savepoint wrote to the outbox is not handed to the publisher.
@Suite("SQLite statements")
struct SQLiteStatementsTests {
    @Test func everyKindOfValueComesBackAsItWent() async throws {
        let store = try ServiceStore.inMemory { migrator in
            migrator.registerMigration("t") { db in
                try db.execute(
                    sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, i INTEGER, d DOUBLE, b BOOLEAN, "
                        + "x BLOB, e BLOB, w DATETIME, n TEXT)")
            }
        }
        let text = "caf\u{E9} \u{1F4E6} nul\u{0}inside"
        let bytes = Data([0, 1, 2, 255])
        let when = Date(timeIntervalSince1970: 1_765_000_000.25)
        let row = try await store.write { db -> [String] in
            let none: String? = nil
            let inserted = try db.execute(
                "INSERT INTO t (id, s, i, d, b, x, e, w, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [1, text, Int64.max, 2.5, true, bytes, Data(), when, none])
            #expect(inserted == 1)
            guard let row = try db.row("SELECT s, i, d, b, x, e, w, n FROM t WHERE id = ?", [1]) else { return [] }
            let s: String = row[0]
            let i: Int64 = row[1]
            let d: Double = row[2]
            let b: Bool = row[3]
            let x: Data = row[4]
            let e: Data = row[5]
            let w: Date = row[6]
            let n: String? = row[7]
            return [
                s, "\(i)", "\(d)", "\(b)", x.base64EncodedString(), "\(e.count)", "\(w.timeIntervalSince1970)",
                "\(n as Any)",
            ]
        }
        #expect(
            row == [
                text, "\(Int64.max)", "2.5", "true", bytes.base64EncodedString(), "0", "1765000000.25", "nil",
            ])
    }

    @Test func rowsReadsEveryRowAndRowTheFirst() async throws {
        let store = try ServiceStore.inMemory()
        let (all, first, none) = try await store.write { db -> ([Int], Int?, Int?) in
            try db.run("CREATE TABLE n (v INTEGER)")
            for value in [3, 1, 2] { try db.execute("INSERT INTO n (v) VALUES (?)", [value]) }
            return (
                try db.values(Int.self, "SELECT v FROM n ORDER BY v"),
                try db.value(Int.self, "SELECT v FROM n ORDER BY v DESC"),
                try db.value(Int.self, "SELECT v FROM n WHERE v > ?", [9])
            )
        }
        #expect(all == [1, 2, 3])
        #expect(first == 3)
        #expect(none == nil)
    }

    @Test func errorsAreSQLitesOwnAndTheStatementWorksAfterwards() async throws {
        let store = try ServiceStore.inMemory()
        try await store.write { db in
            try db.run("CREATE TABLE k (id TEXT PRIMARY KEY)")
            try db.execute("INSERT INTO k (id) VALUES (?)", ["a"])
            let duplicate = #expect(throws: DatabaseError.self) {
                try db.execute("INSERT INTO k (id) VALUES (?)", ["a"])
            }
            #expect(duplicate?.resultCode == .SQLITE_CONSTRAINT)
            #expect(duplicate?.message?.contains("UNIQUE") == true)
            let missing = #expect(throws: DatabaseError.self) { try db.execute("INSERT INTO k (id) VALUES (?)", []) }
            #expect(missing?.resultCode == .SQLITE_MISUSE)
            // The statement that failed runs again.
            #expect(try db.execute("INSERT INTO k (id) VALUES (?)", ["b"]) == 1)
            #expect(try db.values(String.self, "SELECT id FROM k ORDER BY id") == ["a", "b"])
        }
    }

    @Test func onlyTheOutboxRowsOfKeptEventsAreHandedOnAtTheCommit() async throws {
        let store = try ServiceStore.inMemory()
        struct Boom: Error {}
        try await store.write { db in
            try db.inEventSavepoint {
                try Outbox.append(entry("kept"), in: db)
                return .commit
            }
            try db.inEventSavepoint {
                try Outbox.append(entry("undone"), in: db)
                return .rollback
            }
            try? db.inEventSavepoint {
                try Outbox.append(entry("failed"), in: db)
                throw Boom()
            }
            try db.inEventSavepoint {
                try Outbox.append(entry("kept too"), in: db)
                return .commit
            }
            // Nothing before the commit.
            #expect(store.outbox.take(limit: 10).entries.isEmpty)
        }
        // No publisher is set: the hand-off queues what was committed for the relay, in order.
        #expect(store.outbox.take(limit: 10).entries.map(\.eventId) == ["kept", "kept too"])
        #expect(
            try await store.read { db in try Outbox.pending(limit: 10, in: db).map(\.eventId) } == ["kept", "kept too"])
        // A transaction that rolls back hands nothing on, then or with the next commit.
        await #expect(throws: Boom.self) {
            try await store.write { db in
                try Outbox.append(entry("rolled back"), in: db)
                throw Boom()
            }
        }
        try await store.write { db in try Outbox.append(entry("next"), in: db) }
        #expect(store.outbox.take(limit: 10).entries.map(\.eventId) == ["next"])
    }
}

private func entry(_ id: String) -> OutboxEntry {
    OutboxEntry(
        eventId: id, subject: "test.placed.\(id)", payload: Data("{}".utf8), headers: [:], oncePerSubject: false)
}
