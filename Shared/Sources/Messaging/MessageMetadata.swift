/// What JetStream says about a delivered message, read from its acknowledgement subject.
public struct MessageMetadata: Sendable, Hashable {
    public var stream: String
    public var consumer: String
    /// How many times this message has been delivered, this delivery included (1 the first time).
    public var deliveryCount: Int
    public var streamSequence: UInt64
    public var consumerSequence: UInt64
    /// When the stream stored the message, in nanoseconds since 1970.
    public var timestampNanoseconds: Int64
    /// Messages left for the consumer after this one.
    public var pending: UInt64

    /// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or the newer
    /// form with domain and account hash after `$JS.ACK`; nil for anything else.
    public init?(ackSubject: String) {
        let tokens = ackSubject.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else { return nil }
        // 9 tokens: the original form; 11 or more: $JS.ACK.<domain>.<account hash>.<stream>…
        let base: Int
        switch tokens.count {
        case 9: base = 2
        case 11...: base = 4
        default: return nil
        }
        guard let delivered = Int(tokens[base + 2]), let streamSequence = UInt64(tokens[base + 3]),
            let consumerSequence = UInt64(tokens[base + 4]), let timestamp = Int64(tokens[base + 5]),
            let pending = UInt64(tokens[base + 6])
        else { return nil }
        self.stream = String(tokens[base])
        self.consumer = String(tokens[base + 1])
        self.deliveryCount = delivered
        self.streamSequence = streamSequence
        self.consumerSequence = consumerSequence
        self.timestampNanoseconds = timestamp
        self.pending = pending
    }
}
