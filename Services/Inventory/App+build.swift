import Contracts
import Hummingbird
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of inventory: what it reads, what it serves. Tests build the same application.
enum InventoryApp {
    static let descriptor = ServiceDescriptor(
        name: "inventory", defaultPort: 8082,
        streams: [.orders, .inventory, .shipping, .deadLetter].map(StreamConfiguration.init))

    /// The streams inventory reads (in this order); of SHIPPING it reacts to dispatches only, and
    /// the server delivers it nothing else. `InventoryHandlers.reacts(to:)` must agree
    /// (`FilteredReadsTests`).
    static let reads: [(StreamDefinition, (any EventPayload.Type)?)] = [
        (.orders, nil), (.shipping, ShippingDispatched.self),
    ]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        let handlers = InventoryHandlers(runtime: runtime)
        let orders = runtime.consumer(of: .orders, only: reads[0].1, reactor: handlers)
        let shipping = runtime.consumer(of: .shipping, only: reads[1].1, reactor: handlers)
        let health = runtime.healthChecks(consumers: [
            runtime.consumerName(of: .orders): { orders.isBound },
            runtime.consumerName(of: .shipping): { shipping.isBound },
        ])
        let router = HTTPKit.router(health: health)
        InventoryRoutes(runtime: runtime).add(to: router)
        return (router, [orders, shipping])
    }
}
