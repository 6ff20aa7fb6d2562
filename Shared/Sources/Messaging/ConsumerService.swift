import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// How a handler wants a message settled.
public enum MessageDisposition: Sendable, Hashable {
    /// Done; never deliver it again.
    case ack
    /// Deliver it again, after `delay` (at once when nil): what it needs has not arrived yet, or a
    /// transient failure.
    case nak(delay: Duration?)
    /// Never deliver it again: it was dead-lettered, or can never be processed.
    case term
    /// Not now: the handler keeps the message and settles it itself later (an event that waits in
    /// the process for its prerequisite).
    case keep
}

extension MessageDisposition {
    /// Settles `message` as this disposition says (nothing for `keep`). A failure is logged: the
    /// server delivers the message again after the ack wait, so nothing is lost.
    public func settle(_ message: JetStreamMessage, logger: Logger) {
        do {
            switch self {
            case .ack: try message.ack()
            case .nak(let delay): try message.nak(delay: delay)
            case .term: try message.term()
            case .keep: return
            }
        } catch {
            logger.warning(
                "could not settle a message",
                metadata: [LogKey.natsSubject: "\(message.subject)", LogKey.error: "\(error)"])
        }
    }
}

/// A durable consumer run as a `Service`: makes sure the consumer exists, pulls, runs the handler,
/// and settles each message with the handler's answer.
///
/// Two ways to handle: one message at a time (up to `concurrency` at once), or in batches — the
/// batch handler gets whatever is buffered (at least one message, at most `maxBatch`; it never
/// waits for a batch to fill, so latency under light load is that of a single message) and
/// answers one disposition per message, in order. One batch is handled at a time; the next is
/// pulled while it runs. A batch handler that commits its batch in one transaction must answer
/// only after the commit: the messages are settled right after it returns.
///
/// Graceful shutdown: stops pulling, naks what is buffered but not started (another instance takes
/// it at once), lets the handlers in flight finish and settles them, then flushes the connection so
/// that the acknowledgements reach the server. Nothing handled is lost or delivered again.
/// While NATS is unreachable at start it keeps trying; `isBound` tells readiness when it is up.
public struct ConsumerService: Service {
    public typealias Handler = @Sendable (JetStreamMessage) async -> MessageDisposition
    /// Handles buffered messages together; answers one disposition per message, in order.
    public typealias BatchHandler = @Sendable ([JetStreamMessage]) async -> [MessageDisposition]

    private enum Handling: Sendable {
        case each(Handler, concurrency: Int)
        case batch(BatchHandler, maxBatch: Int)
    }

    let connection: NATSConnection
    let stream: String
    let configuration: ConsumerConfiguration
    let pullOptions: PullOptions
    let logger: Logger
    private let handling: Handling
    private let boundBox: ReadyFlag

    public init(
        connection: NATSConnection, stream: String, consumer: ConsumerConfiguration,
        pull: PullOptions = PullOptions(), concurrency: Int = 1, logger: Logger, handler: @escaping Handler
    ) {
        self.connection = connection
        self.stream = stream
        self.configuration = consumer
        self.pullOptions = Self.withProgress(pull, consumer)
        self.logger = logger
        self.handling = .each(handler, concurrency: max(1, concurrency))
        self.boundBox = ReadyFlag()
    }

    /// A consumer whose handler takes batches of up to `maxBatch` messages.
    public init(
        connection: NATSConnection, stream: String, consumer: ConsumerConfiguration,
        pull: PullOptions = PullOptions(), maxBatch: Int, logger: Logger, batchHandler: @escaping BatchHandler
    ) {
        self.connection = connection
        self.stream = stream
        self.configuration = consumer
        self.pullOptions = Self.withProgress(pull, consumer)
        self.logger = logger
        self.handling = .batch(batchHandler, maxBatch: max(1, maxBatch))
        self.boundBox = ReadyFlag()
    }

