public import Logging
public import Messaging

/// Moves messages that can never be processed to the `DEADLETTER` stream (events.md, "Streams").
///
/// The copy keeps the original payload and headers, except `Nats-Msg-Id`, which becomes
/// `deadletter.<service>.<stream>.<sequence>` (so the same message dead-lettered by two services is
/// kept twice, and the same service dead-lettering it twice keeps it once), plus the
/// `Troupe-*` headers that say where it came from and why. Only once the copy is stored is the
/// original terminated on its consumer; if storing fails the message is left unsettled and comes
/// back later, so nothing is lost.
public struct DeadLetters: Sendable {
    public static let reasonHeader = "Troupe-Dead-Letter-Reason"
    public static let originalMessageIdHeader = "Troupe-Original-Msg-Id"
    public static let originalStreamHeader = "Troupe-Original-Stream"
    public static let originalSequenceHeader = "Troupe-Original-Sequence"
    public static let deliveriesHeader = "Troupe-Deliveries"

    let connection: NATSConnection
    let service: String
    let logger: Logger

    public init(connection: NATSConnection, service: String, logger: Logger) {
        self.connection = connection
        self.service = service
        self.logger = logger
    }

    /// The dead-letter copy of `message`.
    public func copy(of message: JetStreamMessage, reason: String) -> OutgoingMessage {
        var headers = message.headers
        let originalId = headers.removeValue(forKey: NATSHeader.messageId)
        if let originalId { headers[Self.originalMessageIdHeader] = originalId }
        // Header values are one line.
        headers[Self.reasonHeader] = String(reason.map { $0.isNewline ? " " : $0 }.prefix(1000))
        headers[Self.originalStreamHeader] = message.metadata.stream
        headers[Self.originalSequenceHeader] = String(message.metadata.streamSequence)
        headers[Self.deliveriesHeader] = String(message.metadata.deliveryCount)
        return OutgoingMessage(
            subject: "deadletter.\(service).\(message.subject)", payload: message.payload, headers: headers,
            messageId: "deadletter.\(service).\(message.metadata.stream).\(message.metadata.streamSequence)")
    }

    /// Stores the copy, then terminates the original. Returns the disposition for the consumer:
    /// `.term` once stored, else a delayed `.nak` so that the message is tried again.
    public func deadLetter(_ message: JetStreamMessage, reason: String) async -> MessageDisposition {
        do {
            try await connection.publish(copy(of: message, reason: reason))
            logger.warning(
                "dead-lettered a message",
                metadata: [
                    "nats.subject": "\(message.subject)", "nats.stream": "\(message.metadata.stream)",
                    "nats.sequence": "\(message.metadata.streamSequence)", "reason": "\(reason)",
                ])
            return .term
        } catch {
            logger.error(
                "could not dead-letter a message; it will come back",
                metadata: ["nats.subject": "\(message.subject)", "error": "\(error)"])
            return .nak(delay: .seconds(2))
        }
    }
}
