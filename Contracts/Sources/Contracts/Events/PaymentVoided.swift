/// `troupe.payment.voided.v1` on `payments.voided.<orderId>`: An authorization was voided after a cancellation.
public struct PaymentVoided: EventPayload {
    public static let type = "troupe.payment.voided.v1"
    public static let subjectPrefix = "payments.voided"
    public static let producer = Producer.payment

    public var orderId: String
    public var paymentId: String
    public var amount: Int64
    public var currency: String

    public init(orderId: String, paymentId: String, amount: Int64, currency: String) {
        self.orderId = orderId
        self.paymentId = paymentId
        self.amount = amount
        self.currency = currency
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.prefixedULID(paymentId, "pay_", "paymentId")
        try Rule.range(amount, 0...1_000_000_000_000_000, "amount")
        try Rule.currency(currency)
    }
}
