/// `troupe.notification.sent.v1` on `notifications.sent.<orderId>`: A notification went out on every configured channel.
public struct NotificationSent: EventPayload {
    public static let type = "troupe.notification.sent.v1"
    public static let subjectPrefix = "notifications.sent"
    public static let producer = Producer.notification
    public static let oncePerOrder = false

    public var orderId: String
    public var notificationId: String
    public var customerId: String
    public var template: NotificationTemplate
    public var channels: [String]
    public var sentAt: String

    public init(
        orderId: String, notificationId: String, customerId: String, template: NotificationTemplate, channels: [String],
        sentAt: String
    ) {
        self.orderId = orderId
        self.notificationId = notificationId
        self.customerId = customerId
        self.template = template
        self.channels = channels
        self.sentAt = sentAt
    }

    public func validate() throws(ContractError) {
        try Rule.orderId(orderId)
        try Rule.prefixedULID(notificationId, "ntf_", "notificationId")
        try Rule.customerId(customerId)
        try Rule.notEmpty(channels, "channels", max: 10)
        for (index, channel) in channels.enumerated() { try Rule.text(channel, "channels[\(index)]", max: 64) }
        try Rule.timestamp(sentAt, "sentAt")
    }
}
