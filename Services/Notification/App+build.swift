import Contracts
import Foundation
import Hummingbird
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of notification.
enum NotificationApp {
    static let descriptor = ServiceDescriptor(
        name: "notification", defaultPort: 8085,
        settings: [
            SettingSpec("notify-file", env: "TROUPE_NOTIFY_FILE", help: "JSON-lines file channel"),
            SettingSpec(
                "notify-webhook-url", env: "TROUPE_NOTIFY_WEBHOOK_URL", help: "webhook channel (http or https)"),
            SettingSpec(
                "notify-webhook-secret", env: "TROUPE_NOTIFY_WEBHOOK_SECRET", secret: true,
                help: "HMAC-SHA256 key of the Troupe-Signature header"),
        ],
        streams: [.orders, .notifications, .deadLetter].map(StreamConfiguration.init), reads: reads)

    /// Notification reads ORDERS: confirmations, cancellations and shipments.
    static let reads: [ServiceDescriptor.Read] = [(.orders, nil)]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        var reader = SettingsReader(runtime.settings)
        var webhook: URL?
        if let text = reader.string("notify-webhook-url") {
            if let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil {
                webhook = url
            } else {
                reader.fail("notify-webhook-url", "'\(text)' is not an http(s) URL")
            }
        }
        try reader.finish()
        let channels = Channels(
            file: reader.string("notify-file"), webhook: webhook, webhookSecret: reader.string("notify-webhook-secret"),
            logger: runtime.logger)
        let handlers = NotificationHandlers(service: runtime.context, channels: channels)
        let stream = reads[0].stream
        let name = runtime.consumerName(of: stream)
        let orders = runtime.consumer(of: stream) { deliveries in
            await handlers.handle(deliveries.map(\.event), consumer: name)
        }
        let router = HTTPKit.router(health: runtime.healthChecks(consumers: [name: { orders.isBound }]))
        NotificationRoutes(service: runtime.context).add(to: router)
        return (router, [orders])
    }
}
