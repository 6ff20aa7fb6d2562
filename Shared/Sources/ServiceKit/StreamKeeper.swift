import Contracts
import Logging
import Messaging
import ServiceLifecycle

/// Makes sure the service's streams exist, retrying while NATS is away, and looks again every few
/// seconds until shutdown (a stream deleted at runtime is re-created or waited for).
///
/// Least privilege: the service creates (when missing) and widens only its own domain's stream,
/// creates the dead-letter stream when missing, and only checks that the others exist — waiting,
/// not ready, until their producers have made them. It never cuts an existing configuration (an
/// operator's longer `maxAge` or more replicas stay): differences are logged and kept.
struct StreamKeeper: Service {
    let connection: NATSConnection
    let service: String
    let streams: [StreamConfiguration]
    let replicas: Int
    let ready: ReadyFlag
    let logger: Logger

    /// What `service` may do to `stream`.
    static func ownership(of stream: StreamConfiguration, by service: String) -> StreamOwnership {
        if stream.name == DeadLetter.stream { return .shared }
        if let producer = Producer(rawValue: service), stream.subjects == ["\(producer.domain).>"] { return .own }
        return .others
    }

    /// How often the streams are looked at again once ensured: a stream deleted at runtime is
    /// re-created (or, another producer's, waited for, not ready) within this time.
    static let recheck = Duration.seconds(5)

    /// Sleeps, ending early at graceful shutdown (so that a stopping service never waits for it).
    static func pause(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    func run() async throws {
        var backoff = Backoff()
        var reported: [String: StreamEnsureOutcome] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                for var stream in streams {
                    stream.replicas = replicas
                    let ownership = Self.ownership(of: stream, by: service)
                    let outcome = try await connection.ensureStream(stream, ownership: ownership)
                    // Each outcome is logged once, not at every look.
                    guard reported.updateValue(outcome, forKey: stream.name) != outcome else { continue }
                    switch outcome {
                    case .unchanged: break
                    case .created:
                        logger.info("stream created", metadata: [LogKey.natsStream: "\(stream.name)"])
                    case .differs(let updated, let kept):
                        logger.info(
                            "stream differs from the contract's configuration",
                            metadata: [
                                LogKey.natsStream: "\(stream.name)", "updated": "\(updated.joined(separator: ","))",
                                "kept": "\(kept.joined(separator: ","))",
                            ])
                    }
                }
                ready.set(true)
                backoff.reset()
                try? await Self.pause(Self.recheck)
            } catch  where error.code == .configurationConflict {
                // Never silently change a different existing configuration: say so, and stay not ready.
                ready.set(false)
                logger.critical("stream configuration conflict", metadata: [LogKey.error: "\(error)"])
                try? await Self.pause(.seconds(10))
            } catch  where error.code == .streamMissing {
                ready.set(false)
                reported.removeAll()
                logger.warning("waiting for a stream its producer creates", metadata: [LogKey.error: "\(error)"])
                try? await Self.pause(backoff.next())
            } catch {
                // NATS away: the streams are what they were; readiness follows the connection.
                logger.warning("streams not ensured yet; retrying", metadata: [LogKey.error: "\(error)"])
                try? await Self.pause(backoff.next())
            }
        }
        try? await gracefulShutdown()
    }
}
