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
        var subject = ackSubject
        guard let parsed = subject.withUTF8({ MessageMetadata(ackSubject: UnsafeRawBufferPointer($0)) }) else {
            return nil
        }
        self = parsed
    }

    /// The same, over the subject's bytes: runs for every delivered message, so it makes no
    /// intermediate strings or arrays.
    init?(ackSubject bytes: UnsafeRawBufferPointer) {
        // Token boundaries: at most 12 tokens are meaningful.
        var starts: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 1
        withUnsafeMutableBytes(of: &starts) { raw in
            let starts = raw.bindMemory(to: Int.self)
            for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: ".") {
                if count < 12 { starts[count] = index + 1 }
                count += 1
            }
        }
        guard count >= 9, bytes.starts(with: "$JS.ACK.".utf8) else { return nil }
        // 9 tokens: the original form; 11 or more: $JS.ACK.<domain>.<account hash>.<stream>…
        let base: Int
        switch count {
        case 9: base = 2
        case 11...12: base = 4
        default: return nil
        }
        let tokenCount = count
        func token(_ index: Int) -> UnsafeRawBufferPointer {
            withUnsafeBytes(of: starts) { raw in
                let starts = raw.bindMemory(to: Int.self)
                let start = starts[index]
                let end = index + 1 < min(tokenCount, 12) ? starts[index + 1] - 1 : bytes.count
                return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            }
        }
        func number(_ index: Int) -> UInt64? {
            let digits = token(index)
            guard !digits.isEmpty, digits.count <= 19 else { return nil }
            var value: UInt64 = 0
            for digit in digits {
                guard (48...57).contains(digit) else { return nil }
                value = value * 10 + UInt64(digit - 48)
            }
            return value
        }
        // Anything a server would never send — a count or time beyond Int64 — is refused, never
        // trapped on: this runs on nats.c's delivery thread for every message, whoever sent it.
        guard let delivered = number(base + 2), let streamSequence = number(base + 3),
            let consumerSequence = number(base + 4), let timestamp = number(base + 5), let pending = number(base + 6),
            let deliveryCount = Int(exactly: delivered), deliveryCount >= 1,
            let timestampNanoseconds = Int64(exactly: timestamp)
        else { return nil }
        self.stream = String(decoding: token(base), as: UTF8.self)
        self.consumer = String(decoding: token(base + 1), as: UTF8.self)
        self.deliveryCount = deliveryCount
        self.streamSequence = streamSequence
        self.consumerSequence = consumerSequence
        self.timestampNanoseconds = timestampNanoseconds
        self.pending = pending
    }
}
