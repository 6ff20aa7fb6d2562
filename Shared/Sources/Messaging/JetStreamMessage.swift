internal import CNATS
import Foundation
import Synchronization

/// A message delivered by a durable pull consumer, to be settled exactly once with `ack`, `nak` or `term`.
///
/// Settling is a publish on the connection and never blocks; after a crash or a lost connection
/// the server redelivers anything unsettled once the consumer's ack wait has passed.
public final class JetStreamMessage: Sendable {
    // Safe to share: the natsMsg is owned by this object, freed in deinit, and only read here;
    // header parsing (which mutates the message) happens under `headerCache`'s lock.
    nonisolated(unsafe) private let msg: OpaquePointer
    private let connection: NATSConnection
    /// Stream, consumer, sequences and delivery count.
    public let metadata: MessageMetadata
    private let headerCache = Mutex<[String: String]?>(nil)
    private let settled = Atomic<Bool>(false)

    /// Takes ownership of `msg`; nil (and `msg` is freed) when it is not a JetStream delivery.
    init?(taking msg: OpaquePointer, connection: NATSConnection) {
        // Parsed from nats.c's own copy of the reply subject: no string is made on this hot path.
        guard let reply = natsMsg_GetReply(msg),
            let metadata = MessageMetadata(ackSubject: UnsafeRawBufferPointer(start: reply, count: strlen(reply)))
        else {
            natsMsg_Destroy(msg)
            return nil
        }
        self.msg = msg
        self.connection = connection
        self.metadata = metadata
    }

    /// The subject it was published on.
    public var subject: String { String(cString: natsMsg_GetSubject(msg)) }

    deinit { natsMsg_Destroy(msg) }

    /// The body, as published.
    public var payload: [UInt8] {
        let length = Int(natsMsg_GetDataLength(msg))
        guard length > 0, let data = natsMsg_GetData(msg) else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Calls `body` with the body's bytes, without copying them.
    public func withPayload<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let length = Int(natsMsg_GetDataLength(msg))
        return try body(UnsafeRawBufferPointer(start: natsMsg_GetData(msg), count: length))
    }

    /// All NATS headers (the first value of each).
    public var headers: [String: String] {
        headerCache.withLock { cache in
            if let cache { return cache }
            let parsed = natsHeaders(of: msg)
            cache = parsed
            return parsed
        }
    }

    /// One header's value.
    public func header(_ name: String) -> String? { headers[name] }

    /// Acknowledges: the message is done and will not be delivered again.
    public func ack() throws(NATSError) { try settle(StaticString("+ACK")) }

    /// Negative acknowledgement: deliver it again, after `delay` when given (else at once).
    public func nak(delay: Duration? = nil) throws(NATSError) {
        if let delay { try settle("-NAK {\"delay\":\(delay.nanoseconds)}") } else { try settle(StaticString("-NAK")) }
    }

    /// Terminates: never deliver it again (it was dead-lettered, or can never be processed).
    public func term() throws(NATSError) { try settle(StaticString("+TERM")) }

    /// Tells the server that work is still going on, restarting its ack wait. May be repeated;
    /// nothing is sent once the message is settled.
    public func inProgress() throws(NATSError) {
        guard !isSettled else { return }
        try send(StaticString("+WPI"))
    }

    /// Whether `ack`, `nak` or `term` has been sent.
    public var isSettled: Bool { settled.load(ordering: .acquiring) }

    private func settle(_ body: StaticString) throws(NATSError) {
        guard !settled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try send(body)
    }

    private func settle(_ body: String) throws(NATSError) {
        guard !settled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try send(body)
    }

    private func send(_ body: StaticString) throws(NATSError) {
        let status = natsConnection_Publish(
            connection.nc, natsMsg_GetReply(msg), body.utf8Start, Int32(body.utf8CodeUnitCount))
        try check(status, "acknowledging \(subject) (\(body))")
    }

    private func send(_ body: String) throws(NATSError) {
        var body = body
        let status = body.withUTF8 { bytes in
            natsConnection_Publish(connection.nc, natsMsg_GetReply(msg), bytes.baseAddress, Int32(bytes.count))
        }
        try check(status, "acknowledging \(subject) (\(body.prefix(5)))")
    }
}
