import Contracts
import Foundation
import Hummingbird
import Messaging
import ServiceKit
import ServiceLifecycle

/// The wiring of shipping.
enum ShippingApp {
    static let descriptor = ServiceDescriptor(
        name: "shipping", defaultPort: 8084,
        settings: [
            SettingSpec(
                "shipping-countries", env: "TROUPE_SHIPPING_COUNTRIES", default: "US,CA,GB,DE,FR,NL,JP,AU",
                help: "destinations served (ISO 3166-1 alpha-2, comma-separated)"),
            SettingSpec(
                "shipping-dispatch-delay", env: "TROUPE_SHIPPING_DISPATCH_DELAY", default: "2s",
                help: "time from scheduled to dispatched, or 'manual'"),
        ],
        streams: [.orders, .payments, .shipping, .deadLetter].map(StreamConfiguration.init), reads: reads)

    static func policy(_ settings: Settings) throws -> ShippingPolicy {
        var reader = SettingsReader(settings)
        let countries = Set(
            (settings.value("shipping-countries") ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        if countries.isEmpty
            || !countries.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isASCII && $0.isUppercase } })
        {
            reader.fail("shipping-countries", "must be ISO 3166-1 alpha-2 codes like US,GB")
        }
        var delay: Duration?
        if settings.value("shipping-dispatch-delay") != "manual" { delay = reader.duration("shipping-dispatch-delay") }
        try reader.finish()
        return ShippingPolicy(countries: countries, dispatchDelay: delay)
    }

    /// The streams shipping reads; of PAYMENTS it reacts to authorisations only, and the server
    /// delivers it nothing else. `ShippingHandlers.reacts(to:)` must agree (`FilteredReadsTests`).
    static let reads: [ServiceDescriptor.Read] = [
        (.orders, nil), (.payments, PaymentAuthorized.self),
    ]

    @Sendable static func build(_ runtime: ServiceRuntime) async throws -> (
        router: Router<BasicRequestContext>, services: [any Service]
    ) {
        let handlers = ShippingHandlers(service: runtime.context, policy: try policy(runtime.settings))
        let (consumers, health) = runtime.consumers(reactor: handlers)
        let router = HTTPKit.router(health: health)
        ShippingRoutes(handlers: handlers).add(to: router)
        return (router, consumers + [DispatchTimer(handlers: handlers, logger: runtime.logger)])
    }
}
