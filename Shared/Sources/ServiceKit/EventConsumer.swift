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

/// Runs a service's handler on one durable consumer: decodes, dead-letters what cannot be decoded or
/// validated (at once), asks again later for what arrived too early (with growing delays, then
/// dead-letters it after `prerequisiteTimeout`), and retries transient failures (a thrown error:
/// store busy, NATS away) with back-off, never dead-lettering them.
public struct EventConsumer<Event: Sendable>: Service {
    public typealias Decode = @Sendable (JetStreamMessage) -> Result<Event, DecodeFailure>
    public typealias Handle = @Sendable (Event, JetStreamMessage) async throws -> HandlerOutcome

    /// Why a message could not be decoded: the reason goes into `Troupe-Dead-Letter-Reason`.
    public struct DecodeFailure: Error, Sendable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    let service: ConsumerService
    public var isBound: Bool { service.isBound }

    public init(
        connection: NATSConnection, stream: String, consumer: ConsumerConfiguration, deadLetters: DeadLetters,
        pull: PullOptions = PullOptions(), concurrency: Int = 1, prerequisiteTimeout: Duration = .seconds(60),
        logger: Logger, decode: @escaping Decode, handle: @escaping Handle
    ) {
        service = ConsumerService(
            connection: connection, stream: stream, consumer: consumer, pull: pull, concurrency: concurrency,
            logger: logger
        ) { message in
            if message.metadata.deliveryCount > 1 { ServiceMetrics.redelivered(stream: stream) }
            let timer = ServiceMetrics.handlerDuration(stream: stream)
            let start = ContinuousClock.now
            defer { timer.record(duration: ContinuousClock.now - start) }
            switch decode(message) {
            case .failure(let failure):
                ServiceMetrics.consumed(type: "undecodable", outcome: "dead_letter")
                ServiceMetrics.deadLettered(stream: stream)
                return await deadLetters.deadLetter(message, reason: failure.reason)
            case .success(let event):
                let type = Self.typeName(event)
                do {
                    switch try await handle(event, message) {
                    case .done:
                        ServiceMetrics.consumed(type: type, outcome: "ack")
                        FaultSwitch.shared.pass(.afterCommit)
                        return .ack
                    case .reject(let reason):
                        ServiceMetrics.consumed(type: type, outcome: "dead_letter")
                        ServiceMetrics.deadLettered(stream: stream)
                        return await deadLetters.deadLetter(message, reason: reason)
                    case .notYet(let reason):
                        // Both the message's age and the time it has actually spent waiting here (its
                        // back-off so far) must pass the timeout: after a downtime longer than the
                        // timeout, an event whose prerequisite sits in another stream's backlog gets
                        // its full wait instead of being dead-lettered at its first delivery.
                        let age = Self.age(of: message)
                        let deliveries = message.metadata.deliveryCount
                        if age > prerequisiteTimeout && Self.waited(deliveries: deliveries) >= prerequisiteTimeout {
                            ServiceMetrics.consumed(type: type, outcome: "dead_letter")
                            ServiceMetrics.deadLettered(stream: stream)
                            return await deadLetters.deadLetter(
                                message, reason: "prerequisite never arrived after \(age.seconds)s: \(reason)")
                        }
                        ServiceMetrics.consumed(type: type, outcome: "nak")
                        return .nak(delay: Self.retryDelay(deliveries: message.metadata.deliveryCount))
                    }
                } catch {
                    ServiceMetrics.consumed(type: type, outcome: "retry")
                    logger.warning(
                        "handler failed; retrying",
                        metadata: ["nats.subject": "\(message.subject)", "error": "\(StorageFault.describe(error))"])
                    return .nak(delay: Self.retryDelay(deliveries: message.metadata.deliveryCount))
                }
            }
        }
    }

    public func run() async throws { try await service.run() }

    /// The event's type for metrics: a bounded set (the catalogue's types, or `event`).
    static func typeName(_ event: Event) -> String {
        (event as? any EventTyped)?.eventType ?? "event"
    }

    /// 100 ms, doubling with each delivery, at most 5 s.
    static func retryDelay(deliveries: Int) -> Duration {
        let exponent = min(max(deliveries - 1, 0), 6)
        return min(.milliseconds(100 * (1 << exponent)), .seconds(5))
    }

    /// The back-off a message has been through before its `deliveries`-th delivery.
    static func waited(deliveries: Int) -> Duration {
        guard deliveries > 1 else { return .zero }
        return (1..<deliveries).reduce(Duration.zero) { $0 + retryDelay(deliveries: $1) }
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

/// Events that can name their type for metrics.
public protocol EventTyped {
    var eventType: String { get }
}
