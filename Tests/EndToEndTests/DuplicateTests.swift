import Contracts
import Foundation
import Messaging
import TestSupport
import Testing

/// Issue 4.2: the same CloudEvents id delivered again — under a new `Nats-Msg-Id`, which is also
/// what the broker sees long after its de-duplication window — has no second effect and causes no
/// second outgoing event, in any service.
@Suite("Duplicates end to end", .serialized, .timeLimit(.minutes(3)))
struct DuplicateTests {
    @Test func everyEventOfAShippedOrderDeliveredAgainChangesNothing() async throws {
        try await withCluster(
            dispatchDelay: "300ms",
            // The copies this test publishes are duplicates in the streams by design; that the
            // services added nothing is checked below, stream by stream.
            excusing: { $0.contains("appears twice") }
        ) { cluster in
            let (_, placed) = try await cluster.placeOrder(lines: [("SKU-MUG", 3)])
            let id = try #require(placed["orderId"] as? String)
            try await cluster.waitForStatus(id, in: ["SHIPPED"])
            let violations = try await cluster.violations(orders: [id])
            #expect(violations.isEmpty, "\(violations)")
            let before = try await Snapshot(cluster, orderId: id)

            // Every event of the order, from every stream, published again under a new Nats-Msg-Id.
            let connection = try await cluster.nats.connect(name: "e2e-duplicates")
            var copies: [OutgoingMessage] = []
            for stream in StreamDefinition.all where stream.name != DeadLetter.stream {
                for message in try await connection.storedMessages(stream: stream.name, filter: "*.*.\(id)") {
                    var headers = message.headers
                    headers.removeValue(forKey: NATSHeader.messageId)
                    // The relay's once-per-subject guard would (rightly) refuse the copy at the broker.
                    headers.removeValue(forKey: NATSHeader.expectedLastSubjectSequence)
                    copies.append(
                        OutgoingMessage(
                            subject: message.subject, payload: message.payload, headers: headers,
                            messageId: "again-\(message.headers[NATSHeader.messageId] ?? "\(message.sequence)")"))
                }
            }
            await connection.close()
            // placed, reserved, authorized, scheduled, confirmed, dispatched, shipped, committed,
            // captured and two notifications.
            #expect(copies.count == 11, "the whole saga: \(copies.map(\.subject))")
            try await cluster.publish(copies)
            try await cluster.waitForQuiescence()
            let after = try await Snapshot(cluster, orderId: id)

            // The streams hold exactly the copies: no service published anything in answer.
            var expected = before.streamCounts
            for copy in copies {
                let domain = String(copy.subject.prefix { $0 != "." })
                let stream = StreamDefinition.all.first { $0.subjects.contains("\(domain).>") }!.name
                expected[stream, default: 0] += 1
            }
            #expect(after.streamCounts == expected)
            // And no state moved: the order, the stock, the account, the notifications, the shipment.
            #expect(after.state == before.state)
            #expect(after.deadLetters == before.deadLetters)
            // The order's own guarantees were checked before the copies; stock and money again now.
            return []
        }
    }
}

/// What a duplicate must not change.
private struct Snapshot {
    var streamCounts: [String: UInt64] = [:]
    var state: [String] = []
    var deadLetters: UInt64 = 0

    init(_ cluster: Cluster, orderId: String) async throws {
        let connection = try await cluster.nats.connect(name: "e2e-snapshot")
        for stream in StreamDefinition.all {
            let count = (try? await connection.streamState(stream.name).messages) ?? 0
            if stream.name == DeadLetter.stream { deadLetters = count } else { streamCounts[stream.name] = count }
        }
        await connection.close()
        for (service, path) in [
            ("order", "/orders/\(orderId)"), ("inventory", "/stock/SKU-MUG"), ("payment", "/accounts/cus_rich"),
            ("payment", "/payments/\(orderId)"), ("shipping", "/shipments/\(orderId)"),
            ("notification", "/notifications?orderId=\(orderId)"), ("order", "/orders/\(orderId)/events"),
        ] {
            let (status, body) = try await HTTP.request("GET", cluster.url(service, path))
            let json = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            state.append("\(service) \(path) \(status) \(String(decoding: json, as: UTF8.self))")
        }
    }
}
