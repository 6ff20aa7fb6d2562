import Contracts
import Foundation
public import Logging
public import Messaging
import Metrics
public import ServiceLifecycle

/// What a service's handler made of an event.
public enum HandlerOutcome: Sendable, Hashable {
    /// Applied (or recognised as already applied): acknowledge.
    case done
    /// Something it needs has not arrived yet (out-of-order delivery): ask for it again later, and
    /// dead-letter it with this reason if it still cannot be handled after the bounded wait.
    case notYet(String)
    /// It can never be handled (a broken invariant the sender owns): dead-letter it now.
    case reject(String)
}

/// A decoded event with the message that carried it.
public struct Delivery<Event: Sendable>: Sendable {
    public let event: Event
    public let message: JetStreamMessage

    public init(event: Event, message: JetStreamMessage) {
        self.event = event
        self.message = message
    }
}

/// Runs a service's handler on one durable consumer: decodes, dead-letters what cannot be decoded or
/// validated (at once), asks again later for what arrived too early (with growing delays, then
/// dead-letters it after `prerequisiteTimeout`), and retries transient failures (a thrown error:
/// store busy, NATS away) with back-off, never dead-lettering them.
///
/// The batch form hands the handler every event decoded from one pulled batch at once (see
/// `ConsumerService`), so that it can apply them in one store transaction; each event still gets
/// its own outcome, and the messages are settled after the handler returns.
public struct EventConsumer<Event: Sendable>: Service {
    public typealias Decode = @Sendable (JetStreamMessage) -> Result<Event, DecodeFailure>
    public typealias Handle = @Sendable (Event, JetStreamMessage) async throws -> HandlerOutcome
    /// One result per delivery, in order: an outcome, or the transient error that stopped it.
    public typealias HandleBatch = @Sendable ([Delivery<Event>]) async -> [Result<HandlerOutcome, any Error>]

    /// Why a message could not be decoded: the reason goes into `Troupe-Dead-Letter-Reason`.
    public struct DecodeFailure: Error, Sendable {
        public var reason: String
        /// What the log lines say about the event, when it could be read (a valid event on the
        /// wrong subject, say).
        public var metadata: Logger.Metadata
        public init(_ reason: String, metadata: Logger.Metadata = [:]) {
            self.reason = reason
            self.metadata = metadata
        }
    }

    let service: ConsumerService
    public var isBound: Bool { service.isBound }
    /// Events that wait in the process for their prerequisite (`WaitingRoom`), and what finishes
    /// each; nil without a waiting room.
    private let held: (stream: AsyncStream<Held>, continuation: AsyncStream<Held>.Continuation)?
    private let finishHeld: (@Sendable (Held) async -> Void)?

    /// An event kept back after its first delivery said `notYet`, until its order's next commit.
    struct Held: Sendable {
        let delivery: Delivery<Event>
        let key: String
        let mark: UInt64
    }

    /// One event at a time, up to `concurrency` at once.
    public init(
        connection: NATSConnection, stream: String, consumer: ConsumerConfiguration, deadLetters: DeadLetters,
        pull: PullOptions = PullOptions(), concurrency: Int = 1, prerequisiteTimeout: Duration = .seconds(60),
        logger: Logger, decode: @escaping Decode, handle: @escaping Handle
    ) {
        let settle = Settler(
            stream: stream, deadLetters: deadLetters, prerequisiteTimeout: prerequisiteTimeout, logger: logger)
        held = nil
        finishHeld = nil
        service = ConsumerService(
            connection: connection, stream: stream, consumer: consumer, pull: pull, concurrency: concurrency,
            logger: logger
        ) { message in
            let start = ContinuousClock.now
            defer { ServiceMetrics.handlerDuration(stream: stream, ContinuousClock.now - start) }
            switch decode(message) {
            case .failure(let failure):
                return await settle.undecodable(message, failure.reason, metadata: failure.metadata)
            case .success(let event):
                let result: Result<HandlerOutcome, any Error>
                do { result = .success(try await handle(event, message)) } catch { result = .failure(error) }
                // (A handler that applies through the store passes the `after-commit` crash point there.)
                return await settle.disposition(
                    Self.typeName(event), message, result, metadata: Self.logMetadata(event))
            }
        }
    }

