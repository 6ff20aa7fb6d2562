import Contracts
import Hummingbird
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of payment.
enum PaymentApp {
    static let descriptor = ServiceDescriptor(
        name: "payment", defaultPort: 8083,
        streams: [.orders, .inventory, .payments, .shipping, .deadLetter].map(StreamConfiguration.init), reads: reads)

    /// The streams payment reads, and the one kind of event it reacts to on each: the server
    /// delivers it nothing else (docs/pipeline.md). `PaymentHandlers.reacts(to:)` must agree
    /// (`FilteredReadsTests`).
    static let reads: [ServiceDescriptor.Read] = [
        (.inventory, InventoryReserved.self), (.orders, OrderCancelled.self), (.shipping, ShippingDispatched.self),
    ]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        let (consumers, health) = runtime.consumers(reactor: PaymentHandlers(service: runtime.context))
        let router = HTTPKit.router(health: health)
        PaymentRoutes(service: runtime.context).add(to: router)
        return (router, consumers)
    }
}
