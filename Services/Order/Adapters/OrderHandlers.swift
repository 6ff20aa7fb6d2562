import Contracts
import Foundation
import GRDB
import ServiceKit

/// Applies the events of other services to orders, each once: the incoming event and those it
/// causes are appended to the order's history, with the outbox rows, in the batch's transaction.
struct OrderHandlers: Sendable {
    let service: ServiceContext

    /// The events the order applies to its history: what other services decided about it. Its
    /// own events, and the compensations and settlements that change nothing of it
    /// (`inventory.released`/`committed`, `payments.voided`/`captured`), are not.
    static func reacts(to event: AnyEvent) -> Bool {
        switch event {
        case .inventoryReserved, .inventoryRejected, .paymentAuthorized, .paymentDeclined, .shippingScheduled,
            .shippingFailed, .shippingCancelled, .shippingCancellationRejected, .shippingDispatched:
            true
        default:
            false
        }
    }

    /// One event's effect (the order service is event-sourced: saving is appending to the history).
    /// `document` is the event as it arrived, kept as is in the history (nil: encode it).
    static func apply(_ event: AnyEvent, document: Data? = nil, in db: StoreSession) throws -> HandlerOutcome {
        if event.type.hasPrefix("troupe.order.") { return .done }  // Its own events: nothing to apply.
        // One decision at a time per order, whichever instance makes it.
        try db.lock([LockKey.order(event.orderId)])
        let state = try OrderStore.view(event.orderId, in: db)
        switch OrderDecisions.decide(state, event) {
        case .notYet(let reason):
            return .notYet(reason)
        case .reject(let reason):
            return .reject(reason)
        case .append(let events):
            _ = try OrderStore.append(
                events, publishing: Array(events.dropFirst()), to: state,
                documents: document.map { [event.id: $0] } ?? [:], in: db)
            return .done
        }
    }

    /// Applies one event at most once for `consumer` (tests; the consumers apply whole batches).
    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        try await service.applyBatch([event], consumer: consumer, reactsTo: Self.reacts(to:)) { event, db in
            try Self.apply(event, in: db)
        }[0].get()
    }
}
