import Foundation
import GRDB
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import ServiceKit

/// `StoreSession.afterCommit`: an effect outside the store follows only what was stored, in SQLite
/// and in PostgreSQL (a real server started by the test).
@Suite("After-commit actions follow the event savepoints", .serialized, .timeLimit(.minutes(1)))
struct AfterCommitTests {
    struct Boom: Error {}

    final class Ran: Sendable {
        private let names = Mutex<[String]>([])
        func add(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    @Test(arguments: [StoreDialect.sqlite, .postgres])
    func runsAfterTheCommitOnlyWhatEachKeptSavepointAdded(_ dialect: StoreDialect) async throws {
        try await withStore(dialect) { store in try await runsAfterTheCommitOnlyWhatEachKeptSavepointAdded(store) }
    }

    func runsAfterTheCommitOnlyWhatEachKeptSavepointAdded(_ store: ServiceStore) async throws {
        let ran = Ran()
        try await store.write { db in
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
        try await store.write { db in try db.run("CREATE TABLE t (a int)") }
        #expect(ran.all == ["kept", "kept too"])
    }

    @Test(arguments: [StoreDialect.sqlite, .postgres])
    func aTransactionThatRollsBackRunsNothingNowOrLater(_ dialect: StoreDialect) async throws {
        try await withStore(dialect) { store in try await aTransactionThatRollsBackRunsNothingNowOrLater(store) }
    }

    func aTransactionThatRollsBackRunsNothingNowOrLater(_ store: ServiceStore) async throws {
        let ran = Ran()
        await #expect(throws: Boom.self) {
            try await store.write { db in
                try db.inEventSavepoint {
                    db.afterCommit { ran.add("rolled back") }
                    return .commit
                }
                throw Boom()
            }
        }
        try await store.write { db in
            try db.run("CREATE TABLE u (a int)")
            db.afterCommit { ran.add("next") }
        }
        #expect(ran.all == ["next"])
    }
}

/// Runs `body` with an empty store of `dialect`: SQLite in memory, or a database of its own on a
/// PostgreSQL server started for it (and stopped afterwards).
func withStore(_ dialect: StoreDialect, _ body: (ServiceStore) async throws -> Void) async throws {
    switch dialect {
    case .sqlite:
        try await body(try ServiceStore.inMemory())
    case .postgres:
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("store"))
            let store = try await Blocking.run { try ServiceStore.open(postgres: url, name: "test") }
            try await body(store)
        }
    }
}
