import Contracts
import Foundation
import GRDB
import Logging
import ServiceKit
import ServiceTestSupport
import Synchronization
import TestSupport
import Testing

@testable import ServiceKit

/// The batched pipeline's store side: one transaction per pulled batch, each event decided on its
/// own, and the outbox rows of what committed handed straight to the relay.
@Suite("Batched apply, outbox hand-off and group commit", .serialized, .timeLimit(.minutes(1)))
struct BatchApplyTests {
    static let descriptor = ServiceDescriptor(name: "batchtest", defaultPort: 8099, streams: [])

    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("effect") { db in
            try db.create(table: "effect") { t in t.primaryKey("eventId", .text) }
        }
    }

    /// An event of the catalogue for order `index`, with its own id.
    static func event(_ index: Int) -> AnyEvent {
        AnyEvent(
            CloudEvent(
                data: OrderCancellationRequested(
                    orderId: HandlerBench.orderId(index), requestedAt: Timestamp.string(Date())),
                causationid: nil, traceparent: nil))
    }

    struct Boom: Error {}

    @Test func aBatchCommitsOnceAndEachEventIsDecidedOnItsOwn() async throws {
        let bench = try await HandlerBench(Self.descriptor, migrations: Self.migrations)
        defer { Task { await bench.close() } }
        let service = bench.context
        let events = (0..<6).map(Self.event)
        // 0 done, 1 not yet, 2 rejected, 3 fails, 4 done, and 0 again (a redelivery in the same batch).
        let batch = events[0...4] + [events[0]]
        let commits = CommitCounter()
        try await service.store.writer.writeWithoutTransaction { db in db.add(transactionObserver: commits) }
        let results = await service.applyBatch(Array(batch), consumer: "batchtest-orders") { event, db in
            // Every event writes its effect and its outcome event first; only `.done` may keep them.
            try db.execute("INSERT INTO effect (eventId) VALUES (?)", [event.id])
            try Outbox.append([Self.outcome(of: event)], in: db)
            switch event.id {
            case events[1].id: return .notYet("waits")
            case events[2].id: return .reject("never")
            case events[3].id: throw Boom()
            default: return .done
            }
        }
        #expect(results.count == 6)
        #expect(try results[0].get() == .done)
        #expect(try results[1].get() == .notYet("waits"))
        #expect(try results[2].get() == .reject("never"))
        #expect(throws: Boom.self) { try results[3].get() }
        #expect(try results[4].get() == .done)
        #expect(try results[5].get() == .done)
        #expect(commits.count == 1, "one transaction for the whole batch")

        let (effects, inbox, outbox) = try await service.store.writer.read { db in
            (
                try String.fetchAll(db, sql: "SELECT eventId FROM effect ORDER BY eventId"),
                try String.fetchAll(db, sql: "SELECT eventId FROM inbox ORDER BY eventId"),
                try String.fetchAll(db, sql: "SELECT subject FROM outbox ORDER BY seq")
            )
        }
        #expect(effects == [events[0].id, events[4].id].sorted())
        #expect(inbox == [events[0].id, events[4].id].sorted())
        let expected = [events[0], events[4]].map { Self.outcome(of: $0).natsSubject }
        #expect(outbox == expected)
        // The relay gets exactly the committed rows, in commit order, without reading the store.
        let handedOff = service.store.outbox.take(limit: 100)
        #expect(!handedOff.mustRead)
        #expect(handedOff.entries.map(\.subject) == expected)
        #expect(handedOff.entries.map { $0.seq ?? 0 } == handedOff.entries.map { $0.seq ?? 0 }.sorted())
    }

    @Test func aBatchWhoseCommitFailsFailsEveryEventAndHandsNothingOff() async throws {
        let bench = try await HandlerBench(Self.descriptor, migrations: Self.migrations)
        defer { Task { await bench.close() } }
        let service = bench.context
        let events = (0..<4).map(Self.event)
        let results = await service.applyBatch(events, consumer: "batchtest-orders") { event, db in
            try db.execute("INSERT INTO effect (eventId) VALUES (?)", [event.id])
            try Outbox.append([Self.outcome(of: event)], in: db)
            // A failure SQLite ends the transaction with (as a full disk can).
            if event.id == events[2].id { try db.run("ROLLBACK") }
            return .done
        }
        #expect(results.count == 4)
        for result in results { #expect(throws: (any Error).self) { try result.get() } }
        let (effects, inbox, outbox) = try await service.store.writer.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM effect") ?? -1,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inbox") ?? -1,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? -1
            )
        }
        #expect(effects == 0 && inbox == 0 && outbox == 0)
        #expect(service.store.outbox.take(limit: 100).entries.isEmpty)
    }

    /// A committed batch tells the service's waiting room the orders of the events it applied, so
    /// that their early events (waiting in another consumer) are applied at once; an event not yet
    /// applicable, one already in the inbox, and a batch whose commit failed tell it nothing.
    @Test func aCommitReleasesTheOrdersOfTheEventsItApplied() async throws {
        let bench = try await HandlerBench(Self.descriptor, migrations: Self.migrations)
        defer { Task { await bench.close() } }
        let service = bench.context
        let room = service.waitingRoom
        let events = (0..<5).map(Self.event)
        _ = await service.applyBatch([events[3]], consumer: "batchtest-orders") { _, _ in .done }
        let mark = room.mark()
        _ = await service.applyBatch([events[0], events[1], events[3]], consumer: "batchtest-orders") { event, _ in
            event.id == events[1].id ? .notYet("waits") : .done
        }
        // Event 2 is applied, then the transaction fails (as a full disk can end it) at event 4.
        let failed = await service.applyBatch([events[2], events[4]], consumer: "batchtest-orders") { event, db in
            if event.id == events[4].id { try db.run("ROLLBACK") }
            return .done
        }
        #expect(throws: (any Error).self) { try failed[0].get() }
        func released(_ event: AnyEvent) async -> Bool {
            await room.wait(for: event.orderId, after: mark, timeout: .milliseconds(50))
        }
        #expect(await released(events[0]))
        #expect(await released(events[1]) == false)  // not yet applied
        #expect(await released(events[2]) == false)  // its transaction did not commit
        #expect(await released(events[3]) == false)  // in the inbox already: applied before the mark
    }

    @Test func concurrentRequestWritesAreCommittedTogetherAndFailAlone() async throws {
        let bench = try await HandlerBench(Self.descriptor, migrations: Self.migrations)
        defer { Task { await bench.close() } }
        let service = bench.context
        let commits = CommitCounter()
        try await service.store.writer.writeWithoutTransaction { db in db.add(transactionObserver: commits) }
        let writes = 64
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<writes {
                group.addTask {
                    do {
                        _ = try await service.commitTogether { db in
                            try db.execute("INSERT INTO effect (eventId) VALUES (?)", ["w\(index)"])
                            try Outbox.append([Self.outcome(of: Self.event(index))], in: db)
                            if index % 10 == 3 { throw Boom() }  // its own writes go, the others' stay
                        }
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            var outcomes: [Int: Bool] = [:]
            for await (index, ok) in group { outcomes[index] = ok }
            return outcomes
        }
        let failed = Set((0..<writes).filter { $0 % 10 == 3 })
        #expect(outcomes.filter { !$0.value }.map(\.key).sorted() == failed.sorted())
        let effects = try await service.store.writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT eventId FROM effect"))
        }
        #expect(effects == Set((0..<writes).filter { !failed.contains($0) }.map { "w\($0)" }))
        #expect(service.store.outbox.take(limit: 1000).entries.count == writes - failed.count)
        #expect(commits.count < writes, "concurrent writes share transactions (\(commits.count) commits)")
    }

    static func outcome(of event: AnyEvent) -> AnyEvent {
        AnyEvent(
            CloudEvent(
                data: ShippingCancellationRejected(orderId: event.orderId, reason: .alreadyDispatched),
                causationid: event.id, traceparent: nil))
    }
}

/// Counts the store's commits.
final class CommitCounter: TransactionObserver, @unchecked Sendable {
    // @unchecked: called by GRDB on the writer queue only; read by the test after the writes.
    private let commits = Atomic<Int>(0)
    var count: Int { commits.load(ordering: .relaxed) }
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.add(1, ordering: .relaxed) }
    func databaseDidRollback(_ db: Database) {}
}
