import Contracts
import ServiceTestSupport
import Testing

@testable import PaymentService

@Suite("Payment decisions")
struct PaymentDecisionTests {
    func account(limit: Int64) -> Account {
        Account(customerId: "cus_42", currency: "USD", creditLimit: limit, authorized: 0, captured: 0)
    }

    @Test func authorizesWithinTheLimitAndDeclinesBeyondIt() {
        let ok = PaymentDecisions.reserved(
            PaymentState(account: account(limit: 2500), payment: nil, cancelled: false), Fixture.reserved(),
            paymentId: Fixture.paymentId)
        #expect(ok.state.account?.authorized == 2500)
        #expect(ok.events.map(\.type) == ["troupe.payment.authorized.v1"])
        let poor = PaymentDecisions.reserved(
            PaymentState(account: account(limit: 2499), payment: nil, cancelled: false), Fixture.reserved(),
            paymentId: Fixture.paymentId)
        guard case .paymentDeclined(let declined) = poor.events.first else {
            Issue.record("expected a decline")
            return
        }
        #expect(declined.data.reason == .insufficientFunds)
        #expect(poor.state.account?.authorized == 0)
    }

    @Test func noAccountIsUnknownAccount() {
        let decision = PaymentDecisions.reserved(
            PaymentState(account: nil, payment: nil, cancelled: false), Fixture.reserved(), paymentId: Fixture.paymentId
        )
        guard case .paymentDeclined(let declined) = decision.events.first else {
            Issue.record("expected a decline")
            return
        }
        #expect(declined.data.reason == .unknownAccount)
    }

    @Test func voidOnCancelCaptureOnDispatchAndNothingAfterATombstone() {
        let authorized = PaymentDecisions.reserved(
            PaymentState(account: account(limit: 10_000), payment: nil, cancelled: false), Fixture.reserved(),
            paymentId: Fixture.paymentId
        ).state
        let voided = PaymentDecisions.cancelled(authorized, Fixture.cancelled())
        #expect(voided.state.account?.authorized == 0)
        #expect(voided.events.map(\.type) == ["troupe.payment.voided.v1"])
        guard case .decided(let captured) = PaymentDecisions.dispatched(authorized, Fixture.dispatched()) else {
            Issue.record("expected a capture")
            return
        }
        #expect(captured.state.account?.captured == 2500)
        #expect(captured.state.account?.authorized == 0)
        let tombstoned = PaymentState(account: account(limit: 10_000), payment: nil, cancelled: true)
        #expect(PaymentDecisions.reserved(tombstoned, Fixture.reserved(), paymentId: Fixture.paymentId).events.isEmpty)
    }
}