    /// Batches of up to `maxBatch` events, handed to `handleBatch` together.
    ///
    /// With a `waitingRoom`, an event whose first delivery says `notYet` is kept in the process
    /// (unacknowledged) for up to `holdFor` (the first retry's delay, 20 ms, by default) and
    /// applied again as soon as a commit of the service applies an event of the same `waitKey`
    /// (its order); if none does meanwhile, it goes back to the broker at once (`nak`), as it
    /// would have. Later deliveries are settled as usual.
    public init(
        connection: NATSConnection, stream: String, consumer: ConsumerConfiguration, deadLetters: DeadLetters,
        pull: PullOptions = PullOptions(), maxBatch: Int, prerequisiteTimeout: Duration = .seconds(60),
        waitingRoom: WaitingRoom? = nil, waitKey: @escaping @Sendable (Event) -> String? = EventConsumer.orderKey,
        holdFor: Duration? = nil, logger: Logger, decode: @escaping Decode, handleBatch: @escaping HandleBatch
    ) {
        let settle = Settler(
            stream: stream, deadLetters: deadLetters, prerequisiteTimeout: prerequisiteTimeout, logger: logger)
        let held = waitingRoom.map { _ in AsyncStream<Held>.makeStream() }
        self.held = held
        if let room = waitingRoom {
            let hold = holdFor ?? Settler.retryDelay(deliveries: 1)
            let finish: @Sendable (Held) async -> Void = { item in
                let message = item.delivery.message
                let type = Self.typeName(item.delivery.event)
                let arrived = await room.wait(for: item.key, after: item.mark, timeout: hold)
                ServiceMetrics.held(arrived ? "released" : "timed_out")
                guard arrived else {
                    // Nothing of its order was applied here meanwhile: back to the broker, at once
                    // (it has waited the first retry's delay already).
                    ServiceMetrics.consumed(type: type, outcome: "nak")
                    MessageDisposition.nak(delay: nil).settle(message, logger: logger)
                    return
                }
                let results = await handleBatch([item.delivery])
                let result = results.first ?? .failure(BatchAnswerMissing())
                let disposition = await settle.disposition(
                    type, message, result, metadata: Self.logMetadata(item.delivery.event))
                disposition.settle(message, logger: logger)
            }
            finishHeld = finish
        } else {
            finishHeld = nil
        }
        service = ConsumerService(
            connection: connection, stream: stream, consumer: consumer, pull: pull, maxBatch: maxBatch, logger: logger
        ) { messages in
            let start = ContinuousClock.now
            let mark = waitingRoom?.mark()
            var dispositions = [MessageDisposition?](repeating: nil, count: messages.count)
            var deliveries: [Delivery<Event>] = []
            var positions: [Int] = []
            deliveries.reserveCapacity(messages.count)
            positions.reserveCapacity(messages.count)
            for (index, message) in messages.enumerated() {
                switch decode(message) {
                case .failure(let failure):
                    dispositions[index] = await settle.undecodable(
                        message, failure.reason, metadata: failure.metadata)
                case .success(let event):
                    deliveries.append(Delivery(event: event, message: message))
                    positions.append(index)
                }
            }
            if !deliveries.isEmpty {
                var results = await handleBatch(deliveries)
                if results.count != deliveries.count {
                    let missing = BatchAnswerMissing()
                    results = deliveries.indices.map { $0 < results.count ? results[$0] : .failure(missing) }
                }
                // (The store's transaction passes the `after-commit` crash point once it commits.)
                for ((delivery, position), result) in zip(zip(deliveries, positions), results) {
                    // Kept, unless the consumer is stopping (`run` no longer takes what waits).
                    if let held, let mark, case .success(.notYet) = result,
                        delivery.message.metadata.deliveryCount == 1,
                        let key = waitKey(delivery.event), !Task.isShuttingDownGracefully,
                        case .enqueued = held.continuation.yield(Held(delivery: delivery, key: key, mark: mark))
                    {
                        ServiceMetrics.consumed(type: Self.typeName(delivery.event), outcome: "held")
                        dispositions[position] = .keep
                        continue
                    }
                    dispositions[position] = await settle.disposition(
                        Self.typeName(delivery.event), delivery.message, result,
                        metadata: Self.logMetadata(delivery.event))
                }
            }
            let elapsed = ContinuousClock.now - start
            ServiceMetrics.handlerDuration(stream: stream, elapsed / max(1, messages.count), count: messages.count)
            ServiceMetrics.batch(stream: stream, events: messages.count)
            return dispositions.map { $0 ?? .nak(delay: .seconds(1)) }
        }
    }

    /// Runs the consumer, and finishes the events it keeps waiting before it returns.
    public func run() async throws {
        guard let held, let finishHeld else {
            try await service.run()
            return
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                defer { held.continuation.finish() }
                try await service.run()
            }
            for await item in held.stream {
                group.addTask { await finishHeld(item) }
            }
        }
    }

    /// What an event of the catalogue waits for in the `WaitingRoom`: its order.
    public static func orderKey(_ event: Event) -> String? { (event as? AnyEvent)?.orderId }

    /// The event's type for metrics: a bounded set (the catalogue's types, or `event`).
    static func typeName(_ event: Event) -> String {
        (event as? AnyEvent)?.type ?? "event"
    }

    /// What the log lines about handling `event` carry: its order, id, cause and trace.
    static func logMetadata(_ event: Event) -> Logger.Metadata {
        (event as? any EventLogMetadata)?.logMetadata ?? [:]
    }

    /// 20 ms, doubling with each delivery, at most 5 s (`Settler.retryDelay`).
    static func retryDelay(deliveries: Int) -> Duration {
        Settler.retryDelay(deliveries: deliveries)
    }

    /// The back-off a message has been through before its `deliveries`-th delivery.
    static func waited(deliveries: Int) -> Duration {
        Settler.waited(deliveries: deliveries)
    }
}

