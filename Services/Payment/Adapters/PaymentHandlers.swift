import Contracts
import GRDB
import ServiceKit

/// Applies the events payment reacts to, each once.
struct PaymentHandlers: Sendable {
    let runtime: ServiceRuntime

    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        switch event {
        case .inventoryReserved(let reserved):
            let paymentId = ULID.make("pay_")
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try PaymentStore.state(
                    orderId: reserved.data.orderId, customerId: reserved.data.customerId, in: db)
                let decision = PaymentDecisions.reserved(state, reserved, paymentId: paymentId)
                try PaymentStore.save(decision.state, orderId: reserved.data.orderId, in: db)
                try Outbox.append(decision.events, in: db)
                return .done
            }
        case .orderCancelled(let cancelled):
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try PaymentStore.state(orderId: cancelled.data.orderId, customerId: nil, in: db)
                let decision = PaymentDecisions.cancelled(state, cancelled)
                try PaymentStore.save(decision.state, orderId: cancelled.data.orderId, in: db)
                try Outbox.append(decision.events, in: db)
                return .done
            }
        case .shippingDispatched(let dispatched):
            return try await runtime.applyOnce(event, consumer: consumer) { db in
                let state = try PaymentStore.state(orderId: dispatched.data.orderId, customerId: nil, in: db)
                switch PaymentDecisions.dispatched(state, dispatched) {
                case .notYet:
                    return .notYet("no payment for \(dispatched.data.orderId) yet (inventory.reserved not seen)")
                case .decided(let decision):
                    try PaymentStore.save(decision.state, orderId: dispatched.data.orderId, in: db)
                    try Outbox.append(decision.events, in: db)
                    return .done
                }
            }
        default:
            return .done
        }
    }
}
