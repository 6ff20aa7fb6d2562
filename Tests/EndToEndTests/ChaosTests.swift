import Foundation
import TestSupport
import Testing

/// Issue 4.4: while a bounded load of mixed orders runs, services crash (`kill -9`) and restart,
/// NATS restarts, every service is redeployed one by one; every order still terminates and every
/// guarantee of docs/architecture.md ("Guarantees") holds (checked by `withCluster` over the streams
/// and the APIs).
@Suite("Crashes and restarts under load", .serialized, .timeLimit(.minutes(4)))
struct ChaosTests {
    /// Short ack wait: what a killed process held comes back quickly.
    static let environment = ["TROUPE_ACK_WAIT": "2s"]

    @Test func killingEachServiceInTurnAndTwoAtOnceLosesNothing() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            async let placed = cluster.placeLoad(count: 70, interval: .milliseconds(100))
            for service in Cluster.services {
                try await Task.sleep(for: .milliseconds(700))
                try await cluster.stopServiceAsync(service, signal: SIGKILL)
                try await Task.sleep(for: .milliseconds(300))
                try cluster.start(service)
            }
            try await Task.sleep(for: .milliseconds(500))
            for pair in [["inventory", "payment"], ["order", "shipping"]] {
                for service in pair { try await cluster.stopServiceAsync(service, signal: SIGKILL) }
                try await Task.sleep(for: .milliseconds(500))
                for service in pair { try cluster.start(service) }
                try await Task.sleep(for: .milliseconds(500))
            }
            let ids = await placed
            #expect(ids.count == 70, "every order is eventually accepted (the client retries)")
            try await cluster.waitForAllFinal(ids, timeout: 120)
            return ids
        }
    }

    @Test func restartingNATSUnderLoadLosesNothingAndAServiceStartedMeanwhileWaitsForIt() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            async let placed = cluster.placeLoad(count: 50, interval: .milliseconds(100))
            try await Task.sleep(for: .seconds(1.5))
            try await Blocking.run { cluster.nats.kill() }
            // A service (re)started while NATS is down is live, not ready, and says why.
            try await cluster.stopServiceAsync("shipping")
            try cluster.start("shipping")
            var ready: (Int, [String: Any]) = (0, [:])
            for _ in 0..<100 {
                if let answer = try? await HTTP.request("GET", cluster.url("shipping", "/health/ready")) {
                    ready = answer
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(ready.0 == 503)
            #expect((ready.1["notReady"] as? [String])?.contains("nats") == true, "\(ready.1)")
            let live = try await HTTP.request("GET", cluster.url("shipping", "/health/live"))
            #expect(live.0 == 200)
            try await Task.sleep(for: .seconds(1))
            try await Blocking.run { try cluster.nats.start() }
            try await cluster.waitUntilReady("shipping", timeout: 30)
            let ids = await placed
            #expect(ids.count == 50)
            try await cluster.waitForAllFinal(ids, timeout: 120)
            return ids
        }
    }

    @Test func aRollingRestartOfAllFiveServicesLosesNothing() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: Self.environment) { cluster in
            async let placed = cluster.placeLoad(count: 50, interval: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(500))
            for service in Cluster.services {
                try await cluster.stopServiceAsync(service)
                try cluster.start(service)
                try await cluster.waitUntilReady(service)
            }
            let ids = await placed
            #expect(ids.count == 50)
            try await cluster.waitForAllFinal(ids, timeout: 120)
            return ids
        }
    }
}
