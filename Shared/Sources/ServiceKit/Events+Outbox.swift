public import Contracts
public import Foundation
import GRDB
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

    /// The message that publishes this row: `Nats-Msg-Id` = the event id, and for an event that
    /// occurs once per subject the expectation that the subject holds nothing yet.
    var message: OutgoingMessage {
        OutgoingMessage(
            subject: subject, payload: Array(payload), headers: headerValues, messageId: eventId,
            expectedLastSubjectSequence: oncePerSubject ? 0 : nil)
    }
}

extension Outbox {
    /// Adds the events a decision produced to the outbox, inside the caller's transaction.
    public static func append(_ events: [AnyEvent], in db: StoreSession) throws {
        for event in events { try append(OutboxEntry(event), in: db) }
    }
}

extension AnyEvent: EventLogMetadata {
    /// `orderId`, `eventId`, `causationId` and `traceId` (the trace id of its `traceparent`).
    public var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = [LogKey.orderId: .string(orderId), LogKey.eventId: .string(id)]
        if let causationid { metadata[LogKey.causationId] = .string(causationid) }
        if let traceId = traceparent.flatMap(TraceParent.traceId(of:)) { metadata[LogKey.traceId] = .string(traceId) }
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
                return .success(try decode(bytes: bytes))
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