    /// Progress reported every third of the ack wait, unless the caller chose: a message that
    /// waits in this instance behind a slow batch is not delivered again elsewhere meanwhile.
    private static func withProgress(_ pull: PullOptions, _ consumer: ConsumerConfiguration) -> PullOptions {
        var pull = pull
        if pull.progressEvery == nil { pull.progressEvery = consumer.effectiveAckWait / 3 }
        return pull
    }

    /// True once the consumer exists on the server and this instance is pulling from it.
    public var isBound: Bool { boundBox.value }

    public func run() async throws {
        // Bound again whenever the server loses the consumer (deleted by an operator, or with its
        // stream): not ready meanwhile, and re-created by `ensureConsumer`, never left asking a
        // consumer that no longer exists.
        while let consumer = await bindWhenPossible() {
            boundBox.set(true)
            let stopOnce: @Sendable () -> Void = {
                for message in consumer.stop() { try? message.nak() }
            }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    switch handling {
                    case .each(let handler, let concurrency):
                        await dispatch(from: consumer, handler, concurrency: concurrency)
                    case .batch(let handler, let maxBatch):
                        await dispatchBatches(from: consumer, handler, maxBatch: maxBatch)
                    }
                } onGracefulShutdown: {
                    stopOnce()
                }
            } onCancel: {
                stopOnce()
            }
            boundBox.set(false)
            guard consumer.isLost, !Task.isCancelled, !Task.isShuttingDownGracefully else {
                let why = Task.isCancelled ? "cancelled" : Task.isShuttingDownGracefully ? "shutting down" : "stopped"
                // Cancelled or shutting down is the end of the process; anything else leaves the
                // durable unread with the service still running, which must never go unnoticed.
                logger.log(
                    level: why == "stopped" ? .error : .info, "consumer stopped (\(why))",
                    metadata: [LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(configuration.durable)"])
                break
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        try? await connection.flush(timeout: .seconds(2))
    }

    private func dispatch(from consumer: PullConsumer, _ handler: @escaping Handler, concurrency: Int) async {
        let logger = self.logger
        await withDiscardingTaskGroup { group in
            group.addTask { await consumer.maintain() }
            let slots = AsyncSemaphore(permits: concurrency)
            while true {
                await slots.acquire()
                guard let message = await consumer.next() else {
                    slots.release()
                    break
                }
                group.addTask {
                    let disposition = await handler(message)
                    disposition.settle(message, logger: logger)
                    slots.release()
                }
            }
        }
    }

    /// One batch at a time, in this task: no task or queue hop per message.
    private func dispatchBatches(from consumer: PullConsumer, _ handler: BatchHandler, maxBatch: Int) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await consumer.maintain() }
            while true {
                let batch = await consumer.nextBatch(max: maxBatch)
                if batch.isEmpty { break }
                let dispositions = await handler(batch)
                for (message, disposition) in zip(batch, dispositions) { disposition.settle(message, logger: logger) }
                // A handler that answered too few leaves the rest to come back after the ack wait.
                if dispositions.count < batch.count {
                    logger.error(
                        "batch handler answered for fewer messages than it was given",
                        metadata: [LogKey.natsConsumer: "\(configuration.durable)"])
                }
            }
            group.cancelAll()
        }
    }

    /// Ensures the consumer and binds to it, retrying while NATS is unreachable; nil on shutdown.
    private func bindWhenPossible() async -> PullConsumer? {
        var backoff = Backoff()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await connection.ensureConsumer(stream: stream, configuration)
                return try PullConsumer.bind(
                    connection: connection, stream: stream, durable: configuration.durable, options: pullOptions,
                    logger: logger)
            } catch {
                logger.warning(
                    "consumer not ready; retrying",
                    metadata: [
                        LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(configuration.durable)",
                        LogKey.error: "\(error)",
                    ])
                try? await Task.sleep(for: backoff.next())
            }
        }
        return nil
    }
}
