public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Troupe event as it travels: CloudEvents 1.0 in structured JSON mode, with the distributed
/// tracing extension (`traceparent`) and Troupe's `correlationid` and `causationid`.
public struct CloudEvent<Payload: EventPayload>: Codable, Sendable, Hashable {
    public var specversion: String
    /// Unique per event (a UUID, time-ordered v7); also the JetStream `Nats-Msg-Id`.
    public var id: String
    /// `/troupe/<service>`.
    public var source: String
    public var type: String
    /// The order id.
    public var subject: String
    /// RFC 3339 UTC with milliseconds.
    public var time: String
    public var datacontenttype: String
    public var dataschema: String
    /// The order id, on every event of its saga.
    public var correlationid: String
    /// The id of the event that caused this one; absent only on events an HTTP request starts.
    public var causationid: String?
    /// W3C trace context, continuing the trace of the request or event that caused this one.
    public var traceparent: String?
    public var data: Payload

    /// A new event for `data`, stamped with the producer's source, a fresh v7 id and the time.
    public init(
        data: Payload, id: String = EventID.make(), time: Date = Date(), causationid: String?,
        traceparent: String?
    ) {
        self.specversion = "1.0"
        self.id = id
        self.source = Payload.producer.source
        self.type = Payload.type
        self.subject = data.orderId
        self.time = Timestamp.string(time)
        self.datacontenttype = "application/json"
        self.dataschema = Payload.dataschema
        self.correlationid = data.orderId
        self.causationid = causationid
        self.traceparent = traceparent
        self.data = data
    }

    /// A new event caused by `cause`: `causationid` = its id; same trace, in a span of its own whose
    /// parent is the cause's (`TraceParent.child(of:)`).
    public init<Cause>(
        data: Payload, causedBy cause: CloudEvent<Cause>, id: String = EventID.make(), time: Date = Date()
    ) {
        self.init(
            data: data, id: id, time: time, causationid: cause.id, traceparent: cause.traceparent.map(TraceParent.child)
        )
    }

    /// The NATS subject: `<domain>.<event>.<orderId>`.
    public var natsSubject: String { data.subject }

    /// The structured-mode JSON document (keys sorted, so that equal events have equal bytes).
    public func encoded() throws -> Data {
        Data(try encodedBytes())
    }

    /// The same document as bytes. Written by `EventJSON` (the same bytes as `JSONEncoder`, in a
    /// fraction of the time); Foundation's encoder only if `EventJSON` refused a value.
    public func encodedBytes() throws -> [UInt8] {
        do {
            return try EventJSON.encode(self)
        } catch {
            return Array(try eventEncoder.encode(self))
        }
    }

    /// Checks the envelope against the payload and then the payload's own rules.
    public func validate() throws(ContractError) {
        func fail(_ field: String, _ message: String) -> ContractError {
            ContractError(.invalidData, message, field: field)
        }
        guard specversion == "1.0" else { throw ContractError(.unsupportedSpecVersion, "specversion must be 1.0") }
        guard !id.isEmpty, id.unicodeScalars.count <= 128 else { throw fail("id", "must be 1-128 characters") }
        guard source == Payload.producer.source else { throw fail("source", "must be \(Payload.producer.source)") }
        guard Timestamp.isValid(time) else {
            throw fail("time", "must be an RFC 3339 UTC time with milliseconds")
        }
        // The data first: a broken order id is reported where it is, not as a mismatch.
        try data.validate()
        guard subject == data.orderId else { throw fail("subject", "must be the order id \(data.orderId)") }
        guard correlationid == data.orderId else { throw fail("correlationid", "must be the order id \(data.orderId)") }
        if let causationid, causationid.isEmpty { throw fail("causationid", "must not be empty") }
        if let traceparent, !TraceParent.hasValidShape(traceparent) {
            throw fail("traceparent", "must be a W3C traceparent in lower-case hex (vv-32 hex-16 hex-ff)")
        }
    }
}

