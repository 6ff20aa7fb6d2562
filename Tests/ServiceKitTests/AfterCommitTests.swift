import Foundation
import GRDB
import Synchronization
import Testing

@testable import ServiceKit

/// `Database.afterCommit`: an effect outside the store follows only what was stored.
@Suite("After-commit actions follow the event savepoints")
struct AfterCommitTests {
    struct Boom: Error {}

    final class Ran: Sendable {
        private let names = Mutex<[String]>([])
        func add(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    @Test func runsAfterTheCommitOnlyWhatEachKeptSavepointAdded() async throws {
        let store = try ServiceStore.inMemory()
        let ran = Ran()
        try await store.writeAsync { db in
            try db.inEventSavepoint {
                db.afterCommit { ran.add("kept") }
                return .commit
            }
            try db.inEventSavepoint {
                db.afterCommit { ran.add("undone") }
                return .rollback
            }
            try? db.inEventSavepoint {
                db.afterCommit { ran.add("failed") }
                throw Boom()
            }
            try db.inEventSavepoint {
                db.afterCommit { ran.add("kept too") }
                return .commit
            }
            // Nothing before the commit.
            #expect(ran.all.isEmpty)
        }
        #expect(ran.all == ["kept", "kept too"])
        // Once only: the next transaction runs nothing of them again.
        try await store.writeAsync { db in try db.execute(sql: "CREATE TABLE t (a)") }
        #expect(ran.all == ["kept", "kept too"])
    }

    @Test func aTransactionThatRollsBackRunsNothingNowOrLater() async throws {
        let store = try ServiceStore.inMemory()
        let ran = Ran()
        await #expect(throws: Boom.self) {
            try await store.writeAsync { db in
                try db.inEventSavepoint {
                    db.afterCommit { ran.add("rolled back") }
                    return .commit
                }
                throw Boom()
            }
        }
        try await store.writeAsync { db in
            try db.execute(sql: "CREATE TABLE u (a)")
            db.afterCommit { ran.add("next") }
        }
        #expect(ran.all == ["next"])
    }
}
