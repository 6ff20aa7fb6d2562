import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTestSupport
import Testing

@testable import ShippingService

/// Shipping's API in process — shipments: a dispatch needs the token and a scheduled shipment. Real routes on a real store, no socket, no NATS server
/// (`RouteTesting`).
@Suite("The shipping API in process")
struct ShippingRoutesTests {
    @Test func shippingDispatchesOnlyWhatItHasScheduled() async throws {
        let bench = try await RouteTesting.bench(ShippingApp.descriptor, ShippingStore.migrations)
        defer { Task { await bench.close() } }
        let handlers = ShippingHandlers(service: bench.context, policy: try ShippingApp.policy(bench.context.settings))
        try await RouteTesting.app { ShippingRoutes(handlers: handlers).add(to: $0) }.test(.router) { client in
            #expect(try await RouteTesting.get(client, "/shipments/ord_nope").0 == .notFound)
            try await client.execute(uri: "/shipments/ord_nope/dispatch", method: .post) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/shipments/ord_nope/dispatch", method: .post,
                headers: [.authorization: "Bearer \(RouteTesting.token)"]
            ) { #expect($0.status == .notFound) }
        }
        #expect(try await bench.outgoingByOrder().isEmpty)
    }
}
