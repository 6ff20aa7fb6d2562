import Contracts
public import Logging
public import Messaging

/// Moves messages that can never be processed to the `DEADLETTER` stream (docs/events.md, "Dead letters").
///
/// The copy keeps the original payload and headers, except the publish-time expectations
/// (`Nats-Expected-*`), which it drops, and `Nats-Msg-Id`, which becomes
/// `deadletter.<service>.<stream>.<sequence>` (so the same message dead-lettered by two services is
/// kept twice, and the same service dead-lettering it twice keeps it once), plus the
/// `Troupe-*` headers that say where it came from and why. Only once the copy is stored is the
/// original terminated on its consumer; if storing fails the message is left unsettled and comes
/// back later, so nothing is lost.
public struct DeadLetters: Sendable {
    let connection: NATSConnection
    let service: String
    let logger: Logger

    public init(connection: NATSConnection, service: String, logger: Logger) {
        self.connection = connection
        self.service = service
        self.logger = logger
    }

    /// The dead-letter copy of `message`. A replayed dead letter that fails again keeps the
    /// subject and the `Troupe-Original-*` headers of the event it carries (so it can be replayed
    /// again), under a new `Nats-Msg-Id` named after its replay's sequence.
    public func copy(of message: JetStreamMessage, reason: String) -> OutgoingMessage {
        var headers = NATSHeader.withoutExpectations(message.headers)
        let originalId = headers.removeValue(forKey: NATSHeader.messageId)
        var subject = message.subject
        let replayPrefix = DeadLetter.replayPrefix(service: service)
        if message.metadata.stream == DeadLetter.stream, subject.hasPrefix(replayPrefix),
            headers[DeadLetter.originalStreamHeader] != nil
        {
            subject.removeFirst(replayPrefix.count)
        } else {
            if let originalId { headers[DeadLetter.originalMessageIdHeader] = originalId }
            headers[DeadLetter.originalStreamHeader] = message.metadata.stream
            headers[DeadLetter.originalSequenceHeader] = String(message.metadata.streamSequence)
            headers.removeValue(forKey: DeadLetter.replayOfHeader)
        }
        // Header values are one line.
        headers[DeadLetter.reasonHeader] = String(reason.map { $0.isNewline ? " " : $0 }.prefix(1000))
        headers[DeadLetter.deliveriesHeader] = String(message.metadata.deliveryCount)
        return OutgoingMessage(
            subject: DeadLetter.subject(service: service, originalSubject: subject), payload: message.payload,
            headers: headers,
            messageId: DeadLetter.messageId(
                service: service, stream: message.metadata.stream, sequence: message.metadata.streamSequence))
    }

    /// Stores the copy, then terminates the original. Returns the disposition for the consumer:
    /// `.term` once stored, else a delayed `.nak` so that the message is tried again.
    /// `metadata`: what the log lines carry about the event, when it could be decoded.
    public func deadLetter(_ message: JetStreamMessage, reason: String, metadata: Logger.Metadata = [:]) async
        -> MessageDisposition
    {
        do {
            try await connection.publish(copy(of: message, reason: reason))
            logger.warning(
                "dead-lettered a message",
                metadata: metadata.merging([
                    LogKey.natsSubject: "\(message.subject)", LogKey.natsStream: "\(message.metadata.stream)",
                    "nats.sequence": "\(message.metadata.streamSequence)", "reason": "\(reason)",
                ]) { _, new in new })
            return .term
        } catch {
            logger.error(
                "could not dead-letter a message; it will come back",
                metadata: metadata.merging([LogKey.natsSubject: "\(message.subject)", LogKey.error: "\(error)"]) {
                    _, new in new
                })
            return .nak(delay: .seconds(2))
        }
    }
}
