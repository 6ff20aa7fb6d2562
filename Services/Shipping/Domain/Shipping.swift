import Contracts
import Foundation

/// A shipment and where it stands.
struct Shipment: Codable, Sendable, Hashable {
    enum Status: String, Codable, Sendable { case SCHEDULED, DISPATCHED, CANCELLED }
    var orderId: String
    var shipmentId: String
    var status: Status
    var carrier: String
    var trackingNumber: String?
    var estimatedDelivery: String
    /// When the dispatch timer fires (nil: manual dispatch only).
    var dispatchAt: Date?
    /// The `shipping.scheduled` event, which a dispatch names as its cause.
    var scheduledEventId: String
    var traceparent: String?
}

/// Shipping's view of one order.
struct ShippingState: Sendable, Hashable {
    var address: ShippingAddress?
    var shipment: Shipment?
    /// Shipping cancelled it, or saw `orders.cancelled`: it is never dispatched.
    var cancelled: Bool
}

/// Settings the decisions depend on.
struct ShippingPolicy: Sendable {
    var countries: Set<String>
    /// nil: dispatch waits for the admin endpoint.
    var dispatchDelay: Duration?

    func carrier(for country: String) -> String {
        switch country {
        case "GB": "Royal Mail"
        case "US", "CA": "UPS"
        case "DE", "FR", "NL": "DHL"
        default: "FedEx"
        }
    }
}

/// Shipping's rules, as pure decisions. Dispatch is the point of no return, and shipping owns it.
enum ShippingDecisions {
    struct Decision: Sendable {
        var state: ShippingState
        var events: [AnyEvent]
    }

    static func placed(_ state: ShippingState, _ event: CloudEvent<OrderPlaced>) -> Decision {
        var next = state
        if next.address == nil { next.address = event.data.shippingAddress }
        return Decision(state: next, events: [])
    }

    enum ScheduleOutcome: Sendable {
        case decided(Decision)
        /// The address (from `orders.placed`) has not arrived yet.
        case notYet
    }

    /// `payments.authorized`: schedule a shipment, or fail for an unserved destination.
    static func authorized(
        _ state: ShippingState, _ event: CloudEvent<PaymentAuthorized>, policy: ShippingPolicy, now: Date,
        shipmentId: String
    ) -> ScheduleOutcome {
        guard !state.cancelled, state.shipment == nil else { return .decided(Decision(state: state, events: [])) }
        guard let address = state.address else { return .notYet }
        guard policy.countries.contains(address.country) else {
            let failed = ShippingFailed(
                orderId: event.data.orderId, reason: .unsupportedDestination,
                detail: "shipping does not serve \(address.country)")
            var next = state
            next.cancelled = true  // Nothing was acquired; nothing will be.
            return .decided(Decision(state: next, events: [AnyEvent(CloudEvent(data: failed, causedBy: event))]))
        }
        let carrier = policy.carrier(for: address.country)
        let estimated = Date(timeInterval: 3 * 86_400, since: now)
        let scheduled = CloudEvent(
            data: ShippingScheduled(
                orderId: event.data.orderId, shipmentId: shipmentId, carrier: carrier,
                estimatedDelivery: String(Timestamp.string(estimated).prefix(10))),
            causedBy: event, time: now)
        var next = state
        next.shipment = Shipment(
            orderId: event.data.orderId, shipmentId: shipmentId, status: .SCHEDULED, carrier: carrier,
            trackingNumber: nil, estimatedDelivery: scheduled.data.estimatedDelivery,
            dispatchAt: policy.dispatchDelay.map {
                now.addingTimeInterval(Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18)
            },
            scheduledEventId: scheduled.id, traceparent: scheduled.traceparent)
        return .decided(Decision(state: next, events: [AnyEvent(scheduled)]))
    }

    /// `orders.cancellation_requested`: cancel unless the parcel has left.
    static func cancellationRequested(_ state: ShippingState, _ event: CloudEvent<OrderCancellationRequested>)
        -> Decision
    {
        if state.shipment?.status == .DISPATCHED {
            let rejected = ShippingCancellationRejected(orderId: event.data.orderId, reason: .alreadyDispatched)
            return Decision(state: state, events: [AnyEvent(CloudEvent(data: rejected, causedBy: event))])
        }
        // Already cancelled (by a request or orders.cancelled): one decision per order is enough.
        guard !state.cancelled else { return Decision(state: state, events: []) }
        var next = state
        next.cancelled = true
        next.shipment?.status = .CANCELLED
        let cancelled = ShippingCancelled(orderId: event.data.orderId, shipmentId: state.shipment?.shipmentId)
        return Decision(state: next, events: [AnyEvent(CloudEvent(data: cancelled, causedBy: event))])
    }

    /// `orders.cancelled`: never dispatch it; cancel a scheduled shipment.
    static func cancelled(_ state: ShippingState) -> Decision {
        var next = state
        next.cancelled = true
        if next.shipment?.status == .SCHEDULED { next.shipment?.status = .CANCELLED }
        return Decision(state: next, events: [])
    }

    enum DispatchOutcome: Sendable {
        case dispatched(Decision)
        case notScheduled
        case conflict(String)
    }

    /// The dispatch timer fired, or the admin asked: the parcel leaves, unless it was cancelled.
    static func dispatch(_ state: ShippingState, now: Date, trackingNumber: String) -> DispatchOutcome {
        guard var shipment = state.shipment else { return .notScheduled }
        guard !state.cancelled, shipment.status == .SCHEDULED else {
            return .conflict("shipment \(shipment.shipmentId) is \(shipment.status.rawValue.lowercased())")
        }
        shipment.status = .DISPATCHED
        shipment.trackingNumber = trackingNumber
        var next = state
        next.shipment = shipment
        let dispatched = CloudEvent(
            data: ShippingDispatched(
                orderId: shipment.orderId, shipmentId: shipment.shipmentId, trackingNumber: trackingNumber,
                dispatchedAt: Timestamp.string(now)),
            time: now, causationid: shipment.scheduledEventId, traceparent: shipment.traceparent)
        return .dispatched(Decision(state: next, events: [AnyEvent(dispatched)]))
    }
}
