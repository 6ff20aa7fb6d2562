import Contracts
import GRDB
import ServiceKit

/// Payment's reaction to the events it reads: its state per order (and account) from the store, its
/// decisions from the domain; `EventReactor` does the rest, once per event.
struct PaymentHandlers: EventReactor {
    let service: ServiceContext

    /// The state, and the id a new authorization would get (made here so that deciding stays pure).
    struct Loaded {
        var state: PaymentState
        var paymentId: String
    }

    func reacts(to event: AnyEvent) -> Bool {
        switch event {
        case .inventoryReserved, .orderCancelled, .shippingDispatched: true
        default: false
        }
    }

    func load(for event: AnyEvent, in db: StoreSession) throws -> Loaded? {
        switch event {
        case .inventoryReserved(let reserved):
            Loaded(
                state: try PaymentStore.state(
                    orderId: reserved.data.orderId, customerId: reserved.data.customerId, in: db),
                paymentId: ULID.make("pay_"))
        case .orderCancelled, .shippingDispatched:
            Loaded(state: try PaymentStore.state(orderId: event.orderId, customerId: nil, in: db), paymentId: "")
        default:
            nil
        }
    }

    /// The order, and the customer's account when the event names the customer (in one order
    /// across instances).
    func lockKeys(for event: AnyEvent) -> [String] {
        switch event {
        case .inventoryReserved(let reserved):
            [LockKey.order(event.orderId), LockKey.account(reserved.data.customerId)]
        case .orderCancelled(let cancelled): [LockKey.order(event.orderId), LockKey.account(cancelled.data.customerId)]
        default: ServiceContext.orderLock(event)
        }
    }

    func decide(_ event: AnyEvent, _ loaded: Loaded) -> Reaction<Loaded> {
        let decision: PaymentDecisions.Decision
        switch event {
        case .inventoryReserved(let reserved):
            decision = PaymentDecisions.reserved(loaded.state, reserved, paymentId: loaded.paymentId)
        case .orderCancelled(let cancelled):
            decision = PaymentDecisions.cancelled(loaded.state, cancelled)
        case .shippingDispatched(let dispatched):
            switch PaymentDecisions.dispatched(loaded.state, dispatched) {
            case .notYet:
                return .notYet("no payment for \(dispatched.data.orderId) yet (inventory.reserved not seen)")
            case .decided(let decided):
                decision = decided
            }
        default:
            return .apply(loaded, publish: [])
        }
        return .apply(Loaded(state: decision.state, paymentId: loaded.paymentId), publish: decision.events)
    }

    func save(_ loaded: Loaded, for event: AnyEvent, in db: StoreSession) throws {
        try PaymentStore.save(loaded.state, orderId: event.orderId, in: db)
    }

    /// Applies one event at most once for `consumer` (tests; the consumers apply whole batches).
    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        try await service.applyBatch([event], consumer: consumer, reactsTo: reacts(to:), lockKeys: lockKeys) {
            event, db in
            try apply(event, in: db)
        }[0].get()
    }
}
