import Contracts
import Foundation
import GRDB
import ServiceKit

/// Sends one notification per order and template, and records it with its outcome event.
struct NotificationHandlers: Sendable {
    let service: ServiceContext
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
            already = try await service.read { db in
                var found = Set<[String]>()
                for key in keys
                where try db.row("SELECT 1 FROM notification WHERE orderId = ? AND template = ?", key) != nil {
                    found.insert(key)
                }
                return found
            }
        } catch {
            return events.map { _ in .failure(error) }
        }
        var sent: [String: Sent] = [:]
        var seen = already
        let toSend = zip(events, requests).map { event, request -> (AnyEvent, NotificationDecisions.Request)? in
            guard let request, seen.insert([request.orderId, request.template.rawValue]).inserted else { return nil }
            return (event, request)
        }
        // Different orders at once; one order's notifications one after the other, in the order
        // of their events (order_confirmed never after order_shipped).
        await withTaskGroup(of: [(String, Sent)].self) { group in
            for indices in Self.sendingPlan(toSend.map { $0?.1.orderId }) {
                let items = indices.compactMap { toSend[$0] }
                group.addTask {
                    var results: [(String, Sent)] = []
                    for (event, request) in items {
                        if let notification = await send(request, for: event) {
                            results.append((event.id, notification))
                        }
                    }
                    return results
                }
            }
            for await results in group {
                for (id, notification) in results { sent[id] = notification }
            }
        }
        let channelNames = channels.names.joined(separator: ",")
        let reactsTo: @Sendable (AnyEvent) -> Bool = { NotificationDecisions.request(for: $0) != nil }
        return await service.applyBatch(events, consumer: consumer, reactsTo: reactsTo) { [sent] event, db in
            guard let notification = sent[event.id] else { return .done }
            let inserted = try db.execute(
                """
                INSERT INTO notification (notificationId, orderId, customerId, template, channels, status, sentAt)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """,
                [
                    notification.notificationId, notification.request.orderId, notification.request.customerId,
                    notification.request.template.rawValue, channelNames,
                    notification.failures.isEmpty ? "SENT" : "FAILED", notification.sentAt,
                ])
            if inserted == 1 { try Outbox.append([notification.outcome], in: db) }
            return .done
        }
    }

    /// The positions of a batch's notifications to send, one group per order (groups in the order
    /// of their first notification, each in the order of its events); nil marks nothing to send.
    static func sendingPlan(_ orderIds: [String?]) -> [[Int]] {
        var groups: [[Int]] = []
        var groupOf: [String: Int] = [:]
        for (index, orderId) in orderIds.enumerated() {
            guard let orderId else { continue }
            if let group = groupOf[orderId] {
                groups[group].append(index)
            } else {
                groupOf[orderId] = groups.count
                groups.append([index])
            }
        }
        return groups
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
