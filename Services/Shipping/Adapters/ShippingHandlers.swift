import Contracts
import Foundation
import GRDB
import ServiceKit

/// Shipping's reaction to the events it reads (its state per order from the store, its decisions
/// from the domain; `EventReactor` does the rest, once per event), and dispatching.
struct ShippingHandlers: EventReactor {
    let service: ServiceContext
    let policy: ShippingPolicy

    /// The state, with the clock and the id a new shipment would get (read here so that deciding stays pure).
    struct Loaded {
        var state: ShippingState
        var now: Date
        var shipmentId: String
    }

    func reacts(to event: AnyEvent) -> Bool {
        switch event {
        case .orderPlaced, .paymentAuthorized, .orderCancellationRequested, .orderCancelled: true
        default: false
        }
    }

    func load(for event: AnyEvent, in db: StoreSession) throws -> Loaded? {
        switch event {
        case _ where reacts(to: event):
            let shipmentId = if case .paymentAuthorized = event { ULID.make("shp_") } else { "" }
            return Loaded(
                state: try ShippingStore.state(orderId: event.orderId, in: db), now: Date(), shipmentId: shipmentId)
        default:
            return nil
        }
    }

    func decide(_ event: AnyEvent, _ loaded: Loaded) -> Reaction<Loaded> {
        let decision: ShippingDecisions.Decision
        switch event {
        case .orderPlaced(let placed):
            decision = ShippingDecisions.placed(loaded.state, placed)
        case .paymentAuthorized(let authorized):
            switch ShippingDecisions.authorized(
                loaded.state, authorized, policy: policy, now: loaded.now, shipmentId: loaded.shipmentId)
            {
            case .decided(let decided): decision = decided
            case .notYet: return .notYet("no address for \(authorized.data.orderId) yet (orders.placed not seen)")
            }
        case .orderCancellationRequested(let requested):
            decision = ShippingDecisions.cancellationRequested(loaded.state, requested)
        case .orderCancelled:
            decision = ShippingDecisions.cancelled(loaded.state)
        default:
            return .apply(loaded, publish: [])
        }
        var next = loaded
        next.state = decision.state
        return .apply(next, publish: decision.events)
    }

    func save(_ loaded: Loaded, for event: AnyEvent, in db: StoreSession) throws {
        try ShippingStore.save(loaded.state, orderId: event.orderId, in: db)
    }

    /// Applies one event at most once for `consumer` (tests; the consumers apply whole batches).
    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        try await service.applyBatch([event], consumer: consumer, reactsTo: reacts(to:)) { event, db in
            try apply(event, in: db)
        }[0].get()
    }

    /// Dispatches one order now, in one transaction with its event; a cancellation that committed
    /// first wins, and then this is a conflict.
    func dispatch(_ orderId: String) async throws -> ShippingDecisions.DispatchOutcome {
        try await dispatch([orderId])[0]
    }

    /// Dispatches several orders in one transaction (the timer's due shipments), each decided on
    /// its own state.
    func dispatch(_ orderIds: [String]) async throws -> [ShippingDecisions.DispatchOutcome] {
        try await service.write { db in
            try orderIds.map { orderId in
                let tracking = "TRK" + ULID.make("").suffix(16)
                let outcome = ShippingDecisions.dispatch(
                    try ShippingStore.state(orderId: orderId, in: db), now: Date(), trackingNumber: String(tracking))
                if case .dispatched(let decision) = outcome {
                    try ShippingStore.save(decision.state, orderId: orderId, in: db)
                    try Outbox.append(decision.events, in: db)
                }
                return outcome
            }
        }
    }
}
