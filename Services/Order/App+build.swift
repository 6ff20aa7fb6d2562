import Contracts
import Foundation
import Hummingbird
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of order.
enum OrderApp {
    static let descriptor = ServiceDescriptor(
        name: "order", defaultPort: 8081,
        settings: [
            SettingSpec(
                "rebuild-projection", env: "TROUPE_ORDER_REBUILD_PROJECTION", default: "false",
                help: "rebuild the order projection from the events at start (true/false)"),
            SettingSpec(
                "idempotency-retention", env: "TROUPE_ORDER_IDEMPOTENCY_RETENTION", default: "24h",
                help: "how long Idempotency-Keys are kept (at least 24h)"),
        ],
        streams: [.orders, .inventory, .payments, .shipping, .deadLetter].map(StreamConfiguration.init))

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        var reader = SettingsReader(runtime.settings)
        let rebuild = reader.oneOf("rebuild-projection", ["false", "true"]) == "true"
        let retention = reader.duration("idempotency-retention") ?? .seconds(86_400)
        if retention < .seconds(86_400) { reader.fail("idempotency-retention", "must be at least 24h (http.md)") }
        try reader.finish()
        if rebuild {
            let count = try await runtime.write { db in try OrderStore.rebuildProjection(in: db) }
            runtime.logger.info("projection rebuilt from the events", metadata: ["orders": "\(count)"])
        }
        let consumers = [StreamDefinition.inventory, .payments, .shipping].map { stream in
            let consumer = runtime.consumer(
                of: stream, reactsTo: OrderHandlers.reacts(to:),
                apply: { event, db in try OrderHandlers.apply(event, in: db) },
                applyDelivery: { delivery, db in
                    let document = delivery.message.withPayload { Data($0) }
                    return try OrderHandlers.apply(delivery.event, document: document, in: db)
                })
            return (runtime.consumerName(of: stream), consumer)
        }
        var bound: [String: @Sendable () -> Bool] = [:]
        for (name, consumer) in consumers { bound[name] = { consumer.isBound } }
        let router = HTTPKit.router(health: runtime.healthChecks(consumers: bound))
        OrderRoutes(runtime: runtime).add(to: router)
        let sweeper = IdempotencyKeySweeper(runtime: runtime, retention: retention, interval: .seconds(3600))
        return (router, consumers.map { $0.1 as any Service } + [sweeper])
    }
}
