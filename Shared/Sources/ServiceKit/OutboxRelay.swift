import Contracts
import Foundation
import GRDB
public import Logging
public import Messaging
public import ServiceLifecycle
import Synchronization

/// Publishes the outbox to JetStream, in order, and removes what the broker has stored.
///
/// In the steady state the rows are published at commit by the store's `OutboxHandoff`, and the
/// relay only deletes, in one transaction every few tens of milliseconds, the rows the broker has
/// stored. It publishes itself at start, after any failure (NATS away, a publish refused, the store
/// refusing a delete) and whenever publishing at commit was not possible: first what the store
/// holds, oldest first, until it has caught up — so what a crash or an outage left behind goes out
/// before anything newer — then what commits queued meanwhile, and then it switches publishing at
/// commit back on. A queued row that the store read already covered (its `seq` is not above the
/// highest one handled) is skipped.
///
/// Survives restarts: a row leaves the outbox only after the broker acknowledged it, so an event
/// published just before a crash is published again; the broker recognises the copy by its
/// `Nats-Msg-Id` within the de-duplication window, and after it by
/// `Nats-Expected-Last-Subject-Sequence` for events that occur once per subject; a row of another
/// kind (a notification) that has waited longer than `lookAfter` is first looked for among the
/// messages its subject holds. Works in batches:
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

    /// The stream that holds a subject (the contract's streams unless told otherwise).
    let streamOf: @Sendable (String) -> String?
    /// Rows older than this that may occur several times on their subject are looked up in the
    /// stream before being published again: well inside the contract's de-duplication window
    /// (2 minutes), so that a copy of a younger row is always dropped by the broker.
    let lookAfter: Duration

    public init(
        store: ServiceStore, connection: NATSConnection, signal: OutboxSignal, batchSize: Int = 256,
        streamOf: @escaping @Sendable (String) -> String? = OutboxRelay.stream(of:),
        lookAfter: Duration = .seconds(10), logger: Logger
    ) {
        self.store = store
        self.connection = connection
        self.signal = signal
        self.batchSize = batchSize
        self.streamOf = streamOf
        self.lookAfter = lookAfter
        self.logger = logger
    }

    public func run() async throws {
        var backoff = Backoff(initial: .milliseconds(100))
        var mustRead = true
        var highestHandled: Int64 = 0
        var lastBacklog = ContinuousClock.now
        let handoff = store.outbox
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await removePublished()
                if mustRead {
                    handoff.clear()
                    let pass = try await publishStored()
                    highestHandled = max(highestHandled, pass.highest)
                    lastBacklog = .now
                    // More rows may wait, or some were not stored: read again (after a pause for the latter).
                    mustRead = pass.more || pass.failed
                    if pass.failed { try? await Task.sleep(for: .milliseconds(100)) }
                    backoff.reset()
                    continue
                }
                let (taken, mustReadNow) = handoff.take(limit: batchSize)
                if mustReadNow {
                    mustRead = true
                    continue
                }
                let entries = taken.filter { ($0.seq ?? 0) > highestHandled }
                if entries.isEmpty {
                    // Caught up: commits publish their rows themselves from now on.
                    if !handoff.isPublishingAtCommit { _ = handoff.resumePublishingAtCommit() }
                    if ContinuousClock.now - lastBacklog > .seconds(1) {
                        lastBacklog = .now
                        // A row still there long after its publish must have had its answer lost:
                        // read the store and publish it again (the broker drops a copy).
                        if try await reportBacklog() > Self.staleAfter {
                            logger.info("outbox relay: rows waiting too long; reading the store")
                            mustRead = true
                        } else if store.dialect == .postgres,
                            try await store.read({ db in try Outbox.hasOrphans(in: db) })
                        {
                            // Rows of an instance that died before the broker had them.
                            logger.info("outbox relay: rows of another instance left unpublished; reading the store")
                            mustRead = true
                        }
                    }
                    await signal.wait(upTo: Self.deleteInterval)
                    continue
                }
                highestHandled = max(highestHandled, entries.last?.seq ?? 0)
                let failed = try await publish(entries)
                if failed { mustRead = true }
                backoff.reset()
            } catch {
                // NATS away, a publish timeout, or the store (disk full, locked): all pass; a row
                // published but not yet removed goes out again and the broker drops the copy.
                mustRead = true
                logger.warning(
                    "outbox relay: publishing failed; retrying",
                    metadata: [LogKey.error: "\(StorageFault.describe(error))"])
                try? await Task.sleep(for: backoff.next())
            }
        }
        // Graceful shutdown: one last pass so that what was committed goes out now if NATS is up.
        try? await removePublished()
        if connection.isConnected { _ = try? await publishStored() }
    }

    /// How long rows published at commit wait, at most, to be deleted together.
    static let deleteInterval = Duration.milliseconds(50)

    /// Deletes the rows published at commit that the broker has stored.
    func removePublished() async throws {
        let published = store.outbox.takePublished()
        if !published.isEmpty { try await remove(published) }
    }

    /// Updates the backlog metrics; returns the age of the oldest row.
    private func reportBacklog() async throws -> Duration {
        let backlog = try await store.read { db in try Outbox.backlog(in: db) }
        let age = backlog.oldest.map { -$0.timeIntervalSinceNow } ?? 0
        ServiceMetrics.outboxBacklog(count: backlog.count, oldestAgeSeconds: age)
        return .milliseconds(Int64(age * 1000))
    }

    /// Well beyond a publish's own timeout (5 s): a row this old was not stored, or its answer was lost.
    static let staleAfter = Duration.seconds(15)

    /// Reads one batch from the store and publishes it; returns how many rows left the outbox.
    @discardableResult
    public func publishOnce() async throws -> Int {
        try await publishStored().published
    }

    /// What one read of the store did.
    struct StoredPass {
        /// Rows that left the outbox.
        var published: Int
        /// The highest `seq` read.
        var highest: Int64
        /// Rows after these may wait in the store.
        var more: Bool
        /// Some rows read were not stored by the broker.
        var failed: Bool
    }

    /// Reads one batch from the store and publishes it.
    func publishStored() async throws -> StoredPass {
        let stored = unremoved.rows.withLock { $0 }
        if !stored.isEmpty {
            try await remove(stored)
            // The rows after them are still to be read.
            return StoredPass(published: stored.count, highest: 0, more: true, failed: false)
        }
        let batchSize = self.batchSize
        let read: @Sendable (StoreSession) throws -> ([OutboxEntry], (count: Int, oldest: Date?)) = { db in
            (try Outbox.pending(limit: batchSize, in: db), try Outbox.backlog(in: db))
        }
        // In PostgreSQL the rows are claimed (`Outbox.pending`): a write.
        let (batch, backlog) = try await store.dialect == .postgres ? store.write(read) : store.read(read)
        ServiceMetrics.outboxBacklog(
            count: backlog.count, oldestAgeSeconds: backlog.oldest.map { -$0.timeIntervalSinceNow } ?? 0)
        guard !batch.isEmpty else { return StoredPass(published: 0, highest: 0, more: false, failed: false) }
        let done = try await publishAndRemove(batch)
        return StoredPass(
            published: done, highest: batch.last?.seq ?? 0, more: batch.count >= batchSize, failed: done < batch.count)
    }

    /// Publishes rows that came from the handoff; true when some were not stored by the broker
    /// (they stay in the outbox for the next read of the store).
    private func publish(_ entries: [OutboxEntry]) async throws -> Bool {
        try await publishAndRemove(entries) < entries.count
    }

    /// Publishes `batch` pipelined, in order, and deletes from the outbox what the broker stored;
    /// returns how many that was. Throws when nothing was stored.
    private func publishAndRemove(_ rows: [OutboxEntry]) async throws -> Int {
        // Rows that may have been stored before the broker's de-duplication window began: for
        // those that are not once per subject, look at what their subject holds (see `storedLongAgo`).
        var batch: [OutboxEntry] = []
        var done: [Int64] = []
        for entry in rows {
            if try await storedLongAgo(entry) {
                logger.info("outbox relay: already published", metadata: [LogKey.eventId: "\(entry.eventId)"])
                done.append(entry.seq!)
            } else {
                batch.append(entry)
            }
        }
        guard !batch.isEmpty else {
            try await remove(done)
            return done.count
        }
        let results = await publishPassingCrashPoints(batch.map(\.message))
        var firstError: NATSError?
        var publishedBySubject: [String: Int] = [:]
        for (entry, result) in zip(batch, results) {
            switch result {
            case .success:
                done.append(entry.seq!)
                publishedBySubject[Self.eventName(entry.subject), default: 0] += 1
            case .failure(let error)
            where error.apiErrorCode == JetStreamErrorCode.wrongLastSequence && entry.oncePerSubject:
                // The subject already holds its one event: a copy of this one, published before a
                // crash — or another event, which would leave this one never published.
                do {
                    if try await alreadyPublished(entry) {
                        logger.info("outbox relay: already published", metadata: [LogKey.eventId: "\(entry.eventId)"])
                    } else {
                        try await setAside(entry)
                    }
                    done.append(entry.seq!)
                } catch {
                    if firstError == nil { firstError = error }
                }
            case .failure(let error):
                if firstError == nil { firstError = error }
            }
        }
        for (name, count) in publishedBySubject {
            ServiceMetrics.published(subjectPrefix: name, count: count)
        }
        if !done.isEmpty { try await remove(done) }
        if let firstError, done.isEmpty { throw firstError }
        return done.count
    }

    /// Whether `entry`, an event that may occur several times on its subject (a notification), was
    /// stored by the broker before: only for rows older than `lookAfter`, whose first publish may lie
    /// outside the broker's de-duplication window (a crash after the broker stored it, then a long
    /// downtime). Events that occur once per subject are guarded by their publish expectation instead.
    private func storedLongAgo(_ entry: OutboxEntry) async throws -> Bool {
        guard !entry.oncePerSubject, Duration.seconds(-entry.createdAt.timeIntervalSinceNow) > lookAfter,
            let stream = streamOf(entry.subject)
        else { return false }
        return try await connection.messageIds(stream: stream, subject: entry.subject).contains(entry.eventId)
    }

    /// Whether the event that holds `entry`'s subject is `entry`'s own (its `Nats-Msg-Id`).
    private func alreadyPublished(_ entry: OutboxEntry) async throws(NATSError) -> Bool {
        guard let stream = streamOf(entry.subject) else { return false }
        return try await connection.lastMessageId(stream: stream, subject: entry.subject) == entry.eventId
    }

    /// Another event holds the subject that `entry`'s event occurs on once: it can never be
    /// published there. It goes to the dead letters with the reason (nothing is lost, an operator
    /// sees it in `troupe dlq list`), and leaves the outbox.
    private func setAside(_ entry: OutboxEntry) async throws(NATSError) {
        let stream = streamOf(entry.subject) ?? "?"
        let service = Producer.allCases.first { entry.subject.hasPrefix($0.domain + ".") }?.rawValue ?? "unknown"
        let reason =
            "another event already holds \(entry.subject), where a \(Self.eventName(entry.subject)) occurs once"
        var headers = NATSHeader.withoutExpectations(entry.headerValues)
        headers[DeadLetter.reasonHeader] = reason
        headers[DeadLetter.originalMessageIdHeader] = entry.eventId
        headers[DeadLetter.originalStreamHeader] = stream
        try await connection.publish(
            OutgoingMessage(
                subject: DeadLetter.subject(service: service, originalSubject: entry.subject),
                payload: Array(entry.payload), headers: headers,
                messageId: "deadletter.\(service).\(stream).outbox.\(entry.eventId)"))
        logger.error(
            "outbox relay: an event could not be published where it belongs; dead-lettered",
            metadata: [
                LogKey.eventId: "\(entry.eventId)", LogKey.natsSubject: "\(entry.subject)", "reason": "\(reason)",
            ])
    }

    /// The contract's stream that holds `subject`.
    public static func stream(of subject: String) -> String? {
        StreamDefinition.holding(subject)?.name
    }

    /// `inventory.reserved` of `inventory.reserved.<orderId>`: the metric's bounded label.
    static func eventName(_ subject: String) -> String {
        guard let first = subject.firstIndex(of: "."),
            let second = subject[subject.index(after: first)...].firstIndex(of: ".")
        else { return subject }
        return String(subject[..<second])
    }

    /// Deletes rows the broker has stored; remembers them when the store refuses, to try again.
    private func remove(_ published: [Int64]) async throws {
        do {
            try await store.write { db in try Outbox.remove(published, in: db) }
            let done = Set(published)
            unremoved.rows.withLock { rows in rows.removeAll { done.contains($0) } }
        } catch {
            unremoved.rows.withLock { rows in rows = Array(Set(rows).union(published)).sorted() }
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
