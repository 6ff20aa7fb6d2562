import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing

@testable import InventoryService
@testable import NotificationService
@testable import PaymentService
@testable import ShippingService

/// The APIs of inventory, payment, shipping and notification in process, as `OrderRoutesTests` does
/// for order: real routes on a real store through Hummingbird's test client, no socket, no NATS
/// server. The admin endpoints take the token and nothing else; bad bodies and unknown ids change
/// nothing.
@Suite("The other services' APIs in process")
struct ServiceRoutesTests {
    static let token = "in-process-admin-token-0123"

    static func bench(_ descriptor: ServiceDescriptor, _ migrations: (inout DatabaseMigrator) -> Void) async throws
        -> HandlerBench
    {
        try await HandlerBench(descriptor, migrations: migrations, environment: ["TROUPE_ADMIN_TOKEN": token])
    }

    static func app(_ add: (Router<BasicRequestContext>) throws -> Void) rethrows -> some ApplicationProtocol {
        let router = HTTPKit.router(health: HealthChecks())
        try add(router)
        HTTPKit.answerOtherMethods(on: router)
        return Application(router: router)
    }

    static func put(
        _ client: some TestClientProtocol, _ uri: String, _ body: String, admin: Bool = true
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if admin { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .put, headers: headers, body: ByteBuffer(string: body)) {
            answer($0)
        }
    }

    static func get(_ client: some TestClientProtocol, _ uri: String) async throws -> (
        HTTPResponse.Status, [String: Any]
    ) {
        try await client.execute(uri: uri, method: .get) { answer($0) }
    }

    /// A response's status and JSON body (empty when it has none).
    static func answer(_ response: TestResponse) -> (HTTPResponse.Status, [String: Any]) {
        let body = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
        return (response.status, body as? [String: Any] ?? [:])
    }

    @Test func inventoryKeepsTheCatalogueAndStockThatTheAdminPuts() async throws {
        let bench = try await Self.bench(InventoryApp.descriptor, InventoryStore.migrations)
        defer { Task { await bench.close() } }
        let mug = #"{"name": "Mug", "unitPrice": 1250, "currency": "USD", "onHand": 7}"#
        try await Self.app { InventoryRoutes(runtime: bench.runtime).add(to: $0) }.test(.router) { client in
            #expect(try await Self.put(client, "/stock/SKU-MUG", mug, admin: false).0 == .unauthorized)
            #expect(try await Self.get(client, "/stock/SKU-MUG").0 == .notFound)
            let (status, product) = try await Self.put(client, "/stock/SKU-MUG", mug)
            #expect(status == .ok && product["available"] as? Int == 7)
            let euro = mug.replacingOccurrences(of: "USD", with: "EUR")
            #expect(try await Self.put(client, "/stock/SKU-MUG", euro).0 == .badRequest)
            #expect(try await Self.put(client, "/stock/SKU-MUG", "{").0 == .badRequest)
            let (_, listed) = try await Self.get(client, "/stock")
            #expect((listed["items"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["SKU-MUG"])
            #expect(try await Self.get(client, "/stock/SKU-MUG").1["unitPrice"] as? Int == 1250)
        }
    }

    @Test func paymentKeepsTheAccountsThatTheAdminPuts() async throws {
        let bench = try await Self.bench(PaymentApp.descriptor, PaymentStore.migrations)
        defer { Task { await bench.close() } }
        let account = #"{"currency": "USD", "creditLimit": 50000}"#
        try await Self.app { PaymentRoutes(runtime: bench.runtime).add(to: $0) }.test(.router) { client in
            #expect(try await Self.put(client, "/accounts/cus_1", account, admin: false).0 == .unauthorized)
            let (status, body) = try await Self.put(client, "/accounts/cus_1", account)
            #expect(status == .ok && body["available"] as? Int == 50000)
            #expect(
                try await Self.put(client, "/accounts/cus_1", #"{"currency": "USD", "creditLimit": -1}"#).0
                    == .badRequest)
            #expect(try await Self.get(client, "/accounts/cus_1").1["creditLimit"] as? Int == 50000)
            #expect(try await Self.get(client, "/accounts/cus_nobody").0 == .notFound)
            #expect(try await Self.get(client, "/payments/ord_nope").0 == .notFound)
        }
    }

    @Test func shippingDispatchesOnlyWhatItHasScheduled() async throws {
        let bench = try await Self.bench(ShippingApp.descriptor, ShippingStore.migrations)
        defer { Task { await bench.close() } }
        let handlers = ShippingHandlers(runtime: bench.runtime, policy: try ShippingApp.policy(bench.runtime.settings))
        try await Self.app { ShippingRoutes(handlers: handlers).add(to: $0) }.test(.router) { client in
            #expect(try await Self.get(client, "/shipments/ord_nope").0 == .notFound)
            try await client.execute(uri: "/shipments/ord_nope/dispatch", method: .post) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/shipments/ord_nope/dispatch", method: .post, headers: [.authorization: "Bearer \(Self.token)"]
            ) { #expect($0.status == .notFound) }
        }
        #expect(try await bench.outgoingByOrder().isEmpty)
    }

    @Test func notificationListsNothingBeforeItHasSentAnything() async throws {
        let bench = try await Self.bench(NotificationApp.descriptor, NotificationStore.migrations)
        defer { Task { await bench.close() } }
        try await Self.app { NotificationRoutes(runtime: bench.runtime).add(to: $0) }.test(.router) { client in
            let (status, body) = try await Self.get(client, "/notifications?orderId=ord_1")
            #expect(status == .ok && (body["notifications"] as? [Any])?.isEmpty == true)
            #expect(try await Self.get(client, "/notifications?limit=0").0 == .badRequest)
        }
    }
}
