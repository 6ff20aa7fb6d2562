internal import CNATS

/// A plain NATS subscription that only counts what reaches it: for diagnostics and tests (what an
/// identity can or cannot see). Services read through durable consumers (`PullConsumer`).
public final class CoreSubscription: Sendable {
    // Set once at creation and freed in deinit; nats.c subscriptions are thread-safe.
    nonisolated(unsafe) private let sub: OpaquePointer

    fileprivate init(_ sub: OpaquePointer) { self.sub = sub }

    /// Messages received so far and not taken (nothing takes them: all received).
    public var received: Int {
        var messages: Int32 = 0
        var bytes: Int32 = 0
        guard natsSubscription_GetPending(sub, &messages, &bytes) == NATS_OK else { return 0 }
        return Int(messages)
    }

    deinit {
        natsSubscription_Unsubscribe(sub)
        natsSubscription_Destroy(sub)
    }
}

extension NATSConnection {
    /// Subscribes to `subject` (wildcards allowed). A subscription the server refuses (permissions)
    /// is not an error here: it simply never receives anything.
    public func subscribeCore(subject: String) throws(NATSError) -> CoreSubscription {
        var sub: OpaquePointer?
        try check(natsConnection_SubscribeSync(&sub, nc, subject), "subscribing to \(subject)")
        guard let sub else { throw NATSError(code: .status, message: "natsConnection_SubscribeSync returned nothing") }
        _ = natsSubscription_SetPendingLimits(sub, -1, -1)
        return CoreSubscription(sub)
    }
}
