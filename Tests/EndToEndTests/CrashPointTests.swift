import Foundation
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
    ])
    func aServiceCrashingAtThisPointLosesAndDuplicatesNothing(_ service: String, _ fault: String) async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            try await cluster.stopServiceAsync(service)
            try cluster.start(service, environment: ["TROUPE_FAULT": fault])
            try await cluster.waitUntilReady(service)
            // The client keeps placing (and retrying) while the service dies and comes back.
            async let placed = cluster.placeLoad(count: 12, interval: .milliseconds(20))
            let status = try await cluster.waitForExit(service)
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
}
