import Contracts
import Foundation

/// The order's rules: given its state and an event from another service, which events to append to
/// its history (the incoming one, and those it causes). Pure.
enum OrderDecisions {
    enum Outcome: Sendable, Equatable {
        /// Append these to the history (the first is the incoming event); publish all but the first.
        case append([AnyEvent])
        /// Something this event needs has not arrived yet.
        case notYet(String)
        /// Not this order's business (an order this service never placed).
        case reject(String)
    }

    static func decide(_ state: OrderState?, _ event: AnyEvent, now: Date = Date()) -> Outcome {
        guard let state else { return .reject("order \(event.orderId) was never placed here") }
        switch event {
        case .inventoryRejected(let e):
            let detail = e.data.lines.map { "\($0.sku): requested \($0.requested), available \($0.available)" }
                .joined(separator: "; ")
            return cancel(state, event, e.data.reason == .unknownSku ? .unknownSku : .outOfStock, detail, now, e)
        case .paymentDeclined(let e):
            return cancel(state, event, .paymentDeclined, e.data.reason.rawValue, now, e)
        case .shippingFailed(let e):
            return cancel(state, event, .shippingUnavailable, e.data.detail, now, e)
        case .shippingCancelled(let e):
            return cancel(state, event, .customerRequest, "cancelled at the customer's request", now, e)
        case .shippingScheduled(let e):
            guard state.status == .PENDING else { return .append([event]) }
            guard let total = state.total, let currency = state.currency else {
                return .notYet("order \(state.orderId) is not priced yet (inventory.reserved not seen)")
            }
            let confirmed = CloudEvent(
                data: OrderConfirmed(
                    orderId: state.orderId, customerId: state.customerId, shipmentId: e.data.shipmentId, total: total,
                    currency: currency),
                causedBy: e, time: now)
            return .append([event, AnyEvent(confirmed)])
        case .shippingDispatched(let e):
            switch state.status {
            case .PENDING:
                return .notYet("order \(state.orderId) is not confirmed yet (shipping.scheduled not seen)")
            case .CONFIRMED:
                let shipped = CloudEvent(
                    data: OrderShipped(
                        orderId: state.orderId, customerId: state.customerId, shipmentId: e.data.shipmentId,
                        trackingNumber: e.data.trackingNumber),
                    causedBy: e, time: now)
                return .append([event, AnyEvent(shipped)])
            case .SHIPPED, .CANCELLED:
                return .append([event])
            }
        case .inventoryReserved, .paymentAuthorized, .shippingCancellationRejected:
            return .append([event])
        default:
            return .append([])  // Not an event the order applies.
        }
    }

    /// Cancels the order once: a later failure or cancellation of a cancelled order changes nothing.
    private static func cancel<Cause>(
        _ state: OrderState, _ event: AnyEvent, _ reason: CancellationReason, _ detail: String?, _ now: Date,
        _ cause: CloudEvent<Cause>
    ) -> Outcome {
        guard !state.isFinal else { return .append([event]) }
        let cancelled = CloudEvent(
            data: OrderCancelled(
                orderId: state.orderId, customerId: state.customerId, reason: reason,
                detail: detail.map { String($0.prefix(500)) }),
            causedBy: cause, time: now)
        return .append([event, AnyEvent(cancelled)])
    }
}
