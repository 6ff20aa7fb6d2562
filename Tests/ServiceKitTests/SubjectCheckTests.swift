import Contracts
import Testing

@testable import ServiceKit

/// Issue 10.4, the rule itself: an event counts only on the subject it belongs on.
@Suite("An event belongs on one subject")
struct SubjectCheckTests {
    static let order = "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F"
    static let cancelled = AnyEvent(
        CloudEvent(
            data: OrderCancelled(orderId: order, customerId: "cus_42", reason: .customerRequest), causationid: nil,
            traceparent: nil))

    @Test func itsOwnSubjectIsAccepted() {
        #expect(
            EventDecoder.subjectMismatch(Self.cancelled, subject: "orders.cancelled.\(Self.order)", prefix: "") == nil)
        let replay = DeadLetter.replayPrefix(service: "payment")
        #expect(
            EventDecoder.subjectMismatch(
                Self.cancelled, subject: replay + "orders.cancelled.\(Self.order)", prefix: replay) == nil)
    }

    @Test(arguments: [
        "payments.voided.\(order)",  // another domain (and stream)
        "orders.placed.\(order)",  // its domain, another event
        "orders.cancelled.ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D70",  // another order
        "orders.cancelled.\(order).x", "xorders.cancelled.\(order)", "orders.cancelled",
    ])
    func anyOtherSubjectIsWrong(_ subject: String) throws {
        let failure = try #require(EventDecoder.subjectMismatch(Self.cancelled, subject: subject, prefix: ""))
        #expect(failure.code == .wrongSubject)
        #expect(failure.description.contains("belongs on orders.cancelled.\(Self.order), not on \(subject)"))
    }

    @Test func aReplayMustCarryTheEventsOwnSubjectAfterThePrefix() throws {
        let replay = DeadLetter.replayPrefix(service: "shipping")
        for subject in [
            replay + "payments.voided.\(Self.order)", "deadletter.replay.payment.orders.cancelled.\(Self.order)",
        ] {
            let failure = try #require(EventDecoder.subjectMismatch(Self.cancelled, subject: subject, prefix: replay))
            #expect(failure.code == .wrongSubject)
        }
    }
}
