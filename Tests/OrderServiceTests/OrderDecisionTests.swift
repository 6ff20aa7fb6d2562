import Contracts
import ServiceTestSupport
import Testing

@testable import OrderService

@Suite("Order decisions and event sourcing")
struct OrderDecisionTests {
    func state(_ events: [AnyEvent]) -> OrderState? { OrderState.fold(events) }

    func appended(_ outcome: OrderDecisions.Outcome) -> [String] {
        if case .append(let events) = outcome { return events.map(\.type) }
        return []
    }

    @Test func confirmsWhenScheduledAndPricedAndWaitsOtherwise() {
        let placed = AnyEvent(Fixture.placed())
        guard case .notYet = OrderDecisions.decide(state([placed]), AnyEvent(Fixture.scheduled())) else {
            Issue.record("confirmation needs the price")
            return
        }
        let priced = state([placed, AnyEvent(Fixture.reserved())])
        #expect(
            appended(OrderDecisions.decide(priced, AnyEvent(Fixture.scheduled())))
                == ["troupe.shipping.scheduled.v1", "troupe.order.confirmed.v1"])
    }

    @Test func shipsOnlyAConfirmedOrder() throws {
        let pending = state([AnyEvent(Fixture.placed()), AnyEvent(Fixture.reserved())])
        guard case .notYet = OrderDecisions.decide(pending, AnyEvent(Fixture.dispatched())) else {
            Issue.record("a dispatch before the confirmation must wait")
            return
        }
        let confirmedEvents = [AnyEvent(Fixture.placed()), AnyEvent(Fixture.reserved())]
        let scheduled = OrderDecisions.decide(state(confirmedEvents), AnyEvent(Fixture.scheduled()))
        guard case .append(let confirmation) = scheduled else {
            Issue.record("a priced, pending order must be confirmed when scheduled; got \(scheduled)")
            return
        }
        let confirmed = state(confirmedEvents + confirmation)
        #expect(confirmed?.status == .CONFIRMED)
        #expect(
            appended(OrderDecisions.decide(confirmed, AnyEvent(Fixture.dispatched())))
                == ["troupe.shipping.dispatched.v1", "troupe.order.shipped.v1"])
    }

    /// Every event the order applies, as it could arrive after the order was cancelled.
    static func laterEvents() -> [AnyEvent] {
        let id = Fixture.orderId
        return [
            AnyEvent(
                CloudEvent(
                    data: InventoryRejected(
                        orderId: id, reason: .outOfStock,
                        lines: [RejectedLine(sku: "SKU-MUG", requested: 2, available: 0)]),
                    causedBy: Fixture.placed())),
            AnyEvent(
                CloudEvent(
                    data: PaymentDeclined(
                        orderId: id, customerId: "cus_42", amount: 2500, currency: "USD", reason: .unknownAccount),
                    causedBy: Fixture.reserved())),
            AnyEvent(
                CloudEvent(
                    data: ShippingFailed(orderId: id, reason: .unsupportedDestination),
                    causedBy: Fixture.authorized())),
            AnyEvent(CloudEvent(data: ShippingCancelled(orderId: id), causedBy: Fixture.cancellationRequested())),
            AnyEvent(
                CloudEvent(
                    data: ShippingCancellationRejected(orderId: id, reason: .alreadyDispatched),
                    causedBy: Fixture.cancellationRequested())),
            AnyEvent(Fixture.reserved()), AnyEvent(Fixture.authorized()), AnyEvent(Fixture.scheduled()),
            AnyEvent(Fixture.dispatched()),
        ]
    }

    @Test(arguments: laterEvents())
    func cancelsOnceWhateverComesLater(_ later: AnyEvent) throws {
        let placed = [AnyEvent(Fixture.placed()), AnyEvent(Fixture.reserved())]
        let declined = AnyEvent(
            CloudEvent(
                data: PaymentDeclined(
                    orderId: Fixture.orderId, customerId: "cus_42", amount: 2500, currency: "USD",
                    reason: .insufficientFunds),
                causedBy: Fixture.reserved()))
        let decision = OrderDecisions.decide(state(placed), declined)
        guard case .append(let first) = decision else {
            Issue.record("a declined payment must cancel the order; got \(decision)")
            return
        }
        #expect(first.map(\.type) == ["troupe.payment.declined.v1", "troupe.order.cancelled.v1"])
        let cancelled = try #require(state(placed + first))
        #expect(cancelled.status == .CANCELLED)
        #expect(cancelled.cancellationReason == .paymentDeclined)

        // Whatever comes later is recorded and causes nothing: no second cancellation, no
        // confirmation, no shipment; the order stays cancelled for its first reason.
        #expect(appended(OrderDecisions.decide(cancelled, later)) == [later.type])
        let after = try #require(state(placed + first + [later]))
        #expect(after.status == .CANCELLED)
        #expect(after.cancellationReason == .paymentDeclined)
    }

    @Test func theFoldRebuildsTheStateFromTheHistory() {
        let history = [AnyEvent(Fixture.placed()), AnyEvent(Fixture.reserved()), AnyEvent(Fixture.authorized())]
        let folded = state(history)
        #expect(folded?.version == 3)
        #expect(folded?.total == 2500)
        #expect(folded?.paymentId == Fixture.paymentId)
        #expect(folded?.status == .PENDING)
        #expect(state(Array(history.prefix(1)))?.total == nil)
    }

    @Test func placeOrderRequestsAreValidatedAsHTTPSays() {
        func request(_ change: (inout PlaceOrderRequest) -> Void) -> PlaceOrderRequest {
            var request = PlaceOrderRequest(
                customerId: "cus_42", lines: [.init(sku: "SKU-A", quantity: 1)],
                shippingAddress: .init(name: "A", line1: "1", line2: nil, city: "C", postalCode: "P", country: "GB"))
            change(&request)
            return request
        }
        #expect(request { _ in }.violation() == nil)
        #expect(request { $0.lines[0].quantity = 0 }.violation()?.field == "lines[0].quantity")
        #expect(request { $0.lines.append(.init(sku: "SKU-A", quantity: 1)) }.violation()?.field == "lines[1].sku")
        #expect(request { $0.shippingAddress.country = "XX" }.violation()?.field == "shippingAddress.country")
        #expect(request { $0.shippingAddress.country = "gb" }.violation()?.field == "shippingAddress.country")
        #expect(request { $0.customerId = "bad id" }.violation()?.field == "customerId")
        #expect(request { $0.lines = [] }.violation()?.field == "lines")
        #expect(request { $0.shippingAddress.city = "   " }.violation()?.field == "shippingAddress.city")
        // The character sets and lengths of ids, byte by byte: every allowed character, the limits,
        // and characters outside the sets that look alike (a letter with an accent, combined or
        // not, a lower-case SKU, a space, a non-ASCII digit).
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        #expect(request { $0.customerId = String(letters.prefix(64)) }.violation() == nil)
        #expect(request { $0.customerId = String(repeating: "a", count: 65) }.violation()?.field == "customerId")
        #expect(request { $0.customerId = "" }.violation()?.field == "customerId")
        for bad in ["cus_\u{E9}", "cus_e\u{301}", "cus 1", "cus_\u{0663}", "cus\n"] {
            #expect(request { $0.customerId = bad }.violation()?.field == "customerId", "\(bad.debugDescription)")
        }
        #expect(request { $0.lines[0].sku = "ABCXYZ_09-" }.violation() == nil)
        #expect(request { $0.lines[0].sku = String(repeating: "A", count: 64) }.violation() == nil)
        for bad in ["sku-a", "SKU\u{C9}", "SKU A", "", String(repeating: "A", count: 65)] {
            #expect(request { $0.lines[0].sku = bad }.violation()?.field == "lines[0].sku", "\(bad.debugDescription)")
        }
    }
}
