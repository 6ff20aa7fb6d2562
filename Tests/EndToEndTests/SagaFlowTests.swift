import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Runs `body` against a fresh cluster and stops it afterwards, also when the body fails.
/// `excusing` names violations a test caused on purpose (events it published itself).
func withCluster(
    dispatchDelay: String = "manual", environment: [String: String] = [:], launches: [String: Cluster.Launch] = [:],
    natsNodes: Int = 1, serviceEnvironment: [String: [String: String]] = [:],
    excusing: @escaping (String) -> Bool = { _ in false },
    _ body: (Cluster) async throws -> [String]
) async throws {
    let cluster = try await Cluster(
        dispatchDelay: dispatchDelay, extraEnvironment: environment, launches: launches, natsNodes: natsNodes,
        serviceEnvironment: serviceEnvironment)
    do {
        let orders = try await body(cluster)
        // Every flow ends with the guarantees of docs/architecture.md ("Guarantees"), read from the streams
        // and the APIs.
        let violations = try await cluster.violations(orders: orders).filter { !excusing($0) }
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
        // And every order of a planned load ended as it was built to (a shipped order not cancelled
        // by a fault, a declined one not shipped).
        let unplanned = try await cluster.outcomesAgainstPlan(orders)
        #expect(unplanned.isEmpty, "\(unplanned.joined(separator: "\n"))")
        await cluster.stop()
    } catch {
        for service in Cluster.services {
            let log = cluster.log(service)
            if !log.isEmpty { print("--- \(service)-service log (last 2 KB) ---\n\(log.suffix(2000))") }
        }
        await cluster.stop()
        throw error
    }
}

func orderId(_ body: [String: Any]) throws -> String {
    try #require(body["orderId"] as? String)
}

