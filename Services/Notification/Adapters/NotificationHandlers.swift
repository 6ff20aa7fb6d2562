import Contracts
import Foundation
import GRDB
import ServiceKit

/// Sends one notification per order and template, and records it with its outcome event.
struct NotificationHandlers: Sendable {
    let runtime: ServiceRuntime
    let channels: Channels

    /// A notification sent (or failed) before its batch commits.
    struct Sent: Sendable {
        var request: NotificationDecisions.Request
        var notificationId: String
        var sentAt: String
        var failures: [String: String]
        var outcome: AnyEvent
    }

    /// Handles a pulled batch: sends what has not been sent yet (all channels of a batch's
    /// notifications at once), then records every notification and its outcome event in one
    /// transaction. External delivery happens before the commit: a crash in between sends again
    /// (at least once).
    func handle(_ events: [AnyEvent], consumer: String) async -> [Result<HandlerOutcome, any Error>] {
        let requests = events.map { NotificationDecisions.request(for: $0) }
        let keys = requests.compactMap { $0.map { [$0.orderId, $0.template.rawValue] } }
        if keys.isEmpty { return events.map { _ in .success(.done) } }
        let already: Set<[String]>
        do {
            already = try await runtime.store.writer.read { db in
                var found = Set<[String]>()
                let statement = try db.cachedStatement(
                    sql: "SELECT 1 FROM notification WHERE orderId = ? AND template = ?")
                for key in keys where try Bool.fetchOne(statement, arguments: StatementArguments(key)) ?? false {
                    found.insert(key)
                }
                return found
            }
        } catch {
            return events.map { _ in .failure(error) }
        }
        var sent: [String: Sent] = [:]
        await withTaskGroup(of: (String, Sent)?.self) { group in
            var seen = already
            for (event, request) in zip(events, requests) {
                guard let request, seen.insert([request.orderId, request.template.rawValue]).inserted else { continue }
                group.addTask { await send(request, for: event).map { (event.id, $0) } }
            }
            for await result in group {
                if let (id, notification) = result { sent[id] = notification }
            }
        }
        let channelNames = channels.names.joined(separator: ",")
        let reactsTo: @Sendable (AnyEvent) -> Bool = { NotificationDecisions.request(for: $0) != nil }
        return await runtime.applyBatch(events, consumer: consumer, reactsTo: reactsTo) { [sent] event, db in
            guard let notification = sent[event.id] else { return .done }
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO notification (notificationId, orderId, customerId, template, channels, status, sentAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    notification.notificationId, notification.request.orderId, notification.request.customerId,
                    notification.request.template.rawValue, channelNames,
                    notification.failures.isEmpty ? "SENT" : "FAILED", notification.sentAt,
                ])
            if db.changesCount == 1 { try Outbox.append([notification.outcome], in: db) }
            return .done
        }
    }

    /// Applies one event at most once for `consumer` (tests; the consumer handles whole batches).
    func handle(_ event: AnyEvent, consumer: String) async throws -> HandlerOutcome {
        try await handle([event], consumer: consumer)[0].get()
    }

    private func send(_ request: NotificationDecisions.Request, for event: AnyEvent) async -> Sent? {
        let notificationId = ULID.make("ntf_")
        let sentAt = Timestamp.string(Date())
        let failures = await channels.deliver([
            "notificationId": notificationId, "orderId": request.orderId, "customerId": request.customerId,
            "template": request.template.rawValue, "sentAt": sentAt, "eventId": event.id,
        ])
        let outcome: AnyEvent
        switch event {
        case .orderConfirmed(let e):
            outcome = NotificationDecisions.outcome(
                request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                sentAt: sentAt)
        case .orderCancelled(let e):
            outcome = NotificationDecisions.outcome(
                request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                sentAt: sentAt)
        case .orderShipped(let e):
            outcome = NotificationDecisions.outcome(
                request, notificationId: notificationId, channels: channels.names, failures: failures, cause: e,
                sentAt: sentAt)
        default:
            return nil
        }
        return Sent(
            request: request, notificationId: notificationId, sentAt: sentAt, failures: failures, outcome: outcome)
    }
}
