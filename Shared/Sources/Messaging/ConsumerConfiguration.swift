/// The configuration of a durable pull consumer with explicit acknowledgement.
public struct ConsumerConfiguration: Sendable, Hashable {
    public enum DeliverPolicy: String, Sendable, Hashable { case all, new }

    /// The durable name, shared by every instance of a service (for example `inventory-orders`).
    public var durable: String
    /// Only messages on this subject (wildcards allowed); nil for the whole stream. Server 2.9
    /// allows one filter per consumer, and it cannot be changed once the consumer exists: 2.9.10
    /// accepts such an update but then delivers nothing more (docs/pipeline.md), which is why
    /// `ensureConsumer` refuses it.
    public var filterSubject: String?
    public var deliverPolicy: DeliverPolicy
    /// How long the server waits for an acknowledgement before it delivers the message again.
    /// Ignored when `backoff` is set: the first back-off step is then the wait.
    public var ackWait: Duration
    /// Deliveries of one message at most; nil for no limit. Must exceed the number of back-off steps.
    public var maxDeliver: Int?
    /// Successive redelivery delays after unacknowledged deliveries (the last one repeats).
    public var backoff: [Duration]
    /// Messages delivered but not yet acknowledged, across all instances, at most.
    public var maxAckPending: Int
    public var description: String?
    /// The server deletes the consumer after this long without a pull request (server 2.9 applies it
    /// to durables too): for a tool's own consumers, which must not outlive a killed tool. Nil: kept.
    public var inactiveThreshold: Duration?
    /// A durable on the same stream that this one takes the place of (one whose filter must change,
    /// which a consumer's cannot): when this one is created, it starts after that one's
    /// acknowledgement floor instead of at `deliverPolicy`, and `ensureConsumer` deletes that one.
    /// What it had delivered beyond its floor comes again; the reader's inbox recognises it.
    public var replaces: String?

    public init(
        durable: String, filterSubject: String? = nil, deliverPolicy: DeliverPolicy = .all,
        ackWait: Duration = .seconds(30), maxDeliver: Int? = nil, backoff: [Duration] = [],
        maxAckPending: Int = 10_000, description: String? = nil, inactiveThreshold: Duration? = nil,
        replaces: String? = nil
    ) {
        self.inactiveThreshold = inactiveThreshold
        self.replaces = replaces
        self.durable = durable
        self.filterSubject = filterSubject
        self.deliverPolicy = deliverPolicy
        self.ackWait = ackWait
        self.maxDeliver = maxDeliver
        self.backoff = backoff
        self.maxAckPending = maxAckPending
        self.description = description
    }

    /// The acknowledgement wait the server applies: the first back-off step when there is one.
    var effectiveAckWait: Duration { backoff.first ?? ackWait }
}

/// What `ensureConsumer` did.
public enum ConsumerEnsureOutcome: Sendable, Hashable {
    case created
    case unchanged
    case updated(fields: [String])
}

/// A consumer's counters.
public struct ConsumerState: Sendable, Hashable {
    /// Messages in the stream not yet delivered to this consumer.
    public var pending: UInt64
    /// Delivered, not yet acknowledged.
    public var ackPending: Int64
    /// Messages delivered more than once.
    public var redelivered: Int64
    /// Pull requests waiting on the server.
    public var waiting: Int64
    /// The highest stream sequence acknowledged with everything below it.
    public var ackFloorStreamSequence: UInt64
}

/// One consumer of a stream, as `troupe streams` shows it.
public struct ConsumerListing: Sendable, Hashable {
    public var name: String
    /// Its `FilterSubject`, or nil for the whole stream.
    public var filterSubject: String?
    public var state: ConsumerState
}
