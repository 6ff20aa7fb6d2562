import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 14: the order service sheds load at the door. While the accepted orders still pending
/// reach `TROUPE_ORDER_MAX_PENDING`, `POST /orders` answers 503 `unavailable` with `Retry-After` at
/// once and changes nothing; every order it accepted finishes; once the backlog drains, orders are
/// accepted again.
@Suite("Overload: load shed at the door", .serialized, .timeLimit(.minutes(3)))
struct OverloadTests {
    @Test func ordersBeyondTheBacklogLimitAreRefusedQuicklyAndEveryAcceptedOneFinishes() async throws {
        try await withCluster(environment: ["TROUPE_ORDER_MAX_PENDING": "3"]) { cluster in
            // Inventory away: accepted orders stay PENDING, the backlog the limit counts.
            cluster.stopService("inventory")
            var accepted: [String] = []
            for _ in 0..<3 {
                let (status, body) = try await cluster.placeOrder()
                #expect(status == 202)
                accepted.append(try orderId(body))
            }
            // The admission figure is read again every 100 ms; give it a few reads.
            try await Task.sleep(for: .milliseconds(400))

            // Beyond the limit: refused, quickly, with the error body of docs/http.md and Retry-After.
            var refusals = 0
            for _ in 0..<5 {
                let started = ContinuousClock.now
                let answer = try await HTTP.exchange(
                    "POST", cluster.url("order", "/orders"),
                    json: [
                        "customerId": "cus_rich", "lines": [["sku": "SKU-MUG", "quantity": 1]],
                        "shippingAddress": [
                            "name": "A", "line1": "1", "city": "London", "postalCode": "P", "country": "GB",
                        ],
                    ])
                let elapsed = ContinuousClock.now - started
                #expect(answer.status == 503, "\(answer.body)")
                #expect(answer.headers["retry-after"] == "1", "\(answer.headers)")
                let error = answer.body["error"] as? [String: Any]
                #expect(error?["code"] as? String == "unavailable")
                #expect((error?["message"] as? String)?.contains("pending") == true, "\(answer.body)")
                #expect(elapsed < .seconds(1), "a refusal must not wait for anything")
                if answer.status == 503 { refusals += 1 }
            }
            #expect(refusals == 5)
            // A refused order left nothing behind.
            let list = try await HTTP.request("GET", cluster.url("order", "/orders?limit=200")).1
            #expect((list["orders"] as? [Any])?.count == 3, "\(list)")
            // The metrics say so too.
            let metrics = try await Self.text(cluster.url("order", "/metrics"))
            #expect(metrics.contains("troupe_http_refused_total{route=\"/orders\"} 5"), "\(metrics.suffix(3000))")

            // Inventory back: the backlog drains, every accepted order is decided and the door opens again.
            try cluster.start("inventory")
            try await cluster.waitUntilReady()
            for id in accepted { try await cluster.waitForStatus(id, in: ["CONFIRMED"]) }
            var again = 0
            for _ in 0..<50 where again == 0 {
                let (status, body) = try await cluster.placeOrder()
                if status == 202 {
                    again += 1
                    accepted.append(try orderId(body))
                } else {
                    #expect(status == 503)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(again == 1, "orders are accepted again once the backlog has drained")
            try await cluster.waitForStatus(accepted.last!, in: ["CONFIRMED"])
            for id in accepted {
                _ = try await HTTP.request("POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true)
            }
            for id in accepted { try await cluster.waitForStatus(id, in: ["SHIPPED"]) }
            return accepted
        }
    }

    /// A short overload for real: a burst of orders at once, many times what the test machine
    /// finishes in that time, against a small limit. Some are refused with `Retry-After`, none fails,
    /// every accepted one finishes, and the guarantees hold (no event handled twice, stock and money
    /// conserved: `withCluster` checks them all).
    @Test func aBurstFarBeyondCapacityIsShedAndEveryAcceptedOrderFinishes() async throws {
        try await withCluster(dispatchDelay: "10ms", environment: ["TROUPE_ORDER_MAX_PENDING": "10"]) { cluster in
            let answers = await withTaskGroup(of: (Int, String?, String?).self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        guard
                            let answer = try? await HTTP.exchange(
                                "POST", cluster.url("order", "/orders"),
                                json: [
                                    "customerId": "cus_rich", "lines": [["sku": "SKU-MUG", "quantity": 1]],
                                    "shippingAddress": [
                                        "name": "A", "line1": "1", "city": "London", "postalCode": "P",
                                        "country": "GB",
                                    ],
                                ])
                        else { return (0, nil, nil) }
                        return (answer.status, answer.body["orderId"] as? String, answer.headers["retry-after"])
                    }
                }
                var all: [(Int, String?, String?)] = []
                for await answer in group { all.append(answer) }
                return all
            }
            let accepted = answers.filter { $0.0 == 202 }.compactMap(\.1)
            let refused = answers.filter { $0.0 == 503 }
            #expect(accepted.count + refused.count == 200, "every request answered 202 or 503: \(answers.map(\.0))")
            #expect(!refused.isEmpty, "a burst of 200 against a limit of 10 is shed")
            #expect(refused.allSatisfy { $0.2 == "1" }, "every refusal carries Retry-After")
            #expect(accepted.count >= 10, "the door lets the limit in")
            try await cluster.waitForAllFinal(accepted, timeout: 90)
            return accepted
        }
    }

    @Test func aBadLimitStopsTheServiceAtStartWithOneClearLine() async throws {
        let nats = try await NATSServer.start()
        defer { nats.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-limit-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.run(
            ProcessRunner.productsDirectory().appendingPathComponent("order-service"),
            [
                "--max-pending-orders", "lots", "--nats-url", nats.url, "--data-dir", directory.path,
                "--http-port", "\(try FreePort.find())",
            ], timeout: .seconds(30))
        #expect(result.status != 0)
        let printed = result.standardOutput + result.standardError
        #expect(printed.contains("max-pending-orders") && printed.contains("lots"), "\(printed)")
    }

    static func text(_ url: URL) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: url)
        return String(decoding: data, as: UTF8.self)
    }
}
