public import Contracts
public import Foundation
public import GRDB
public import Logging
public import Messaging

extension OutboxEntry {
    /// The outbox row of an event: its JSON, its subject, its NATS headers.
    public init(_ event: AnyEvent) throws {
        try self.init(event, encoded: event.encoded())
    }

    /// The outbox row of an event already encoded as `document`.
    public init(_ event: AnyEvent, encoded document: Data) {
        var headers = [EventHeaders.contentType: EventHeaders.cloudEventsJSON]
        if let traceparent = event.traceparent { headers[EventHeaders.traceparent] = traceparent }
        self.init(
            eventId: event.id, subject: event.natsSubject, payload: document, headers: headers,
            oncePerSubject: event.oncePerOrder)
    }
}

extension Outbox {
    /// Adds the events a decision produced to the outbox, inside the caller's transaction.
    public static func append(_ events: [AnyEvent], in db: Database) throws {
        for event in events { try append(OutboxEntry(event), in: db) }
    }
}

extension AnyEvent: EventLogMetadata {
    /// `orderId`, `eventId`, `causationId` and `traceId` (the trace id of its `traceparent`).
    public var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["orderId": .string(orderId), "eventId": .string(id)]
        if let causationid { metadata["causationId"] = .string(causationid) }
        if let traceparent, TraceParent.hasValidShape(traceparent) {
            metadata["traceId"] = .string(String(traceparent.dropFirst(3).prefix(32)))
        }
        return metadata
    }
}

extension EventDecoder {
    /// Decodes a delivered message for an `EventConsumer`, turning a contract violation into the
    /// reason it is dead-lettered with.
    ///
    /// A valid event counts only on the subject it belongs on (`<domain>.<event>.<orderId>`, which
    /// also places it in its domain's stream): a `troupe.order.cancelled.v1` on `payments.*` is
    /// refused as `wrong_subject`. `subjectPrefix` is what comes before that subject on the message
    /// (the replay prefix for replayed dead letters).
    public func decodeMessage(_ message: JetStreamMessage, subjectPrefix: String = "")
        -> Result<AnyEvent, EventConsumer<AnyEvent>.DecodeFailure>
    {
        let decoded = message.withPayload { bytes -> Result<AnyEvent, EventConsumer<AnyEvent>.DecodeFailure> in
            do {
                return .success(try decode(Data(bytes)))
            } catch {
                return .failure(.init("\(error)"))
            }
        }
        guard case .success(let event) = decoded else { return decoded }
        if let failure = Self.subjectMismatch(event, subject: message.subject, prefix: subjectPrefix) {
            return .failure(.init("\(failure)", metadata: event.logMetadata))
        }
        return decoded
    }

    /// Why `event` does not belong on `subject` (after `prefix`), or nil when it does.
    static func subjectMismatch(_ event: AnyEvent, subject: String, prefix: String) -> ContractError? {
        let expected = event.natsSubject
        if subject.hasPrefix(prefix), subject.utf8.count == prefix.utf8.count + expected.utf8.count,
            subject.hasSuffix(expected)
        {
            return nil
        }
        return ContractError(
            .wrongSubject,
            "a \(event.type) event of order \(event.orderId) belongs on \(expected), not on \(subject.hasPrefix(prefix) ? String(subject.dropFirst(prefix.count)) : subject)"
        )
    }
}

/// Ids with a prefix and a ULID: `ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F`, sortable by creation time.
public enum ULID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    public static func make(_ prefix: String, now: Date = Date()) -> String {
        var value = UInt64(now.timeIntervalSince1970 * 1000)
        var time = [Character](repeating: "0", count: 10)
        for index in (0..<10).reversed() {
            time[index] = alphabet[Int(value & 31)]
            value >>= 5
        }
        var generator = SystemRandomNumberGenerator()
        let random = (0..<16).map { _ in alphabet[Int.random(in: 0..<32, using: &generator)] }
        return prefix + String(time) + String(random)
    }
}

extension AnyEvent: EventTyped {
    public var eventType: String { type }
}
