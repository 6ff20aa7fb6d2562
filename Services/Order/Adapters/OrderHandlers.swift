import Contracts
import Foundation
import GRDB
import ServiceKit

/// Applies the events of other services to orders, each once: the incoming event and those it
/// causes are appended to the order's history in one transaction, with the outbox rows.
struct OrderHandlers: Sendable {
    let runtime: ServiceRuntime

    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        if event.type.hasPrefix("troupe.order.") { return .done }  // Its own events: nothing to apply.
        return try await runtime.applyOnce(event, consumer: consumer) { db in
            let state = try OrderStore.state(event.orderId, in: db)
            switch OrderDecisions.decide(state, event) {
            case .notYet(let reason):
                return .notYet(reason)
            case .reject(let reason):
                return .reject(reason)
            case .append(let events):
                _ = try OrderStore.append(events, publishing: Array(events.dropFirst()), to: state, in: db)
                return .done
            }
        }
    }
}
