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
            SettingSpec(
                "max-pending-orders", env: "TROUPE_ORDER_MAX_PENDING", default: "500",
                help: "accepted orders still pending at most; beyond it POST /orders answers 503 (0: no limit)"),
        ],
        streams: [.orders, .inventory, .payments, .shipping, .deadLetter].map(StreamConfiguration.init), reads: reads)

    /// The streams order reads, every event of each: it reacts to most kinds on all three, and one
    /// durable per kind would cost more pulls than the few events it ignores.
    static let reads: [ServiceDescriptor.Read] = [(.inventory, nil), (.payments, nil), (.shipping, nil)]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        var reader = SettingsReader(runtime.settings)
        let rebuild = reader.oneOf("rebuild-projection", ["false", "true"]) == "true"
        let retention = reader.duration("idempotency-retention") ?? .seconds(86_400)
        if retention < .seconds(86_400) { reader.fail("idempotency-retention", "must be at least 24h (docs/http.md)") }
        let maxPending = reader.integer("max-pending-orders", in: 0...10_000_000)
        try reader.finish()
        if rebuild {
            let count = try await runtime.context.write { db in try OrderStore.rebuildProjection(in: db) }
            runtime.logger.info("projection rebuilt from the events", metadata: ["orders": "\(count)"])
        }
        let consumers = reads.map(\.stream).map { stream in
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
        let admission = OrderAdmission(service: runtime.context, limit: maxPending)
        await admission.refresh()
        let door = runtime.earlyRefusal
        door.set { head in
            guard head.method == .post, head.path == "/orders" else { return .pass }
            do throws(APIError) {
                try admission.admit()
                return .admit
            } catch {
                return .refuse(error)
            }
        }
        OrderRoutes(service: runtime.context, admission: admission, admittedAtTheDoor: door.wasAdmitted)
            .add(to: router)
        let sweeper = IdempotencyKeySweeper(service: runtime.context, retention: retention, interval: .seconds(3600))
        return (
            router, consumers.map { $0.1 as any Service } + [sweeper, OrderAdmissionRefresher(admission: admission)]
        )
    }
}
