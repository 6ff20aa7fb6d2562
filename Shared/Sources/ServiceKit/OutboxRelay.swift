import Foundation
import GRDB
public import Logging
public import Messaging
public import ServiceLifecycle
import Synchronization

/// Publishes the outbox to JetStream, in order, and removes what the broker has stored.
///
/// Survives restarts: a row leaves the outbox only after the broker acknowledged it, so an event
/// published just before a crash is published again; the broker recognises the copy by its
/// `Nats-Msg-Id` within the de-duplication window, and after it by
/// `Nats-Expected-Last-Subject-Sequence` for events that occur once per subject. Works in batches:
/// up to `batchSize` rows are published pipelined, then deleted in one transaction. When the store
/// cannot delete them (disk full, locked), the relay remembers what the broker stored and only
/// retries the delete, so that a long store outage never sends copies past the broker's window.
public struct OutboxRelay: Service {
    let store: ServiceStore
    let connection: NATSConnection
    let logger: Logger
    let batchSize: Int
    let signal: OutboxSignal
    /// Rows the broker has stored that are still in the outbox (their delete failed).
    private let unremoved = Unremoved()

    public init(
        store: ServiceStore, connection: NATSConnection, signal: OutboxSignal, batchSize: Int = 256, logger: Logger
    ) {
        self.store = store
        self.connection = connection
        self.signal = signal
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        var backoff = Duration.milliseconds(100)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let published = try await publishOnce()
                backoff = .milliseconds(100)
                if published == 0 { await signal.wait(upTo: .milliseconds(500)) }
            } catch {
                // NATS away, a publish timeout, or the store (disk full, locked): all pass; a row
                // published but not yet removed goes out again and the broker drops the copy.
                logger.warning(
                    "outbox relay: publishing failed; retrying", metadata: ["error": "\(StorageFault.describe(error))"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        // Graceful shutdown: one last pass so that what was committed goes out now if NATS is up.
        if connection.isConnected { _ = try? await publishOnce() }
    }

    /// Publishes one batch; returns how many rows left the outbox.
    @discardableResult
    public func publishOnce() async throws -> Int {
        let stored = unremoved.rows.withLock { $0 }
        if !stored.isEmpty {
            try await remove(stored)
            return stored.count
        }
        let (batch, backlog) = try await store.writer.read { db in
            (try Outbox.pending(limit: batchSize, in: db), try Outbox.backlog(in: db))
        }
        ServiceMetrics.outboxBacklog(
            count: backlog.count, oldestAgeSeconds: backlog.oldest.map { -$0.timeIntervalSinceNow } ?? 0)
        guard !batch.isEmpty else { return 0 }
        let messages = batch.map { entry in
            OutgoingMessage(
                subject: entry.subject, payload: Array(entry.payload), headers: entry.headerValues,
                messageId: entry.eventId, expectedLastSubjectSequence: entry.oncePerSubject ? 0 : nil)
        }
        var results: [Result<PublishAck, NATSError>]
        if FaultSwitch.shared.isArmed(.midBatch) && messages.count >= 2 {
            results = await connection.publish(Array(messages.prefix(messages.count / 2)))
            if results.allSatisfy({ (try? $0.get()) != nil }) { FaultSwitch.shared.pass(.midBatch) }
            results += await connection.publish(Array(messages.dropFirst(messages.count / 2)))
        } else {
            results = await connection.publish(messages)
        }
        if results.contains(where: { (try? $0.get()) != nil }) { FaultSwitch.shared.pass(.afterPublish) }
        var done: [Int64] = []
        var firstError: NATSError?
        for (entry, result) in zip(batch, results) {
            switch result {
            case .success:
                done.append(entry.seq!)
                ServiceMetrics.published(
                    subjectPrefix: entry.subject.split(separator: ".").prefix(2).joined(separator: "."), count: 1)
            case .failure(let error) where error.apiErrorCode == 10071 && entry.oncePerSubject:
                // The subject already holds its one event: this is a copy of one published before a crash.
                logger.info("outbox relay: already published", metadata: ["event.id": "\(entry.eventId)"])
                done.append(entry.seq!)
            case .failure(let error):
                if firstError == nil { firstError = error }
            }
        }
        if !done.isEmpty { try await remove(done) }
        if let firstError, done.isEmpty { throw firstError }
        return done.count
    }

    /// Deletes rows the broker has stored; remembers them when the store refuses, to try again.
    private func remove(_ published: [Int64]) async throws {
        do {
            try await store.writer.write { db in
                _ = try OutboxEntry.filter(keys: published).deleteAll(db)
            }
            unremoved.rows.withLock { $0 = [] }
        } catch {
            unremoved.rows.withLock { $0 = published }
            throw error
        }
    }
}

/// The rows of the outbox that the broker stored and the store has not yet let the relay delete.
private final class Unremoved: Sendable {
    let rows = Mutex<[Int64]>([])
}

/// Wakes the relay as soon as a transaction has added to the outbox, instead of waiting for its poll.
public final class OutboxSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init() {}

    /// Called after a commit that appended events.
    public func notify() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.pending = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for `notify()` or `timeout`, whichever comes first.
    func wait(upTo timeout: Duration) async {
        let consumed = state.withLock { state -> Bool in
            guard state.pending else { return false }
            state.pending = false
            return true
        }
        if consumed { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.pending || state.waiter != nil { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
        }
        state.withLock { $0.pending = false }
    }
}
