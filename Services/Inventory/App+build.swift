import Contracts
import Hummingbird
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of inventory: what it reads, what it serves. Tests build the same application.
enum InventoryApp {
    static let descriptor = ServiceDescriptor(
        name: "inventory", defaultPort: 8082,
        streams: [.orders, .inventory, .shipping, .deadLetter].map(StreamConfiguration.init), reads: reads)

    /// The streams inventory reads; of SHIPPING it reacts to dispatches only, and
    /// the server delivers it nothing else. `InventoryHandlers.reacts(to:)` must agree
    /// (`FilteredReadsTests`).
    static let reads: [ServiceDescriptor.Read] = [
        (.orders, nil), (.shipping, ShippingDispatched.self),
    ]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        let (consumers, health) = runtime.consumers(reactor: InventoryHandlers(service: runtime.context))
        let router = HTTPKit.router(health: health)
        InventoryRoutes(service: runtime.context).add(to: router)
        return (router, consumers)
    }
}
