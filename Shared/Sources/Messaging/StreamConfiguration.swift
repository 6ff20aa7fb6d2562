/// The configuration of a JetStream stream, as the layer creates and checks it.
public struct StreamConfiguration: Sendable, Hashable {
    public enum Storage: String, Sendable, Hashable { case file, memory }
    public enum Retention: String, Sendable, Hashable { case limits, interest, workQueue }

    public var name: String
    public var subjects: [String]
    public var storage: Storage
    public var retention: Retention
    /// How long messages are kept; `nil` keeps them until another limit applies.
    public var maxAge: Duration?
    /// The window in which a repeated `Nats-Msg-Id` is recognised as a duplicate.
    public var duplicateWindow: Duration
    public var replicas: Int
    /// Message and byte limits; `nil` for none.
    public var maxMessages: Int64?
    public var maxBytes: Int64?
    public var description: String?

    public init(
        name: String, subjects: [String], storage: Storage = .file, retention: Retention = .limits,
        maxAge: Duration? = .seconds(7 * 24 * 3600), duplicateWindow: Duration = .seconds(120), replicas: Int = 1,
        maxMessages: Int64? = nil, maxBytes: Int64? = nil, description: String? = nil
    ) {
        self.name = name
        self.subjects = subjects
        self.storage = storage
        self.retention = retention
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.replicas = replicas
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.description = description
    }
}

/// What `ensureStream` did.
public enum StreamEnsureOutcome: Sendable, Hashable {
    case created
    case unchanged
    /// The stream existed with another configuration: the `updated` fields were changed in place
    /// (widenings of the caller's own stream: subjects added, more replicas); the `kept` ones were
    /// left as they are on the server (an operator's choice, or not the caller's to change).
    case differs(updated: [String], kept: [String])
}

/// What a service may do to a stream it needs (least privilege: a service creates and changes
/// only its own domain's stream).
public enum StreamOwnership: Sendable, Hashable {
    /// Its own domain's stream: created when missing; of an existing one's differences only the
    /// widenings (subjects added, more replicas) are applied, never a cut (a shorter `maxAge`,
    /// fewer replicas, smaller limits): the server's configuration is the operator's.
    case own
    /// A stream every service writes (dead letters): created when missing, never changed.
    case shared
    /// Another producer's stream: only read. Missing, it is an error (`streamMissing`) to wait on.
    case others
}

/// A stream's counters, as `streamState` reports them.
public struct StreamState: Sendable, Hashable {
    public var messages: UInt64
    public var bytes: UInt64
    public var firstSequence: UInt64
    public var lastSequence: UInt64
    public var consumers: Int
    /// Copies the stream keeps (its configuration), and how many of them are in the cluster's
    /// answer (1 on a single server; 0 when the server gave no cluster information).
    public var replicas: Int = 1
    public var peers: Int = 0
}
