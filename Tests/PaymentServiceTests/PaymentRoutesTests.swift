import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceTestSupport
import Testing

@testable import PaymentService

/// Payment's API in process — accounts and payments: admin endpoints take the token and nothing else, bad bodies and
/// unknown ids change nothing. Real routes on a real store, no socket, no NATS server
/// (`RouteTesting`).
@Suite("The payment API in process")
struct PaymentRoutesTests {
    @Test func paymentKeepsTheAccountsThatTheAdminPuts() async throws {
        let bench = try await RouteTesting.bench(PaymentApp.descriptor, PaymentStore.migrations)
        defer { Task { await bench.close() } }
        let account = #"{"currency": "USD", "creditLimit": 50000}"#
        try await RouteTesting.app { PaymentRoutes(service: bench.context).add(to: $0) }.test(.router) { client in
            #expect(try await RouteTesting.put(client, "/accounts/cus_1", account, admin: false).0 == .unauthorized)
            let (status, body) = try await RouteTesting.put(client, "/accounts/cus_1", account)
            #expect(status == .ok && body["available"] as? Int == 50000)
            #expect(
                try await RouteTesting.put(client, "/accounts/cus_1", #"{"currency": "USD", "creditLimit": -1}"#).0
                    == .badRequest)
            #expect(try await RouteTesting.get(client, "/accounts/cus_1").1["creditLimit"] as? Int == 50000)
            #expect(try await RouteTesting.get(client, "/accounts/cus_nobody").0 == .notFound)
            #expect(try await RouteTesting.get(client, "/payments/ord_nope").0 == .notFound)
        }
    }
}