/// W3C trace context (`traceparent`): `version-traceid-parentid-flags`, lower-case hex.
public enum TraceParent {
    /// The shape the envelope's JSON Schema states: `^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`.
    public static func hasValidShape(_ value: String) -> Bool {
        guard value.utf8.count == 55 else { return false }
        // Dashes at 2, 35 and 52; lower-case hex everywhere else.
        for (index, byte) in value.utf8.enumerated() {
            if index == 2 || index == 35 || index == 52 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !isLowerHex(byte) {
                return false
            }
        }
        return true
    }

    /// A traceparent a request may carry in: the shape, and W3C's rules beyond it (version `ff`
    /// is invalid; a trace id or parent id of all zeros is invalid).
    public static func isValid(_ value: String) -> Bool {
        guard hasValidShape(value) else { return false }
        let parts = value.split(separator: "-")
        return parts[0] != "ff" && parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
    }

    /// The trace context of work done on behalf of `parent`: the same version, trace id and flags,
    /// and a new span id (W3C: the parent id names the span that sent the message). A value without
    /// the shape is given back as it is (the envelope's validation refuses it elsewhere).
    public static func child(of parent: String) -> String {
        guard hasValidShape(parent) else { return parent }
        var text = Array(parent.utf8)
        let span = randomHex(bytes: 8)
        text.replaceSubrange(36..<52, with: span)
        return String(decoding: text, as: UTF8.self)
    }

    /// A new trace: version 00, random trace and span ids, sampled.
    public static func new() -> String {
        "00-" + String(decoding: randomHex(bytes: 16), as: UTF8.self) + "-"
            + String(decoding: randomHex(bytes: 8), as: UTF8.self) + "-01"
    }

    /// The trace id (32 hex digits) of a traceparent of the right shape.
    public static func traceId(of value: String) -> String? {
        hasValidShape(value) ? String(value.dropFirst(3).prefix(32)) : nil
    }

    /// `bytes` random bytes in lower-case hex, never all zeros (W3C: an all-zero id is invalid).
    private static func randomHex(bytes: Int) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        while true {
            let random = RandomBytes.make(bytes)
            guard random.contains(where: { $0 != 0 }) else { continue }
            var text = [UInt8]()
            text.reserveCapacity(2 * bytes)
            for byte in random {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0F)])
            }
            return text
        }
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

/// Random bytes from the system's secure generator (`/dev/urandom`), drawn 4 KiB at a time: ids take
/// 10–16 bytes each, several per event, and one system call for every eight bytes was about 1% of
/// the order service's time (and the kernel's generator as much again).
public enum RandomBytes {
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var next = 4096
    }

    private static let pool = Mutex(Pool())

    public static func make(_ count: Int) -> [UInt8] {
        precondition(count <= 4096, "at most 4096 random bytes at a time")
        return pool.withLock { pool in
            if pool.next + count > pool.bytes.count {
                refill(&pool.bytes)
                pool.next = 0
            }
            defer { pool.next += count }
            return Array(pool.bytes[pool.next..<pool.next + count])
        }
    }

    private static func refill(_ bytes: inout [UInt8]) {
        var filled = 0
        #if canImport(Glibc)
            let device = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if device >= 0 {
                defer { close(device) }
                while filled < bytes.count {
                    let got = bytes.withUnsafeMutableBytes { buffer in
                        read(device, buffer.baseAddress! + filled, buffer.count - filled)
                    }
                    if got <= 0 { break }  // interrupted or refused: the generator below fills the rest
                    filled += got
                }
            }
        #endif
        var generator = SystemRandomNumberGenerator()
        while filled < bytes.count {
            var word = generator.next()
            for _ in 0..<8 where filled < bytes.count {
                bytes[filled] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                filled += 1
            }
        }
    }
}

/// Event ids: UUID version 7 (time-ordered), lower case.
public enum EventID {
    public static func make(now: Date = Date()) -> String {
        var bytes = RandomBytes.make(16)
        let milliseconds = UInt64(now.timeIntervalSince1970 * 1000)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        // 8-4-4-4-12 lowercase hex, written directly (no `String(format:)` per byte).
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// One encoder for every event (thread-safe; making one per event costs as much as a small encode).
private let eventEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()
