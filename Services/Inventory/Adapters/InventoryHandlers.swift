import Contracts
import GRDB
import Messaging
import ServiceKit

/// Inventory's reaction to the events it reads: its state per order from the store, its decisions
/// from the domain; `EventReactor` does the rest, once per event, in the batch's transaction.
struct InventoryHandlers: EventReactor {
    let service: ServiceContext

    func reacts(to event: AnyEvent) -> Bool {
        switch event {
        case .orderPlaced, .orderCancelled, .shippingDispatched: true
        default: false
        }
    }

    func load(for event: AnyEvent, in db: StoreSession) throws -> InventoryState? {
        switch event {
        case .orderPlaced(let placed):
            try InventoryStore.state(orderId: placed.data.orderId, skus: placed.data.lines.map(\.sku), in: db)
        case .orderCancelled, .shippingDispatched:
            try InventoryStore.state(orderId: event.orderId, skus: [], in: db)
        default:
            nil  // Not an event inventory reacts to.
        }
    }

    /// The order, and the products an order placed names (in one order across instances).
    func lockKeys(for event: AnyEvent) -> [String] {
        guard case .orderPlaced(let placed) = event else { return ServiceContext.orderLock(event) }
        return ServiceContext.orderLock(event) + placed.data.lines.map { LockKey.product($0.sku) }
    }

    func decide(_ event: AnyEvent, _ state: InventoryState) -> Reaction<InventoryState> {
        let decision: InventoryDecisions.Decision
        switch event {
        case .orderPlaced(let placed):
            decision = InventoryDecisions.placed(state, placed)
        case .orderCancelled(let cancelled):
            decision = InventoryDecisions.cancelled(state, cancelled)
        case .shippingDispatched(let dispatched):
            switch InventoryDecisions.dispatched(state, dispatched) {
            case .notYet:
                return .notYet("no reservation for \(dispatched.data.orderId) yet (orders.placed not seen)")
            case .decided(let decided):
                decision = decided
            }
        default:
            return .apply(state, publish: [])
        }
        return .apply(decision.state, publish: decision.events)
    }

    func save(_ state: InventoryState, for event: AnyEvent, in db: StoreSession) throws {
        try InventoryStore.save(state, orderId: event.orderId, in: db)
    }

    /// Applies one event at most once for `consumer` (tests; the consumers apply whole batches).
    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        try await service.applyBatch([event], consumer: consumer, reactsTo: reacts(to:), lockKeys: lockKeys) {
            event, db in
            try apply(event, in: db)
        }[0].get()
    }
}
