/// `troupe.payment.authorized.v1` on `payments.authorized.<orderId>`: The order's total is authorized on the customer's account.
public struct PaymentAuthorized: EventPayload {
    public static let type = "troupe.payment.authorized.v1"
    public static let subjectPrefix = "payments.authorized"
    public static let producer = Producer.payment

    public var orderId: String
    public var customerId: String
    public var paymentId: String
    public var amount: Int64
    public var currency: String

    public init(orderId: String, customerId: String, paymentId: String, amount: Int64, currency: String) {
        self.orderId = orderId
        self.customerId = customerId
        self.paymentId = paymentId
        self.amount = amount
        self.currency = currency
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try Rule.prefixedULID(paymentId, "pay_", "paymentId")
        try Rule.range(amount, 0...1_000_000_000_000_000, "amount")
        try Rule.currency(currency)
    }
}
