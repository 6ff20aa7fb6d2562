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

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        let handlers = InventoryHandlers(runtime: runtime)
        let orders = runtime.consumer(of: .orders) { event, _ in
            try await handlers.handle(event, consumer: "inventory-orders")
        }
        let shipping = runtime.consumer(of: .shipping) { event, _ in
            try await handlers.handle(event, consumer: "inventory-shipping")
        }
        let health = runtime.healthChecks(consumers: [
            "inventory-orders": { orders.isBound }, "inventory-shipping": { shipping.isBound },
        ])
        let router = HTTPKit.router(health: health)
        InventoryRoutes(runtime: runtime).add(to: router)
        return (router, [orders, shipping])
    }
}
