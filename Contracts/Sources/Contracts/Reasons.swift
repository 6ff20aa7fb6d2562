/// Why an order was cancelled (`orders.cancelled`).
public enum CancellationReason: String, Codable, Sendable, Hashable, CaseIterable {
    case outOfStock = "out_of_stock"
    case unknownSku = "unknown_sku"
    case paymentDeclined = "payment_declined"
    case shippingUnavailable = "shipping_unavailable"
    case customerRequest = "customer_request"
}

/// Why inventory could not reserve an order; `unknownSku` wins when both apply.
public enum RejectionReason: String, Codable, Sendable, Hashable, CaseIterable {
    case outOfStock = "out_of_stock"
    case unknownSku = "unknown_sku"
}

/// Why payment declined an authorization.
public enum DeclineReason: String, Codable, Sendable, Hashable, CaseIterable {
    case insufficientFunds = "insufficient_funds"
    case unknownAccount = "unknown_account"
}

/// Why shipping could not schedule an order.
public enum ShippingFailureReason: String, Codable, Sendable, Hashable, CaseIterable {
    case unsupportedDestination = "unsupported_destination"
}

/// Why shipping refused a cancellation.
public enum CancellationRejectionReason: String, Codable, Sendable, Hashable, CaseIterable {
    case alreadyDispatched = "already_dispatched"
}

/// The notifications there are: one per order and template.
public enum NotificationTemplate: String, Codable, Sendable, Hashable, CaseIterable {
    case orderConfirmed = "order_confirmed"
    case orderCancelled = "order_cancelled"
    case orderShipped = "order_shipped"
}
