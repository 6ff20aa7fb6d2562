import Contracts
import GRDB
import Messaging
import ServiceKit

/// Applies the events inventory reacts to, each once, in one transaction with its outcome.
struct InventoryHandlers: Sendable {
    let runtime: ServiceRuntime

    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        switch event {
        case .orderPlaced(let placed):
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try InventoryStore.state(
                    orderId: placed.data.orderId, skus: placed.data.lines.map(\.sku), in: db)
                let decision = InventoryDecisions.placed(state, placed)
                try InventoryStore.save(decision.state, orderId: placed.data.orderId, in: db)
                try Outbox.append(decision.events, in: db)
                return .done
            }
        case .orderCancelled(let cancelled):
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try InventoryStore.state(orderId: cancelled.data.orderId, skus: [], in: db)
                let decision = InventoryDecisions.cancelled(state, cancelled)
                try InventoryStore.save(decision.state, orderId: cancelled.data.orderId, in: db)
                try Outbox.append(decision.events, in: db)
                return .done
            }
        case .shippingDispatched(let dispatched):
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try InventoryStore.state(orderId: dispatched.data.orderId, skus: [], in: db)
                switch InventoryDecisions.dispatched(state, dispatched) {
                case .notYet:
                    return .notYet("no reservation for \(dispatched.data.orderId) yet (orders.placed not seen)")
                case .decided(let decision):
                    try InventoryStore.save(decision.state, orderId: dispatched.data.orderId, in: db)
                    try Outbox.append(decision.events, in: db)
                    return .done
                }
            }
        default:
            return .done  // Not an event inventory reacts to.
        }
    }
}