@Suite("The saga end to end: five services and nats-server as real processes", .serialized, .timeLimit(.minutes(3)))
struct SagaFlowTests {
    @Test func anOrderIsShipped() async throws {
        try await withCluster(dispatchDelay: "300ms") { cluster in
            let (status, placed) = try await cluster.placeOrder(lines: [("SKU-MUG", 2), ("SKU-TEAPOT", 1)])
            #expect(status == 202)
            #expect(placed["status"] as? String == "PENDING")
            let id = try orderId(placed)
            let shipped = try await cluster.waitForStatus(id, in: ["SHIPPED", "CANCELLED"])
            #expect(shipped["status"] as? String == "SHIPPED")
            #expect(shipped["total"] as? Int == 2 * 1250 + 3900)
            #expect(shipped["trackingNumber"] is String)
            let history = try await HTTP.request("GET", cluster.url("order", "/orders/\(id)/events")).1
            let types = (history["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            #expect(types.first == "troupe.order.placed.v1")
            #expect(types.last == "troupe.order.shipped.v1")
            // The past is rebuilt from the events: as it stood when placed.
            let createdAt = try #require(placed["createdAt"] as? String)
            let past = try await HTTP.request("GET", cluster.url("order", "/orders/\(id)?asOf=\(createdAt)")).1
            #expect(past["status"] as? String == "PENDING")
            // Prometheus metrics: saga outcomes, consumed events, HTTP requests.
            var request = URLRequest(url: cluster.url("order", "/metrics"))
            request.httpMethod = "GET"
            let (data, _) = try await URLSession.shared.data(for: request)
            let metrics = String(decoding: data, as: UTF8.self)
            #expect(metrics.contains(#"troupe_saga_outcomes_total{outcome="shipped",reason=""} 1"#))
            #expect(
                metrics.contains(#"troupe_events_consumed_total{type="troupe.shipping.dispatched.v1",outcome="ack"} 1"#)
            )
            #expect(metrics.contains("hb_requests"))
            // The order read two events on SHIPPING (scheduled, dispatched): in one batch or two.
            let shippingEvents = try await cluster.metric(
                "order", "troupe_consumer_batch_events_total", labels: [#"stream="SHIPPING""#])
            let shippingBatches = try await cluster.metric(
                "order", "troupe_consumer_batches_total", labels: [#"stream="SHIPPING""#])
            #expect(shippingEvents == 2)
            #expect((1...2).contains(shippingBatches))
            return [id]
        }
    }

    @Test func ordersAreAcceptedWhileNATSIsAwayAndFlowWhenItComesBack() async throws {
        try await withCluster(dispatchDelay: "300ms") { cluster in
            try await Blocking.run { cluster.nats.kill() }
            let (status, placed) = try await cluster.placeOrder()
            #expect(status == 202)
            let id = try orderId(placed)
            // Readiness follows the connection: polled until it says so (the client notices the
            // server gone within moments), then it must name NATS.
            var ready = try await HTTP.request("GET", cluster.url("order", "/health/ready"))
            let deadline = ContinuousClock.now + .seconds(5)
            while ready.0 != 503 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                ready = try await HTTP.request("GET", cluster.url("order", "/health/ready"))
            }
            #expect(ready.0 == 503)
            #expect((ready.1["notReady"] as? [String])?.contains("nats") == true, "\(ready.1)")
            try await Blocking.run { try cluster.nats.start() }
            let order = try await cluster.waitForStatus(id, in: ["SHIPPED", "CANCELLED"], timeout: 30)
            #expect(order["status"] as? String == "SHIPPED")
            return [id]
        }
    }

    @Test(arguments: [
        ("out_of_stock", "cus_rich", [("SKU-RARE", 2)], "GB"),
        ("unknown_sku", "cus_rich", [("SKU-MUG", 1), ("SKU-GHOST", 1)], "GB"),
        ("payment_declined", "cus_poor", [("SKU-TEAPOT", 1)], "GB"),
        ("payment_declined", "cus_nobody", [("SKU-MUG", 1)], "GB"),
        ("shipping_unavailable", "cus_rich", [("SKU-MUG", 1)], "BR"),
    ])
    func anOrderThatCannotBeFulfilledIsCancelledAndCompensated(
        _ reason: String, _ customer: String, _ lines: [(String, Int)], _ country: String
    ) async throws {
        try await withCluster { cluster in
            let (status, placed) = try await cluster.placeOrder(customer: customer, lines: lines, country: country)
            #expect(status == 202)
            let id = try orderId(placed)
            let order = try await cluster.waitForStatus(id, in: ["CANCELLED", "SHIPPED"])
            #expect(order["status"] as? String == "CANCELLED")
            #expect(order["cancellationReason"] as? String == reason)
            if customer == "cus_poor" || customer == "cus_nobody" {
                let payment = try await HTTP.request("GET", cluster.url("payment", "/payments/\(id)")).1
                #expect(payment["status"] as? String == "DECLINED")
            }
            return [id]
        }
    }

    @Test func aCancellationBeforeDispatchIsAcceptedAndCompensated() async throws {
        try await withCluster { cluster in
            let id = try orderId(try await cluster.placeOrder().body)
            try await cluster.waitForStatus(id, in: ["CONFIRMED"])
            // Shipping, which decides the request, is away: the request stays pending meanwhile.
            try await cluster.stopServiceAsync("shipping")
            let (status, body) = try await HTTP.request("POST", cluster.url("order", "/orders/\(id)/cancel"))
            #expect(status == 202)
            #expect(body["cancellationRequestedAt"] is String)
            // Asking again while the request is pending changes nothing.
            #expect(try await HTTP.request("POST", cluster.url("order", "/orders/\(id)/cancel")).0 == 202)
            try cluster.start("shipping")
            try await cluster.waitUntilReady("shipping")
            let order = try await cluster.waitForStatus(id, in: ["CANCELLED", "SHIPPED"])
            #expect(order["cancellationReason"] as? String == "customer_request")
            // Shipping never dispatches what it cancelled.
            #expect(
                try await HTTP.request("POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true).0
                    == 409)
            return [id]
        }
    }

    @Test func aCancellationAfterDispatchIsRefused() async throws {
        try await withCluster { cluster in
            let id = try orderId(try await cluster.placeOrder().body)
            try await cluster.waitForStatus(id, in: ["CONFIRMED"])
            #expect(
                try await HTTP.request("POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true).0
                    == 200)
            try await cluster.waitForStatus(id, in: ["SHIPPED"])
            let (status, body) = try await HTTP.request("POST", cluster.url("order", "/orders/\(id)/cancel"))
            #expect(status == 409)
            #expect((body["error"] as? [String: Any])?["code"] as? String == "conflict")
            return [id]
        }
    }

    @Test func aCancellationRacingTheDispatchEndsOneWayOrTheOtherConsistently() async throws {
        try await withCluster { cluster in
            var ids: [String] = []
            for _ in 0..<3 {
                let id = try orderId(try await cluster.placeOrder().body)
                try await cluster.waitForStatus(id, in: ["CONFIRMED"])
                async let cancel = HTTP.request("POST", cluster.url("order", "/orders/\(id)/cancel"))
                async let dispatch = HTTP.request(
                    "POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true)
                let (cancelled, dispatched) = try await (cancel, dispatch)
                #expect([202, 409].contains(cancelled.0))
                #expect([200, 409].contains(dispatched.0))
                let order = try await cluster.waitForStatus(id, in: ["SHIPPED", "CANCELLED"])
                let final = order["status"] as? String
                // The answers say who won: a dispatch answered 200 ships the order, one refused
                // (409: cancelled first) leaves it cancelled; a cancellation refused with 409 found
                // the order already shipped (nothing else could have finished it).
                #expect(
                    (dispatched.0 == 200) == (final == "SHIPPED"), "dispatch \(dispatched.0), order \(final ?? "?")")
                if cancelled.0 == 409 { #expect(final == "SHIPPED", "cancel refused, order \(final ?? "?")") }
                // Whichever won, the shipment agrees with the order.
                let shipment = try await HTTP.request("GET", cluster.url("shipping", "/shipments/\(id)")).1
                let expected = order["status"] as? String == "SHIPPED" ? "DISPATCHED" : "CANCELLED"
                #expect(shipment["status"] as? String == expected)
                ids.append(id)
            }
            return ids
        }
    }
}
