import Foundation
import GRDB
import TestSupport
import Testing

/// Issue 4.3: a service killed (SIGKILL, by the test-only `TROUPE_FAULT` switch) at the worst
/// moments — after its commit and before the ack, after publishing and before clearing the
/// outbox, in the middle of a batch — restarts and the effects are still exactly once.
@Suite("Crash points end to end", .serialized, .timeLimit(.minutes(3)))
struct CrashPointTests {
    /// Short ack wait: what the crashed process held comes back quickly.
    static let environment = ["TROUPE_ACK_WAIT": "2s"]

    @Test(arguments: [
        ("inventory", "after-commit@3"),
        ("payment", "after-commit@2"),
        ("shipping", "after-commit@4"),
        ("order", "after-commit@2"),
        ("notification", "after-commit@1"),
        ("order", "after-publish@2"),
        ("inventory", "after-publish@1"),
        ("notification", "after-publish@2"),
        ("payment", "after-publish@2"),
        ("shipping", "after-publish@2"),
    ])
    func aServiceCrashingAtThisPointLosesAndDuplicatesNothing(_ service: String, _ fault: String) async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            try await cluster.stopServiceAsync(service)
            try cluster.start(service, environment: ["TROUPE_FAULT": fault])
            try await cluster.waitUntilReady(service)
            // The client keeps placing (and retrying) while the service dies and comes back.
            async let placed = cluster.placeLoad(count: 12, interval: .milliseconds(20))
            // (Up to a minute: under the whole suite's load on two cores, the events that reach the
            // crash point can take more than the usual half.)
            let status = try await cluster.waitForExit(service, timeout: 60)
            #expect(status == SIGKILL, "\(service)-service should have crashed at \(fault)")
            try cluster.start(service)
            let ids = await placed
            #expect(ids.count == 12)
            try await cluster.waitForAllFinal(ids, timeout: 60)
            return ids
        }
    }

    /// The order service drains a backlog (orders taken while NATS was away) in batches and dies
    /// halfway through one: the half already stored is not stored again, the rest follows.
    @Test func theRelayCrashingInTheMiddleOfABatchLosesAndDuplicatesNothing() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            try await cluster.stopServiceAsync("order")
            try cluster.start("order", environment: ["TROUPE_FAULT": "mid-batch@1"])
            try await cluster.waitUntilReady("order")
            try await Blocking.run { cluster.nats.kill() }
            let ids = await cluster.placeLoad(count: 10, interval: .milliseconds(10))
            #expect(ids.count == 10, "orders are accepted while NATS is away")
            try await Blocking.run { try cluster.nats.start() }
            let status = try await cluster.waitForExit("order")
            #expect(status == SIGKILL)
            try cluster.start("order")
            try await cluster.waitForAllFinal(ids, timeout: 60)
            return ids
        }
    }

    /// A service applies what it pulled as one batch, in one transaction. With a backlog waiting
    /// for it, its batches hold many events; it dies right after committing one of them and before
    /// acknowledging any of it. Every event of the batch comes back, and none has a second effect.
    /// Each of the five services in turn; how large a batch is depends on how fast the backlog
    /// arrives, so the proof that the crash came after a batch of several is asked of the five
    /// together.
    @Test func aServiceCrashingAfterCommittingABatchOfManyEventsAppliesEachOnce() async throws {
        var committed: [String: Int] = [:]
        for service in ["inventory", "payment", "shipping", "order", "notification"] {
            committed[service] = try await crashAfterABatch(service)
        }
        // More than five events committed: the batch a service died after held several of them
        // (with batches of one it would have died at exactly five).
        #expect(committed.values.contains { $0 > 5 }, "events committed before the crash: \(committed)")
    }

    /// Crashes `service` by `after-commit@5` on a backlog (killed right after the commit that
    /// applied its fifth event), restarts it, checks every guarantee; returns how many events it
    /// had committed when it died.
    private func crashAfterABatch(_ service: String) async throws -> Int {
        var applied = 0
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            let count = 24
            var ids: [String]
            if service == "order" {
                // The order service takes the orders while inventory is away, then stops; inventory
                // comes back, and everything the others answer piles up for the order service.
                try await cluster.stopServiceAsync("inventory")
                ids = await cluster.placeLoad(count: count, interval: .milliseconds(5))
                try await cluster.stopServiceAsync(service)
                try cluster.start("inventory")
                try await cluster.waitUntilReady("inventory")
                try await Task.sleep(for: .seconds(2))
            } else {
                try await cluster.stopServiceAsync(service)
                ids = await cluster.placeLoad(count: count, interval: .milliseconds(5))
                try await Task.sleep(for: .seconds(1))
            }
            #expect(ids.count == count)
            let before = try Self.inboxCount(cluster, service)
            try cluster.start(service, environment: ["TROUPE_FAULT": "after-commit@5"])
            let status = try await cluster.waitForExit(service)
            #expect(status == SIGKILL, "\(service)-service should have crashed after a commit")
            applied = try Self.inboxCount(cluster, service) - before
            #expect(applied >= 5, "\(service)-service committed \(applied) event(s) before it died")
            try cluster.start(service)
            try await cluster.waitForAllFinal(ids, timeout: 60)
            return ids
        }
        return applied
    }

    /// Events a (stopped) service has recorded in its inbox.
    static func inboxCount(_ cluster: Cluster, _ service: String) throws -> Int {
        let path = cluster.directory.appendingPathComponent("data/\(service)/\(service).sqlite").path
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inbox") ?? 0 }
    }
}
