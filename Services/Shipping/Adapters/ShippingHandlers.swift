import Contracts
import Foundation
import GRDB
import ServiceKit

/// Applies the events shipping reacts to, each once; and dispatches.
struct ShippingHandlers: Sendable {
    let runtime: ServiceRuntime
    let policy: ShippingPolicy

    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        let policy = self.policy
        switch event {
        case .orderPlaced(let placed):
            return try await apply(event, consumer, placed.data.orderId) { state in
                .decided(ShippingDecisions.placed(state, placed))
            }
        case .paymentAuthorized(let authorized):
            let shipmentId = ULID.make("shp_")
            return try await apply(event, consumer, authorized.data.orderId) { state in
                switch ShippingDecisions.authorized(
                    state, authorized, policy: policy, now: Date(), shipmentId: shipmentId)
                {
                case .decided(let decision): .decided(decision)
                case .notYet: .notYet("no address for \(authorized.data.orderId) yet (orders.placed not seen)")
                }
            }
        case .orderCancellationRequested(let requested):
            return try await apply(event, consumer, requested.data.orderId) { state in
                .decided(ShippingDecisions.cancellationRequested(state, requested))
            }
        case .orderCancelled(let cancelled):
            return try await apply(event, consumer, cancelled.data.orderId) { state in
                .decided(ShippingDecisions.cancelled(state))
            }
        default:
            return .done
        }
    }

    private enum Step {
        case decided(ShippingDecisions.Decision)
        case notYet(String)
    }

    private func apply(
        _ event: AnyEvent, _ consumer: String, _ orderId: String,
        _ decide: @escaping @Sendable (ShippingState) -> Step
    ) async throws -> HandlerOutcome {
        try await runtime.applyOnce(event, consumer: consumer) { db in
            switch decide(try ShippingStore.state(orderId: orderId, in: db)) {
            case .notYet(let reason):
                return .notYet(reason)
            case .decided(let decision):
                try ShippingStore.save(decision.state, orderId: orderId, in: db)
                try Outbox.append(decision.events, in: db)
                return .done
            }
        }
    }

    /// Dispatches one order now, in one transaction with its event; a cancellation that committed
    /// first wins, and then this is a conflict.
    func dispatch(_ orderId: String) async throws -> ShippingDecisions.DispatchOutcome {
        let tracking = "TRK" + ULID.make("").suffix(16)
        return try await runtime.write { db in
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
