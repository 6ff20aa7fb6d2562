public import Contracts
public import Messaging

/// What makes one service different from another, as far as the runtime is concerned, and the
/// service's place in the choreography: the streams it writes and reads, and its durable consumers.
public struct ServiceDescriptor: Sendable {
    /// A stream the service reads, and the one kind of event the server delivers it from there
    /// (nil: every event of the stream).
    public typealias Read = (stream: StreamDefinition, only: (any EventPayload.Type)?)

    /// `order`, `inventory`, …: names the store, the log lines, the NATS connection.
    public var name: String
    public var defaultPort: Int
    /// Settings of its own, beyond the common ones.
    public var settings: [SettingSpec]
    /// Every stream the service reads or writes; all are ensured at start.
    public var streams: [StreamConfiguration]
    /// The streams it consumes, one durable consumer each.
    public var reads: [Read]

    public init(
        name: String, defaultPort: Int, settings: [SettingSpec] = [], streams: [StreamConfiguration],
        reads: [Read] = []
    ) {
        self.name = name
        self.defaultPort = defaultPort
        self.settings = settings
        self.streams = streams
        self.reads = reads
    }

    /// A durable consumer of the service: the stream, its name, and the unfiltered durable it took
    /// over from, if any (`ConsumerConfiguration.replaces`).
    public struct Durable: Sendable, Equatable {
        public var stream: String
        public var name: String
        public var replaces: String?
    }

    /// Every durable consumer the service binds: one per read, and the replay consumer of its
    /// dead letters.
    public var durables: [Durable] {
        reads.map { read in
            let unfiltered = read.stream.consumerName(forService: name)
            guard let only = read.only else { return Durable(stream: read.stream.name, name: unfiltered) }
            return Durable(
                stream: read.stream.name, name: read.stream.consumerName(forService: name, only: only),
                replaces: unfiltered)
        } + [Durable(stream: StreamDefinition.deadLetter.name, name: replayConsumer)]
    }

    /// The durable that reads back the dead letters `troupe dlq replay` puts back for the service.
    public var replayConsumer: String { "\(name)-replay" }

    /// The service's topology as `<service>-service --describe` prints it, one fact per line, for
    /// scripts (`deploy/local/troupe.sh` writes the NATS permissions from it, docs/deployment.md):
    ///
    ///     service payment
    ///     port 8083
    ///     publishes payments.>
    ///     inbox _INBOX_payment
    ///     stream ORDERS
    ///     stream PAYMENTS own
    ///     consumer ORDERS payment-orders-cancelled replaces payment-orders
    ///     consumer DEADLETTER payment-replay
    public var topology: String {
        let producer = Producer(rawValue: name)
        var lines = ["service \(name)", "port \(defaultPort)"]
        if let producer { lines.append("publishes \(producer.domain).>") }
        lines.append("inbox \(NATSConfiguration.inboxPrefix(service: name))")
        for stream in streams {
            lines.append("stream \(stream.name)\(stream.name == producer?.stream.name ? " own" : "")")
        }
        for durable in durables {
            lines.append(
                "consumer \(durable.stream) \(durable.name)\(durable.replaces.map { " replaces \($0)" } ?? "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
