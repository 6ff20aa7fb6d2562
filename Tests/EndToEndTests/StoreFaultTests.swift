import Foundation
import GRDB
import TestSupport
import Testing

/// A service whose store cannot be written for a while — another process holds its lock, its disk
/// is full — refuses what it cannot keep (HTTP 503 `unavailable`), retries its events with back-off
/// without dead-lettering them, keeps running, and catches up when the store can be written again.
@Suite("Store faults end to end", .serialized, .timeLimit(.minutes(3)))
struct StoreFaultTests {
    @Test func aStoreLockedByAnotherProcessDelaysTheSagaButLosesNothing() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: ["TROUPE_STORE_BUSY_TIMEOUT": "300ms"]) { cluster in
            // An operator's sqlite3 (here: this test) holds inventory's write lock.
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            let lock = try DatabaseQueue(
                path: cluster.directory.appendingPathComponent("data/inventory/inventory.sqlite").path,
                configuration: configuration)
            try await lock.writeWithoutTransaction { db in try db.execute(sql: "BEGIN EXCLUSIVE") }

            let (placedStatus, placedBody) = try await cluster.placeOrder()
            #expect(placedStatus == 202, "the order service's store is not locked")
            let waiting = try orderId(placedBody)
            async let placed = cluster.placeLoad(count: 10, interval: .milliseconds(50))
            let (status, body) = try await HTTP.request(
                "PUT", cluster.url("inventory", "/stock/SKU-NEW"),
                json: ["name": "New", "unitPrice": 100, "currency": "USD", "onHand": 5], admin: true)
            #expect(status == 503)
            let error = body["error"] as? [String: Any]
            #expect(error?["code"] as? String == "unavailable")
            #expect((error?["message"] as? String)?.contains("store locked by another process") == true, "\(body)")

            try await Task.sleep(for: .seconds(3))
            #expect(cluster.process("inventory")?.isRunning == true)
            // The event path itself retried (not only this test's own PUT): inventory's consumer
            // counted retries of orders.placed, and the events wait in its stream, unacknowledged.
            let retried = try await cluster.metric(
                "inventory", "troupe_events_consumed_total",
                labels: ["type=\"troupe.order.placed.v1\"", "outcome=\"retry\""])
            #expect(retried > 0, "inventory's consumer retried the orders it could not store")
            #expect(
                try await cluster.metric(
                    "inventory", "troupe_events_consumed_total",
                    labels: ["type=\"troupe.order.placed.v1\"", "outcome=\"ack\""]) == 0,
                "no order acknowledged while the store is locked")
            #expect(try await cluster.order(waiting)["status"] as? String == "PENDING", "nothing reserved while locked")
            try await lock.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }

            let ids = [waiting] + (await placed)
            #expect(ids.count == 11)
            try await cluster.waitForAllFinal(ids, timeout: 60)
            #expect(try await cluster.deadLetters().isEmpty, "a locked store is never a reason to dead-letter")
            return ids
        }
    }

    /// Mounting the small disk needs root, so the test runs only as root — as CI does, where it
    /// always runs: as root, a mount that fails is this test's failure, with the mount's own error.
    @Test(.enabled("mounting a tmpfs needs root; this user is not root") { getuid() == 0 })
    func aFullDiskRefusesOrdersWith503AndLosesNothing() async throws {
        let disk = try await SmallDisk(megabytes: 8)
        do {
            try await withCluster(dispatchDelay: "300ms") { cluster in
                // The order service keeps its store on the small disk.
                try await cluster.stopServiceAsync("order")
                try cluster.start("order", environment: ["TROUPE_DATA_DIR": disk.path])
                try await cluster.waitUntilReady("order")
                let (first, placedFirst) = try await cluster.placeOrder(idempotencyKey: "before-full")
                #expect(first == 202)
                try await disk.fill()

                // Orders are accepted while SQLite still has room in its files, then refused.
                var accepted = [try orderId(placedFirst)]
                var refusal: [String: Any]?
                var attempt = 0
                while refusal == nil && attempt < 300 {
                    let (status, body) = try await cluster.placeOrder(idempotencyKey: "full-\(attempt)")
                    if status == 503 { refusal = body } else if status == 202 { accepted.append(try orderId(body)) }
                    attempt += 1
                }
                let error = try #require(refusal?["error"] as? [String: Any], "no order refused on a full disk")
                #expect(error["code"] as? String == "unavailable")
                #expect((error["message"] as? String)?.contains("disk") == true, "\(error)")

                // A careful client keeps trying; meanwhile the saga's events for the order service wait.
                async let placed = cluster.placeLoad(count: 6, interval: .milliseconds(200), giveUpAfter: 90)
                try await Task.sleep(for: .seconds(3))
                #expect(cluster.process("order")?.isRunning == true, "a full disk never crashes the service")
                let (live, _) = try await HTTP.request("GET", cluster.url("order", "/health/live"))
                #expect(live == 200)
                #expect(cluster.log("order").contains("store unavailable: disk full"), "events and relay retry")
                // The order service's consumers retried the saga's events they could not store.
                #expect(
                    try await cluster.metric("order", "troupe_events_consumed_total", labels: ["outcome=\"retry\""])
                        > 0, "the order service's consumers retried")
                try disk.free()

                let ids = accepted + (await placed)
                #expect(ids.count == accepted.count + 6)
                try await cluster.waitForAllFinal(ids, timeout: 90)
                #expect(try await cluster.deadLetters().isEmpty, "a full disk is never a reason to dead-letter")
                return ids
            }
        } catch {
            await disk.unmount()
            throw error
        }
        await disk.unmount()
    }
}
