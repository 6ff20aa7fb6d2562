/// `troupe.notification.failed.v1` on `notifications.failed.<orderId>`: A notification failed on some channel after all its retries.
public struct NotificationFailed: EventPayload {
    public static let type = "troupe.notification.failed.v1"
    public static let subjectPrefix = "notifications.failed"
    public static let producer = Producer.notification
    public static let oncePerOrder = false

    public var orderId: String
    public var notificationId: String
    public var customerId: String
    public var template: NotificationTemplate
    public var channels: [String]
    public var error: String

    public init(
        orderId: String, notificationId: String, customerId: String, template: NotificationTemplate, channels: [String],
        error: String
    ) {
        self.orderId = orderId
        self.notificationId = notificationId
        self.customerId = customerId
        self.template = template
        self.channels = channels
        self.error = error
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.prefixedULID(notificationId, "ntf_", "notificationId")
        try Rule.customerId(customerId)
        try Rule.notEmpty(channels, "channels", max: 10)
        for (index, channel) in channels.enumerated() { try Rule.text(channel, "channels[\(index)]", max: 64) }
        try Rule.text(error, "error", max: 1000)
    }
}
