import Contracts
import Foundation
import ServiceTestSupport
import Testing

@testable import ShippingService

@Suite("Shipping decisions")
struct ShippingDecisionTests {
    let policy = ShippingPolicy(countries: ["GB", "US"], dispatchDelay: .seconds(2))

    func placedState(country: String = "GB") -> ShippingState {
        ShippingDecisions.placed(
            ShippingState(address: nil, shipment: nil, cancelled: false), Fixture.placed(country: country)
        ).state
    }

    func schedule(_ state: ShippingState) -> ShippingDecisions.Decision? {
        guard
            case .decided(let decision) = ShippingDecisions.authorized(
                state, Fixture.authorized(), policy: policy, now: Date(), shipmentId: Fixture.shipmentId)
        else { return nil }
        return decision
    }

    @Test func schedulesOrFailsByDestinationAndWaitsForTheAddress() throws {
        let scheduled = try #require(schedule(placedState()))
        #expect(scheduled.events.map(\.type) == ["troupe.shipping.scheduled.v1"])
        #expect(scheduled.state.shipment?.status == .SCHEDULED)
        let failed = try #require(schedule(placedState(country: "BR")))
        #expect(failed.events.map(\.type) == ["troupe.shipping.failed.v1"])
        guard
            case .notYet = ShippingDecisions.authorized(
                ShippingState(address: nil, shipment: nil, cancelled: false), Fixture.authorized(), policy: policy,
                now: Date(), shipmentId: Fixture.shipmentId)
        else {
            Issue.record("without the address it must wait")
            return
        }
    }

    @Test func cancellationIsAcceptedBeforeDispatchAndRefusedAfter() throws {
        let scheduled = try #require(schedule(placedState())).state
        let cancelled = ShippingDecisions.cancellationRequested(scheduled, Fixture.cancellationRequested())
        #expect(cancelled.events.map(\.type) == ["troupe.shipping.cancelled.v1"])
        guard case .conflict = ShippingDecisions.dispatch(cancelled.state, now: Date(), trackingNumber: "TRK1") else {
            Issue.record("a cancelled shipment must never be dispatched")
            return
        }
        guard
            case .dispatched(let dispatched) = ShippingDecisions.dispatch(
                scheduled, now: Date(), trackingNumber: "TRK1")
        else {
            Issue.record("expected a dispatch")
            return
        }
        guard case .shippingDispatched(let event) = dispatched.events.first else {
            Issue.record("a dispatch must publish shipping.dispatched; got \(dispatched.events.map(\.type))")
            return
        }
        #expect(event.causationid == scheduled.shipment?.scheduledEventId)
        let refused = ShippingDecisions.cancellationRequested(dispatched.state, Fixture.cancellationRequested())
        #expect(refused.events.map(\.type) == ["troupe.shipping.cancellation_rejected.v1"])
    }
}
