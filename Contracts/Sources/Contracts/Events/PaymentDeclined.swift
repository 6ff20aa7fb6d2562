/// `troupe.payment.declined.v1` on `payments.declined.<orderId>`: The authorization was declined.
public struct PaymentDeclined: EventPayload {
    public static let type = "troupe.payment.declined.v1"
    public static let subjectPrefix = "payments.declined"
    public static let producer = Producer.payment

    public var orderId: String
    public var customerId: String
    public var amount: Int64
    public var currency: String
    public var reason: DeclineReason

    public init(orderId: String, customerId: String, amount: Int64, currency: String, reason: DeclineReason) {
        self.orderId = orderId
        self.customerId = customerId
        self.amount = amount
        self.currency = currency
        self.reason = reason
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.customerId(customerId)
        try Rule.range(amount, 0...1_000_000_000_000_000, "amount")
        try Rule.currency(currency)
    }
}
