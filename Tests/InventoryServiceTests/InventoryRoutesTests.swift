import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceTestSupport
import Testing

@testable import InventoryService

/// Inventory's API in process — the catalogue and stock: admin endpoints take the token and nothing else, bad bodies change
/// nothing. Real routes on a real store, no socket, no NATS server
/// (`RouteTesting`).
@Suite("The inventory API in process")
struct InventoryRoutesTests {
    @Test func inventoryKeepsTheCatalogueAndStockThatTheAdminPuts() async throws {
        let bench = try await RouteTesting.bench(InventoryApp.descriptor, InventoryStore.migrations)
        defer { Task { await bench.close() } }
        let mug = #"{"name": "Mug", "unitPrice": 1250, "currency": "USD", "onHand": 7}"#
        try await RouteTesting.app { InventoryRoutes(service: bench.context).add(to: $0) }.test(.router) { client in
            #expect(try await RouteTesting.put(client, "/stock/SKU-MUG", mug, admin: false).0 == .unauthorized)
            #expect(try await RouteTesting.get(client, "/stock/SKU-MUG").0 == .notFound)
            let (status, product) = try await RouteTesting.put(client, "/stock/SKU-MUG", mug)
            #expect(status == .ok && product["available"] as? Int == 7)
            let euro = mug.replacingOccurrences(of: "USD", with: "EUR")
            #expect(try await RouteTesting.put(client, "/stock/SKU-MUG", euro).0 == .badRequest)
            #expect(try await RouteTesting.put(client, "/stock/SKU-MUG", "{").0 == .badRequest)
            let (_, listed) = try await RouteTesting.get(client, "/stock")
            #expect((listed["items"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["SKU-MUG"])
            #expect(try await RouteTesting.get(client, "/stock/SKU-MUG").1["unitPrice"] as? Int == 1250)
        }
    }
}
