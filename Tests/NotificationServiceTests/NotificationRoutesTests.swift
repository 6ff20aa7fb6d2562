import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceTestSupport
import Testing

@testable import NotificationService

/// Notification's API in process — the notifications sent. Real routes on a real store, no socket, no NATS server
/// (`RouteTesting`).
@Suite("The notification API in process")
struct NotificationRoutesTests {
    @Test func notificationListsNothingBeforeItHasSentAnything() async throws {
        let bench = try await RouteTesting.bench(NotificationApp.descriptor, NotificationStore.migrations)
        defer { Task { await bench.close() } }
        try await RouteTesting.app { NotificationRoutes(service: bench.context).add(to: $0) }.test(.router) { client in
            let (status, body) = try await RouteTesting.get(client, "/notifications?orderId=ord_1")
            #expect(status == .ok && (body["notifications"] as? [Any])?.isEmpty == true)
            #expect(try await RouteTesting.get(client, "/notifications?limit=0").0 == .badRequest)
        }
    }
}
