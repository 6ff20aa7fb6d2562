import Contracts

/// A customer's account: what it may spend, what is held, what was taken.
struct Account: Codable, Sendable, Hashable {
    var customerId: String
    var currency: String
    var creditLimit: Int64
    var authorized: Int64
    var captured: Int64

    var available: Int64 { creditLimit - authorized - captured }
}

/// Payment's record of one order.
struct Payment: Codable, Sendable, Hashable {
    enum Status: String, Codable, Sendable { case AUTHORIZED, VOIDED, CAPTURED, DECLINED }
    var orderId: String
    var paymentId: String?
    var customerId: String
    var amount: Int64
    var currency: String
    var status: Status
}

/// Payment's view of one order: all a decision needs.
struct PaymentState: Sendable, Hashable {
    var account: Account?
    var payment: Payment?
    var cancelled: Bool
}

/// Payment's rules, as pure decisions.
enum PaymentDecisions {
    struct Decision: Sendable {
        var state: PaymentState
        var events: [AnyEvent]
    }

    /// `inventory.reserved`: authorize the total, or decline it.
    static func reserved(_ state: PaymentState, _ event: CloudEvent<InventoryReserved>, paymentId: String) -> Decision {
        guard !state.cancelled, state.payment == nil else { return Decision(state: state, events: []) }
        let order = event.data
        var next = state
        func decline(_ reason: DeclineReason) -> Decision {
            next.payment = Payment(
                orderId: order.orderId, paymentId: nil, customerId: order.customerId, amount: order.total,
                currency: order.currency, status: .DECLINED)
            let declined = PaymentDeclined(
                orderId: order.orderId, customerId: order.customerId, amount: order.total, currency: order.currency,
                reason: reason)
            return Decision(state: next, events: [AnyEvent(CloudEvent(data: declined, causedBy: event))])
        }
        guard var account = state.account, account.currency == order.currency else { return decline(.unknownAccount) }
        guard order.total <= account.available else { return decline(.insufficientFunds) }
        account.authorized += order.total
        next.account = account
        next.payment = Payment(
            orderId: order.orderId, paymentId: paymentId, customerId: order.customerId, amount: order.total,
            currency: order.currency, status: .AUTHORIZED)
        let authorized = PaymentAuthorized(
            orderId: order.orderId, customerId: order.customerId, paymentId: paymentId, amount: order.total,
            currency: order.currency)
        return Decision(state: next, events: [AnyEvent(CloudEvent(data: authorized, causedBy: event))])
    }

    /// `orders.cancelled`: remember it; void what was authorized.
    static func cancelled(_ state: PaymentState, _ event: CloudEvent<OrderCancelled>) -> Decision {
        var next = state
        next.cancelled = true
        guard var payment = state.payment, payment.status == .AUTHORIZED, let paymentId = payment.paymentId else {
            return Decision(state: next, events: [])
        }
        next.account?.authorized -= payment.amount
        payment.status = .VOIDED
        next.payment = payment
        let voided = PaymentVoided(
            orderId: payment.orderId, paymentId: paymentId, amount: payment.amount, currency: payment.currency)
        return Decision(state: next, events: [AnyEvent(CloudEvent(data: voided, causedBy: event))])
    }

    enum DispatchOutcome: Sendable {
        case decided(Decision)
        case notYet
    }

    /// `shipping.dispatched`: capture the authorization.
    static func dispatched(_ state: PaymentState, _ event: CloudEvent<ShippingDispatched>) -> DispatchOutcome {
        guard var payment = state.payment else { return .notYet }
        guard payment.status == .AUTHORIZED, let paymentId = payment.paymentId else {
            return .decided(Decision(state: state, events: []))
        }
        var next = state
        next.account?.authorized -= payment.amount
        next.account?.captured += payment.amount
        payment.status = .CAPTURED
        next.payment = payment
        let captured = PaymentCaptured(
            orderId: payment.orderId, paymentId: paymentId, amount: payment.amount, currency: payment.currency)
        return .decided(Decision(state: next, events: [AnyEvent(CloudEvent(data: captured, causedBy: event))]))
    }
}
