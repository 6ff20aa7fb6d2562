import Contracts

/// Which notification an order event calls for: one per order and template.
enum NotificationDecisions {
    struct Request: Sendable, Hashable {
        var orderId: String
        var customerId: String
        var template: NotificationTemplate
    }

    static func request(for event: AnyEvent) -> Request? {
        switch event {
        case .orderConfirmed(let e):
            Request(orderId: e.data.orderId, customerId: e.data.customerId, template: .orderConfirmed)
        case .orderCancelled(let e):
            Request(orderId: e.data.orderId, customerId: e.data.customerId, template: .orderCancelled)
        case .orderShipped(let e):
            Request(orderId: e.data.orderId, customerId: e.data.customerId, template: .orderShipped)
        default: nil
        }
    }

    /// The outcome event: sent when every channel delivered, failed otherwise (naming those that failed).
    static func outcome<Cause>(
        _ request: Request, notificationId: String, channels: [String], failures: [String: String],
        cause: CloudEvent<Cause>, sentAt: String
    ) -> AnyEvent {
        if failures.isEmpty {
            return AnyEvent(
                CloudEvent(
                    data: NotificationSent(
                        orderId: request.orderId, notificationId: notificationId, customerId: request.customerId,
                        template: request.template, channels: channels, sentAt: sentAt),
                    causedBy: cause))
        }
        let failed = channels.filter { failures[$0] != nil }
        let error = failed.map { "\($0): \(failures[$0]!)" }.joined(separator: "; ")
        return AnyEvent(
            CloudEvent(
                data: NotificationFailed(
                    orderId: request.orderId, notificationId: notificationId, customerId: request.customerId,
                    template: request.template, channels: failed, error: String(error.prefix(1000))),
                causedBy: cause))
    }
}
