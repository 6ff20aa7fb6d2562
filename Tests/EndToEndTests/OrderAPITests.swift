import Foundation
import GRDB
import TestSupport
import Testing

@Suite("The order API end to end: idempotency, errors, paging, history", .serialized, .timeLimit(.minutes(3)))
struct OrderAPITests {
    @Test func idempotencyKeysReturnTheSameOrderAndRefuseADifferentBody() async throws {
        try await withCluster { cluster in
            let key = "checkout-\(UUID())"
            // Two requests with the same key, racing: one order.
            async let first = cluster.placeOrder(idempotencyKey: key)
            async let second = cluster.placeOrder(idempotencyKey: key)
            let (a, b) = try await (first, second)
            #expect(Set([a.status, b.status]) == [202, 200])
            #expect(try orderId(a.body) == orderId(b.body))
            let again = try await cluster.placeOrder(idempotencyKey: key)
            #expect(again.status == 200)
            #expect(try orderId(again.body) == orderId(a.body))
            let different = try await cluster.placeOrder(lines: [("SKU-MUG", 3)], idempotencyKey: key)
            #expect(different.status == 422)
            #expect((different.body["error"] as? [String: Any])?["code"] as? String == "idempotency_key_reused")
            let empty = try await cluster.placeOrder(idempotencyKey: "")
            #expect(empty.status == 400)
            let id = try orderId(a.body)
            try await cluster.waitForStatus(id, in: ["CONFIRMED"])
            _ = try await HTTP.request("POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true)
            try await cluster.waitForStatus(id, in: ["SHIPPED"])
            return [id]
        }
    }

    @Test func badRequestsGetTheErrorsOfHTTPMdAndPlaceNothing() async throws {
        try await withCluster { cluster in
            let cases: [([String: Any], String)] = [
                (["customerId": "cus_rich", "lines": []], "lines"),
                (["customerId": "bad id!", "lines": [["sku": "SKU-MUG", "quantity": 1]]], "customerId"),
                (["customerId": "cus_rich", "lines": [["sku": "SKU-MUG", "quantity": 1001]]], "lines[0].quantity"),
            ]
            for (body, field) in cases {
                var full = body
                full["shippingAddress"] = [
                    "name": "A", "line1": "1", "city": "C", "postalCode": "P",
                    "country": "GB",
                ]
                let (status, response) = try await HTTP.request("POST", cluster.url("order", "/orders"), json: full)
                #expect(status == 400)
                let error = response["error"] as? [String: Any]
                #expect(error?["code"] as? String == "validation_failed")
                #expect(error?["field"] as? String == field)
            }
            let badCountry = try await cluster.placeOrder(country: "XX")
            #expect(badCountry.status == 400)
            #expect(try await HTTP.request("GET", cluster.url("order", "/orders/ord_nope")).0 == 404)
            #expect(try await HTTP.request("GET", cluster.url("order", "/orders?after=forged")).0 == 400)
            // A well-formed cursor of a client's own making (an order id of its choosing) is no cursor.
            let made = "c1." + Data("ord_~".utf8).base64EncodedString()
            #expect(try await HTTP.request("GET", cluster.url("order", "/orders?after=\(made)")).0 == 400)
            #expect(try await HTTP.request("GET", cluster.url("order", "/orders?limit=0")).0 == 400)
            #expect(
                try await HTTP.request("PUT", cluster.url("inventory", "/stock/SKU-NEW"), json: ["name": "x"]).0 == 401)
            // Nothing was placed by any of them.
            let list = try await HTTP.request("GET", cluster.url("order", "/orders")).1
            #expect((list["orders"] as? [Any])?.isEmpty == true)
            return []
        }
    }

    @Test func listsPageNewestFirstAndHistoryRebuildsThePastAndTheProjection() async throws {
        try await withCluster { cluster in
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try orderId(try await cluster.placeOrder().body)) }
            let first = try await HTTP.request("GET", cluster.url("order", "/orders?customerId=cus_rich&limit=2")).1
            let page = (first["orders"] as? [[String: Any]] ?? []).compactMap { $0["orderId"] as? String }
            #expect(page == Array(ids.reversed().prefix(2)))
            let next = try #require(first["next"] as? String)
            let second = try await HTTP.request(
                "GET", cluster.url("order", "/orders?customerId=cus_rich&limit=2&after=\(next)")
            ).1
            #expect((second["orders"] as? [[String: Any]])?.compactMap { $0["orderId"] as? String } == [ids[0]])
            #expect(second["next"] is NSNull)
            for id in ids { try await cluster.waitForStatus(id, in: ["CONFIRMED"]) }
            // Before the order existed: 404.
            #expect(
                try await HTTP.request("GET", cluster.url("order", "/orders/\(ids[0])?asOf=2020-01-01T00:00:00.000Z")).0
                    == 404)
            // The projection is rebuilt from the events at start, and says the same. The stopped
            // service's projection is emptied first, so that only a rebuild can bring the orders back.
            let before = try await cluster.order(ids[0])
            cluster.stopService("order")
            let store = try DatabaseQueue(
                path: cluster.directory.appendingPathComponent("data/order/order.sqlite").path)
            try await store.write { db in try db.execute(sql: "DELETE FROM orderView") }
            try store.close()
            try cluster.start("order", environment: ["TROUPE_ORDER_REBUILD_PROJECTION": "true"])
            try await cluster.waitUntilReady()
            let after = try await cluster.order(ids[0])
            #expect(after["status"] as? String == before["status"] as? String)
            // A cursor outlives the restart; the same cursor with another key in it is refused.
            let again = try await HTTP.request(
                "GET", cluster.url("order", "/orders?customerId=cus_rich&limit=2&after=\(next)"))
            #expect((again.1["orders"] as? [[String: Any]])?.compactMap { $0["orderId"] as? String } == [ids[0]])
            let parts = next.split(separator: ".")
            let tampered = "\(parts[0]).\(Data(ids[2].utf8).base64EncodedString()).\(parts[2])"
            #expect(try await HTTP.request("GET", cluster.url("order", "/orders?after=\(tampered)")).0 == 400)
            #expect(after["version"] as? Int == before["version"] as? Int)
            #expect(after["total"] as? Int == before["total"] as? Int)
            for id in ids {
                _ = try await HTTP.request("POST", cluster.url("order", "/orders/\(id)/cancel"))
                try await cluster.waitForStatus(id, in: ["CANCELLED"])
            }
            return ids
        }
    }
}
