import Foundation
import Messaging
import TestSupport
import Testing

/// Issue 10.8: a consumer or a stream lost at runtime (an operator's mistake, a storage accident)
/// is re-created — a stream by its producer, a consumer by its service — and the services that
/// need it answer 503 on readiness until they are bound again; the saga then flows as before.
@Suite("Consumers and streams lost at runtime", .serialized, .timeLimit(.minutes(3)))
struct LostConsumerTests {
    @Test func aDeletedStreamAndADeletedConsumerAreMadeAgainAndTheSagaFlows() async throws {
        try await withCluster { cluster in
            let admin = try await cluster.nats.connect(name: "e2e-operator")
            defer { Task { await admin.close() } }

            // PAYMENTS deleted (empty: nothing of any order is lost with it). Shipping, which reads
            // it but does not own it, is not ready until payment has made it again.
            try await admin.deleteStream("PAYMENTS")
            #expect(try await readiness(cluster, "shipping", becomes: 503, within: 15))
            #expect(try await readiness(cluster, "shipping", becomes: 200, within: 30))
            _ = try await admin.streamState("PAYMENTS")
            // A consumer deleted: its service makes it again.
            try await admin.deleteConsumer(stream: "INVENTORY", durable: "payment-inventory-reserved")
            var listed: [String] = []
            for _ in 0..<100 where !listed.contains("payment-inventory-reserved") {
                try await Task.sleep(for: .milliseconds(100))
                listed = try await admin.consumers(of: "INVENTORY").map(\.name)
            }
            #expect(listed.contains("payment-inventory-reserved"), "\(listed)")
            // The readers of PAYMENTS make their consumers again, each when it notices the loss: shipping
            // had to for its readiness above; order may come a little later (seen on a clean clone).
            let readers: Set = ["order-payments", "shipping-payments-authorized"]
            var names: [String] = []
            for _ in 0..<300 where !Set(names).isSuperset(of: readers) {
                names = try await admin.consumers(of: "PAYMENTS").map(\.name)
                if !Set(names).isSuperset(of: readers) { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(Set(names).isSuperset(of: readers), "\(names)")

            // Every service is ready, and an order goes all the way (payment reads the re-created
            // consumer, order and shipping read the re-created stream).
            for service in Cluster.services {
                #expect(try await readiness(cluster, service, becomes: 200, within: 30), "\(service)")
            }
            let (status, placed) = try await cluster.placeOrder()
            #expect(status == 202)
            let id = try orderId(placed)
            try await cluster.waitForStatus(id, in: ["CONFIRMED"], timeout: 30)
            _ = try await HTTP.request("POST", cluster.url("shipping", "/shipments/\(id)/dispatch"), admin: true)
            try await cluster.waitForStatus(id, in: ["SHIPPED"], timeout: 30)
            return [id]
        }
    }

    /// Whether `service`'s readiness answers `status` at some point within `seconds`.
    func readiness(_ cluster: Cluster, _ service: String, becomes status: Int, within seconds: Double) async throws
        -> Bool
    {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await HTTP.request("GET", cluster.url(service, "/health/ready")).0 == status { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
