/// A message to publish to a JetStream stream.
public struct OutgoingMessage: Sendable, Hashable {
    /// The NATS subject, for example `inventory.reserved.ord_…`.
    public var subject: String
    /// The body, published as is.
    public var payload: [UInt8]
    /// NATS headers. `Nats-Msg-Id` is set from `messageId`, so it need not be given here.
    public var headers: [String: String]
    /// The JetStream de-duplication id (`Nats-Msg-Id`); Troupe uses the CloudEvents id.
    public var messageId: String?
    /// When set, the stream stores the message only if the last message on this subject has this
    /// sequence (0: there is none yet) — a guard that outlives the de-duplication window.
    public var expectedLastSubjectSequence: UInt64?

    public init(
        subject: String, payload: [UInt8], headers: [String: String] = [:], messageId: String? = nil,
        expectedLastSubjectSequence: UInt64? = nil
    ) {
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.messageId = messageId
        self.expectedLastSubjectSequence = expectedLastSubjectSequence
    }
}

/// The broker's acknowledgement of a stored message.
public struct PublishAck: Sendable, Hashable {
    /// The stream that stored it.
    public var stream: String
    /// Its sequence in that stream (for a duplicate, the sequence of the original).
    public var sequence: UInt64
    /// True when the stream already held a message with the same `Nats-Msg-Id` in its window,
    /// so nothing new was stored.
    public var duplicate: Bool

    public init(stream: String, sequence: UInt64, duplicate: Bool) {
        self.stream = stream
        self.sequence = sequence
        self.duplicate = duplicate
    }
}

/// Header names the layer itself reads or writes.
public enum NATSHeader {
    public static let messageId = "Nats-Msg-Id"
    public static let expectedLastSubjectSequence = "Nats-Expected-Last-Subject-Sequence"

    /// `headers` without the publish-time expectations (`Nats-Expected-*`) they carried: a copy of a
    /// stored message (a dead letter, a replay) is a new message, and the original's expectation
    /// (`Nats-Expected-Last-Subject-Sequence: 0`, say) would refuse its second copy on the new subject.
    public static func withoutExpectations(_ headers: [String: String]) -> [String: String] {
        headers.filter { !$0.key.lowercased().hasPrefix("nats-expected-") }
    }
}
