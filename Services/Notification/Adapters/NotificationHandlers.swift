import Contracts
import Foundation
import GRDB
import ServiceKit

/// Sends one notification per order and template, and records it with its outcome event.
struct NotificationHandlers: Sendable {
    let runtime: ServiceRuntime
    let channels: Channels

    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        guard let request = NotificationDecisions.request(for: event) else { return .done }
        let already = try await runtime.store.writer.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM notification WHERE orderId = ? AND template = ?",
                arguments: [request.orderId, request.template.rawValue]) ?? false
        }
        if already { return .done }
        let notificationId = ULID.make("ntf_")
        let sentAt = Timestamp.string(Date())
        // External delivery happens before the commit: a crash in between sends it again (at least once).
        let failures = await channels.deliver([
            "notificationId": notificationId, "orderId": request.orderId, "customerId": request.customerId,
            "template": request.template.rawValue, "sentAt": sentAt, "eventId": event.id,
        ])
        let outcome: AnyEvent =
            switch event {
            case .orderConfirmed(let e):
                NotificationDecisions.outcome(
                    request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                    sentAt: sentAt)
            case .orderCancelled(let e):
                NotificationDecisions.outcome(
                    request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                    sentAt: sentAt)
            case .orderShipped(let e):
                NotificationDecisions.outcome(
                    request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                    sentAt: sentAt)
            default: preconditionFailure("no notification for \(event.type)")
            }
        let channelNames = channels.names
        return try await runtime.applyOnce(event, consumer: consumer) { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO notification (notificationId, orderId, customerId, template, channels, status, sentAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    notificationId, request.orderId, request.customerId, request.template.rawValue,
                    channelNames.joined(separator: ","), failures.isEmpty ? "SENT" : "FAILED", sentAt,
                ])
            if db.changesCount == 1 { try Outbox.append([outcome], in: db) }
            return .done
        }
    }
}
