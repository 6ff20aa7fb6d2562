import Foundation
import GRDB
import ServiceKit
import Testing

@Suite("Store settings")
struct StoreSettingsTests {
    /// Every connection of a store on disk, the writer's and the readers', does without Debian's
    /// `SECURE_DELETE` and without temporary files for savepoints; the writer commits in WAL mode
    /// with `synchronous = NORMAL`, the durability docs/architecture.md ("Durability") states
    /// (docs/pipeline.md, "The store's settings").
    @Test func everyConnectionWritesNoExtraPagesAndTheWriterHasTheDocumentedDurability() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-settings-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ServiceStore.open(directory: directory.path, name: "s")
        func settings(_ db: Database, _ names: [String]) throws -> [String: String] {
            var found: [String: String] = [:]
            for name in names { found[name] = try String.fetchOne(db, sql: "PRAGMA \(name)") }
            return found
        }
        // secure_delete 2 = FAST, temp_store 2 = MEMORY, synchronous 1 = NORMAL.
        let written = try store.writer.write { db in
            try settings(db, ["journal_mode", "synchronous", "secure_delete", "temp_store"])
        }
        #expect(written == ["journal_mode": "wal", "synchronous": "1", "secure_delete": "2", "temp_store": "2"])
        let read = try store.writer.read { db in try settings(db, ["secure_delete", "temp_store"]) }
        #expect(read == ["secure_delete": "2", "temp_store": "2"])
    }
}
