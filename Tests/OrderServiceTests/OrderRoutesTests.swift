import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import ServiceTestSupport
import Testing

@testable import OrderService

/// The order API in process: the real routes on the real store, driven through Hummingbird's test
/// client (`.router`: no HTTP socket), with no NATS server and no connection (`RouteTesting`): what
/// a route commits stays in the outbox, and is read back from the store.
@Suite("The order API in process")
struct OrderRoutesTests {
    static let body = """
        {"customerId": "cus_1", "lines": [{"sku": "SKU-MUG", "quantity": 2}],
         "shippingAddress": {"name": "Ada", "line1": "1 St", "city": "London", "postalCode": "N1", "country": "GB"}}
        """

    /// The order routes on a fresh store, and that store's bench.
    static func app(limit: Int = 0) async throws -> (some ApplicationProtocol, HandlerBench) {
        let bench = try await HandlerBench(OrderApp.descriptor, migrations: OrderStore.migrations)
        let admission = OrderAdmission(service: bench.context, limit: limit)
        return (RouteTesting.app { OrderRoutes(service: bench.context, admission: admission).add(to: $0) }, bench)
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    static func place(_ client: some TestClientProtocol, key: String? = nil, body: String = body) async throws
        -> (HTTPResponse.Status, [String: Any], String?)
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return try await client.execute(
            uri: "/orders", method: .post, headers: headers, body: ByteBuffer(string: body)
        ) { response in
            (response.status, try json(response.body), response.headers[.location])
        }
    }

    @Test func placingAnOrderCommitsItsFirstEventAndAnswersWhereItIs() async throws {
        let (app, bench) = try await Self.app()
        defer { Task { await bench.close() } }
        try await app.test(.router) { client in
            let (status, order, location) = try await Self.place(client)
            #expect(status == .accepted)
            let id = try #require(order["orderId"] as? String)
            #expect(order["status"] as? String == "PENDING")
            #expect(location == "/orders/\(id)")
            // Committed with its event in the outbox, for the relay to publish.
            #expect(try await bench.outgoingByOrder()[id] == ["orders.placed"])
            try await client.execute(uri: "/orders/\(id)", method: .get) { (response) throws in
                #expect(response.status == .ok)
                #expect(try Self.json(response.body)["customerId"] as? String == "cus_1")
            }
            try await client.execute(uri: "/orders/\(id)/events", method: .get) { (response) throws in
                let events = try #require(try Self.json(response.body)["events"] as? [[String: Any]])
                #expect(events.map { $0["type"] as? String } == ["troupe.order.placed.v1"])
            }
        }
    }

    @Test func anIdempotencyKeyPlacesOneOrderAndRefusesAnotherBody() async throws {
        let (app, bench) = try await Self.app()
        defer { Task { await bench.close() } }
        try await app.test(.router) { client in
            let first = try await Self.place(client, key: "k-1")
            let again = try await Self.place(client, key: "k-1")
            #expect(first.0 == .accepted && again.0 == .ok)
            #expect(first.1["orderId"] as? String == again.1["orderId"] as? String)
            let other = try await Self.place(
                client, key: "k-1", body: Self.body.replacingOccurrences(of: "2}", with: "3}"))
            #expect(other.0 == .unprocessableContent)
            #expect((other.1["error"] as? [String: Any])?["code"] as? String == "idempotency_key_reused")
            #expect(try await bench.outgoingByOrder().count == 1)
        }
    }

    @Test func badRequestsPlaceNothing() async throws {
        let (app, bench) = try await Self.app()
        defer { Task { await bench.close() } }
        try await app.test(.router) { client in
            for body in ["{not json", #"{"customerId": "cus_1", "lines": []}"#] {
                let (status, answer, _) = try await Self.place(client, body: body)
                #expect(status == .badRequest, "\(body)")
                #expect((answer["error"] as? [String: Any])?["code"] != nil)
            }
            let (status, _, _) = try await Self.place(client, key: String(repeating: "k", count: 256))
            #expect(status == .badRequest)
            try await client.execute(uri: "/orders/ord_nope", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/orders?status=LOST", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/orders/ord_nope/cancel", method: .post) {
                #expect($0.status == .notFound)
            }
            #expect(try await bench.outgoingByOrder().isEmpty)
        }
    }

    @Test func aCancellationIsRequestedOnce() async throws {
        let (app, bench) = try await Self.app()
        defer { Task { await bench.close() } }
        try await app.test(.router) { client in
            let id = try #require(try await Self.place(client).1["orderId"] as? String)
            for _ in 0..<2 {
                try await client.execute(uri: "/orders/\(id)/cancel", method: .post) { (response) throws in
                    #expect(response.status == .accepted)
                    #expect(try Self.json(response.body)["cancellationRequestedAt"] is String)
                }
            }
            #expect(try await bench.outgoingByOrder()[id] == ["orders.placed", "orders.cancellation_requested"])
        }
    }

    @Test func pastItsLimitTheDoorRefusesWithRetryAfterAndPlacesNothing() async throws {
        let (app, bench) = try await Self.app(limit: 1)
        defer { Task { await bench.close() } }
        try await app.test(.router) { client in
            #expect(try await Self.place(client).0 == .accepted)
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[HTTPField.Name("Idempotency-Key")!] = "k-2"
            try await client.execute(
                uri: "/orders", method: .post, headers: headers, body: ByteBuffer(string: Self.body)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
            }
            #expect(try await bench.outgoingByOrder().count == 1)
        }
    }
}
