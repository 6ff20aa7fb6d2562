import Foundation
import GRDB
import Postgres
import TestSupport
import Testing

@testable import ServiceKit

/// Two instances sharing one PostgreSQL outbox (a real server): each relay reading the store takes
/// only the rows its instance committed, or those whose instance's claim ran out (it died before
/// the broker confirmed them), and never rows another relay holds at that moment.
@Suite("Outbox claims between instances on PostgreSQL", .serialized, .timeLimit(.minutes(1)))
struct OutboxClaimTests {
    @Test func aRelayTakesItsOwnRowsAndThoseOfADeadInstanceOnly() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("claims"))
            let (a, b) = try await Blocking.run {
                (try ServiceStore.open(postgres: url, name: "test"), try ServiceStore.open(postgres: url, name: "test"))
            }
            try await a.write { db in
                for index in 1...3 { try Outbox.append(Self.entry("a\(index)"), in: db) }
            }
            try await b.write { db in try Outbox.append(Self.entry("b1"), in: db) }

            // Each relay sees its own rows, in order, and nothing of the other's live claim.
            #expect(
                try await a.write { db in try Outbox.pending(limit: 10, in: db).map(\.eventId) } == ["a1", "a2", "a3"])
            #expect(try await b.write { db in try Outbox.pending(limit: 10, in: db).map(\.eventId) } == ["b1"])
            // The rows keep their places in the one outbox.
            #expect(try await b.read { db in try Outbox.backlog(in: db).count } == 4)

            // While A's claims last, nothing is orphaned.
            #expect(try await b.read { db in try Outbox.hasOrphans(in: db) } == false)
            // Instance A dies; its claims run out: B sees orphans (A would not: they are its own),
            // and B's relay takes A's rows, in order, after its own.
            try server.psql(database: "claims", "UPDATE outbox SET claimedUntil = 0 WHERE eventId LIKE 'a%'")
            #expect(try await b.read { db in try Outbox.hasOrphans(in: db) })
            #expect(try await a.read { db in try Outbox.hasOrphans(in: db) } == false)
            #expect(
                try await b.write { db in try Outbox.pending(limit: 10, in: db).map(\.eventId) } == [
                    "a1", "a2", "a3", "b1",
                ])
            // Now B holds them: A (had it lived) takes none of them before B's claim runs out.
            #expect(try await a.write { db in try Outbox.pending(limit: 10, in: db).map(\.eventId) }.isEmpty)
        }
    }

    @Test func twoRelaysClaimingAtOnceNeverTakeTheSameRow() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("claims"))
            let (a, b) = try await Blocking.run {
                (try ServiceStore.open(postgres: url, name: "test"), try ServiceStore.open(postgres: url, name: "test"))
            }
            try await a.write { db in
                for index in 1...400 { try Outbox.append(Self.entry("e\(index)"), in: db) }
            }
            try server.psql(database: "claims", "UPDATE outbox SET claimedUntil = 0")
            // Both relays claim in small batches, side by side, until nothing is left to claim.
            async let first = Self.claimAll(a)
            async let second = Self.claimAll(b)
            let (byA, byB) = try await (first, second)
            #expect(Set(byA).isDisjoint(with: byB))
            #expect(Set(byA + byB).count == 400)
            #expect(!byA.isEmpty && !byB.isEmpty, "both took part: \(byA.count) and \(byB.count)")
        }
    }

    /// Claims batches of 10 and deletes them, as a relay does once the broker has them, until a
    /// claim comes back empty; returns the ids claimed.
    static func claimAll(_ store: ServiceStore) async throws -> [String] {
        var claimed: [String] = []
        while true {
            let batch = try await store.write { db in
                let rows = try Outbox.pending(limit: 10, in: db)
                try Outbox.remove(rows.compactMap(\.seq), in: db)
                return rows.map(\.eventId)
            }
            if batch.isEmpty { return claimed }
            claimed += batch
        }
    }

    static func entry(_ id: String) -> OutboxEntry {
        OutboxEntry(
            eventId: id, subject: "test.placed.\(id)", payload: Data("{}".utf8), headers: ["Nats-Msg-Id": id],
            oncePerSubject: false)
    }
}

/// `StoreSession.lock` on PostgreSQL: a lock is held to the end of the transaction, also when an
/// event's savepoint that took it first was undone (PostgreSQL releases it then: it is taken again).
@Suite("Decision locks between instances on PostgreSQL", .serialized, .timeLimit(.minutes(1)))
struct DecisionLockTests {
    @Test func aLockIsHeldAfterAnUndoneSavepointTookItFirst() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("locks"))
            let store = try await Blocking.run { try ServiceStore.open(postgres: url, name: "test") }
            let other = try await Blocking.run { try PGConnection(url: url) }
            // Whether another session can take `key` now (and lets it go at once if it could).
            let free: @Sendable (String) throws -> Bool = { key in
                let taken = try other.execute("SELECT pg_try_advisory_lock(hashtextextended(?, 0))", [key])
                guard taken.first?[0] == .bool(true) else { return false }
                try other.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", [key])
                return true
            }
            let seen = try await store.write { db -> [Bool] in
                var seen: [Bool] = []
                try db.inEventSavepoint {
                    try db.lock(["order:1"])
                    seen.append(try free("order:1"))  // held
                    return .rollback
                }
                seen.append(try free("order:1"))  // released with the savepoint
                try db.inEventSavepoint {
                    try db.lock(["order:1"])  // the next event of the batch
                    return .commit
                }
                seen.append(try free("order:1"))  // held again, to the end of the transaction
                return seen
            }
            #expect(seen == [false, true, false])
            #expect(try free("order:1"), "released at the commit")
        }
    }
}