/// A batch handler answered for fewer events than it was given: the rest are retried.
struct BatchAnswerMissing: Error, CustomStringConvertible {
    var description: String { "the batch handler gave no outcome for this event" }
}

/// Turns a handler's outcome into how its message is settled: the one place for dead letters,
/// out-of-order waits and retries.
struct Settler: Sendable {
    let stream: String
    let deadLetters: DeadLetters
    let prerequisiteTimeout: Duration
    let logger: Logger

    func undecodable(_ message: JetStreamMessage, _ reason: String, metadata: Logger.Metadata = [:]) async
        -> MessageDisposition
    {
        if message.metadata.deliveryCount > 1 { ServiceMetrics.redelivered(stream: stream) }
        ServiceMetrics.consumed(type: "undecodable", outcome: "dead_letter")
        ServiceMetrics.deadLettered(stream: stream)
        return await deadLetters.deadLetter(message, reason: reason, metadata: metadata)
    }

    /// `metadata` (the event's fields for the log) is only built for what is logged: an
    /// acknowledged event, nearly all of them, costs none.
    func disposition(
        _ type: String, _ message: JetStreamMessage, _ result: Result<HandlerOutcome, any Error>,
        metadata eventMetadata: @autoclosure () -> Logger.Metadata = [:]
    ) async -> MessageDisposition {
        let deliveries = message.metadata.deliveryCount
        if deliveries > 1 { ServiceMetrics.redelivered(stream: stream) }
        switch result {
        case .success(.done):
            ServiceMetrics.consumed(type: type, outcome: "ack")
            return .ack
        case .success(.reject(let reason)):
            ServiceMetrics.consumed(type: type, outcome: "dead_letter")
            ServiceMetrics.deadLettered(stream: stream)
            return await deadLetters.deadLetter(message, reason: reason, metadata: eventMetadata())
        case .success(.notYet(let reason)):
            let age = Self.age(of: message)
            if Self.hasWaitedLongEnough(age: age, deliveries: deliveries, timeout: prerequisiteTimeout) {
                ServiceMetrics.consumed(type: type, outcome: "dead_letter")
                ServiceMetrics.deadLettered(stream: stream)
                return await deadLetters.deadLetter(
                    message, reason: "prerequisite never arrived after \(age.seconds)s: \(reason)",
                    metadata: eventMetadata())
            }
            ServiceMetrics.consumed(type: type, outcome: "nak")
            return .nak(delay: Self.retryDelay(deliveries: deliveries))
        case .failure(let error):
            ServiceMetrics.consumed(type: type, outcome: "retry")
            logger.warning(
                "handler failed; retrying",
                metadata: eventMetadata().merging(
                    [LogKey.natsSubject: "\(message.subject)", LogKey.error: "\(StorageFault.describe(error))"]
                ) { _, new in new })
            return .nak(delay: Self.retryDelay(deliveries: deliveries))
        }
    }

    /// Whether an event whose prerequisite has not arrived is to be dead-lettered now. Both the
    /// message's age and the time it has actually spent waiting here (its back-off so far) must
    /// pass the timeout: after a downtime longer than the timeout, an event whose prerequisite
    /// sits in another stream's backlog gets its full wait instead of being dead-lettered at its
    /// first delivery.
    static func hasWaitedLongEnough(age: Duration, deliveries: Int, timeout: Duration) -> Bool {
        age > timeout && waited(deliveries: deliveries) >= timeout
    }

    /// 20 ms, doubling with each delivery, at most 5 s. The first retries are short because the
    /// usual prerequisite is an event of another stream that this same service is applying in a
    /// batch of another consumer right now, milliseconds behind.
    static func retryDelay(deliveries: Int) -> Duration {
        let exponent = min(max(deliveries - 1, 0), 8)
        return min(.milliseconds(20 * (1 << exponent)), .seconds(5))
    }

    /// The back-off a message has been through before its `deliveries`-th delivery: the growing
    /// delays of the first retries, then the longest one for each further retry. In closed form,
    /// so that a delivery count as large as a message claims costs nothing.
    static func waited(deliveries: Int) -> Duration {
        guard deliveries > 1 else { return .zero }
        let growing = min(deliveries - 1, 8)
        let first = (1...growing).reduce(Duration.zero) { $0 + retryDelay(deliveries: $1) }
        let further = Int64(deliveries - 1 - growing)
        // More than a million further retries at 5 s is far past any timeout: count no more.
        return first + retryDelay(deliveries: 9) * min(further, 1_000_000)
    }

    /// How long ago the stream stored the message.
    static func age(of message: JetStreamMessage) -> Duration {
        let stored = Double(message.metadata.timestampNanoseconds) / 1e9
        return .milliseconds(Int64(max(0, Date().timeIntervalSince1970 - stored) * 1000))
    }
}

extension Duration {
    var seconds: Int64 { components.seconds }
}

/// Events that say what the log lines about handling them carry.
public protocol EventLogMetadata {
    var logMetadata: Logger.Metadata { get }
}
