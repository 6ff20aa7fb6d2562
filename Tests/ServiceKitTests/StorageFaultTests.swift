import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing

/// A store in a fresh temporary folder, with one table the tests write to.
private func temporaryStore(busyTimeout: Duration = .milliseconds(200)) throws -> (ServiceStore, URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "troupe-store-\(UUID().uuidString.prefix(8))")
    let store = try ServiceStore.open(directory: directory.path, name: "test", busyTimeout: busyTimeout) { migrator in
        migrator.registerMigration("notes") { db in
            try db.create(table: "note") { t in
                t.column("id", .text).primaryKey()
                t.column("body", .blob).notNull()
            }
        }
    }
    return (store, directory)
}

private func insert(_ id: String, bytes: Int = 16, into store: ServiceStore) async throws {
    try await store.writer.write { db in
        try db.execute(sql: "INSERT INTO note (id, body) VALUES (?, ?)", arguments: [id, Data(count: bytes)])
    }
}

private func count(in store: ServiceStore) async throws -> Int {
    try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM note") ?? 0 }
}

/// An app whose one route writes a note: store failures reach the error middleware as they are.
private func app(_ store: ServiceStore) -> some ApplicationProtocol {
    let router = HTTPKit.router(health: HealthChecks())
    router.post("/notes/:id") { request, context -> JSONResponse<[String: String]> in
        let id = try context.parameters.require("id")
        try await insert(id, bytes: request.uri.queryParameters.get("bytes", as: Int.self) ?? 16, into: store)
        return JSONResponse(["id": id], status: .created)
    }
    return Application(router: router)
}

private func errorBody(_ buffer: ByteBuffer) throws -> (code: String?, message: String?) {
    let json = try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    let error = json["error"] as? [String: Any]
    return (error?["code"] as? String, error?["message"] as? String)
}

@Suite("Store faults: a locked store or a full disk answers 503 and keeps nothing half-done")
struct StorageFaultTests {
    @Test func aStoreLockedByAnotherProcessAnswers503AndWorksOnceReleased() async throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Another connection (an operator's sqlite3, a backup) takes the write lock and keeps it.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(
            path: directory.appendingPathComponent("test.sqlite").path, configuration: configuration)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN EXCLUSIVE") }

        await #expect {
            try await insert("n1", into: store)
        } throws: { error in
            StorageFault(error)?.reason == "store locked by another process"
        }
        try await app(store).test(.router) { client in
            try await client.execute(uri: "/notes/n1", method: .post) { (response) throws in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                let (code, message) = try errorBody(response.body)
                #expect(code == "unavailable")
                #expect(message?.contains("store locked by another process") == true, "\(message ?? "")")
            }
            try await other.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
            try await client.execute(uri: "/notes/n1", method: .post) { #expect($0.status == .created) }
        }
        #expect(try await count(in: store) == 1)
    }

    @Test func aFullDiskAnswers503KeepsNothingOfTheWriteAndWorksOnceThereIsRoom() async throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await insert("small", into: store)
        // The database may not grow past its current size: SQLite's own SQLITE_FULL, as from a full disk.
        try await store.writer.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        await #expect {
            try await insert("big", bytes: 1 << 20, into: store)
        } throws: { error in
            StorageFault(error)?.reason == "disk full"
        }
        let before = try await count(in: store)
        try await app(store).test(.router) { client in
            try await client.execute(uri: "/notes/full?bytes=1048576", method: .post) { (response) throws in
                #expect(response.status == .serviceUnavailable)
                let (code, message) = try errorBody(response.body)
                #expect(code == "unavailable")
                #expect(message?.contains("disk full") == true, "\(message ?? "")")
            }
        }
        #expect(try await count(in: store) == before, "the failed writes left nothing behind")
        try await store.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1000000") }
        try await insert("big", bytes: 1 << 20, into: store)
        #expect(try await count(in: store) == before + 1)
    }

    @Test func otherDatabaseErrorsAreNotStoreFaults() async throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await insert("n1", into: store)
        await #expect {
            try await insert("n1", into: store)
        } throws: { error in
            error is DatabaseError && StorageFault(error) == nil
        }
        try await app(store).test(.router) { client in
            try await client.execute(uri: "/notes/n1", method: .post) { (response) throws in
                #expect(response.status == .internalServerError)
                #expect(try errorBody(response.body).code == "internal")
            }
        }
    }

    /// A group commit answers its writers only once its transaction has committed. When SQLite
    /// rolls the group's transaction back by itself (as on a full disk; here a trigger's
    /// `RAISE(ROLLBACK)`), GRDB does not tell its transaction observers, so an answer hung on one
    /// would fire at the next commit, another writer's: a 202 for an order never stored.
    @Test func aGroupThatSQLiteRollsBackByItselfAnswersNoWriterWithSuccess() async throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await store.writer.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER boom BEFORE INSERT ON note WHEN NEW.id = 'boom'
                    BEGIN SELECT RAISE(ROLLBACK, 'rolled back by SQLite itself'); END
                    """)
        }
        let group = GroupCommit(store: store)
        // Hold the store's writer, so that the next writes queue up and A and B share one group.
        let release = DispatchSemaphore(value: 0)
        let holding = Task { try await store.writer.write { _ in _ = release.wait(timeout: .now() + 10) } }
        try await Task.sleep(for: .milliseconds(100))
        let first = Task { try await group.write { db in try Self.note("w0", db) } }
        try await Task.sleep(for: .milliseconds(100))  // the committer now waits with [w0]
        let a = Task {
            try await group.write { db in
                try Self.note("a", db)
                // Another writer queues up behind this transaction meanwhile, and commits right after it.
                Task { try await insert("c", into: store) }
                usleep(200_000)
            }
        }
        let b = Task { try await group.write { db in try Self.note("boom", db) } }
        try await Task.sleep(for: .milliseconds(100))
        release.signal()
        try await holding.value
        try await first.value
        let answers = [await Self.succeeded(a), await Self.succeeded(b)]
        #expect(answers == [false, false], "no writer of the rolled-back group was told it succeeded")
        try await Task.sleep(for: .milliseconds(300))
        let ids = try await store.writer.read { db in try String.fetchAll(db, sql: "SELECT id FROM note ORDER BY id") }
        #expect(ids == ["c", "w0"], "the other writer committed; nothing of the group remains")
    }

    private static func note(_ id: String, _ db: StoreSession) throws {
        try db.execute("INSERT INTO note (id, body) VALUES (?, ?)", [id, Data(count: 8)])
    }

    private static func succeeded(_ task: Task<Void, any Error>) async -> Bool {
        if case .success = await task.result { return true }
        return false
    }
}
