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
        let orders = runtime.consumer(of: .orders, reactor: handlers)
        let shipping = runtime.consumer(of: .shipping, reactor: handlers)
        let health = runtime.healthChecks(consumers: [
            runtime.consumerName(of: .orders): { orders.isBound },
            runtime.consumerName(of: .shipping): { shipping.isBound },
        ])
        let router = HTTPKit.router(health: health)
        InventoryRoutes(runtime: runtime).add(to: router)
        return (router, [orders, shipping])
    }
}
