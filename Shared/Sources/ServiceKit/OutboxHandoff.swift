import DequeModule
public import GRDB
import Synchronization

/// Publishes the outbox rows that a transaction commits right after the commit, without reading
/// them back from the store and without waking another task.
///
/// `Outbox.append` stages each row it inserts in the transaction's `TransactionScratch` (an undone
/// event savepoint forgets its rows); GRDB tells this observer when the transaction commits. Then,
/// still on the committing thread and in commit order (which is `seq` order: SQLite has one
/// writer), each row is handed to JetStream's asynchronous publisher (`publishNow`), and the
/// transaction's after-commit actions run. The broker's answers
/// arrive on a nats.c thread and are only recorded: the `OutboxRelay` deletes the published rows
/// in one transaction every few tens of milliseconds.
///
/// Whenever publishing at commit is not possible — the connection is down, the window of
/// publishes in flight is full, a publish failed, or the relay is still catching up with what a
/// crash or an outage left in the store — rows are queued for the relay instead, which publishes
/// them in order and switches publishing at commit back on once it has caught up. So rows go out
/// in commit order whichever way they take.
public final class OutboxHandoff: TransactionObserver, @unchecked Sendable {
    // @unchecked: `scratch` is touched only on the store's writer queue (GRDB runs every write and
    // every observer call there, one at a time); everything else is behind `state`'s lock.
    /// What the current SQLite transaction collected for its end.
    let scratch = TransactionScratch()

    /// Publishes one row now; false when it cannot (the relay must then take it).
    public typealias Publisher =
        @Sendable (OutboxEntry, _ completion: @escaping @Sendable (_ stored: Bool) -> Void) -> Bool

    private struct State {
        var queue: Deque<OutboxEntry> = []
        /// Rows are published at commit (else queued for the relay).
        var atCommit = false
        /// Rows the broker stored, to delete.
        var published: [Int64] = []
        /// A publish at commit failed: the relay must read the store.
        var failed = false
        /// Rows were dropped from a full queue: the relay must read the store.
        var overflowed = false
        var publisher: Publisher?
    }

    private let state = Mutex(State())
    /// Wakes the relay: rows queued, a publish failed, or many rows to delete.
    public let signal = OutboxSignal()

    init() {}

    /// Rows queued beyond this many are dropped from memory (the relay then reads the store): a
    /// relay that is away must not make the queue grow without bound.
    static let capacity = 50_000
    /// Published rows that make the relay delete before its next tick.
    static let deleteBatch = 512

    /// Sets how rows are published at commit; until then (and in tests without NATS) they queue.
    public func setPublisher(_ publisher: @escaping Publisher) {
        state.withLock { $0.publisher = publisher }
    }

    /// Takes up to `limit` queued rows, oldest first; `mustRead` is true when rows were dropped or
    /// a publish failed since the last take, so the caller must read the store to find them.
    func take(limit: Int) -> (entries: [OutboxEntry], mustRead: Bool) {
        state.withLock { state in
            let count = min(limit, state.queue.count)
            let taken = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            defer {
                state.overflowed = false
                state.failed = false
            }
            return (taken, state.overflowed || state.failed)
        }
    }

    /// The relay is about to read the store, which has everything queued: forget the queue and
    /// publish through the relay until it has caught up.
    func clear() {
        state.withLock { state in
            state.queue.removeAll()
            state.overflowed = false
            state.failed = false
            state.atCommit = false
        }
    }

    /// The relay has published everything before the rows still to come: publish at commit from
    /// now on, unless rows arrived meanwhile (then false, and the relay takes them first).
    func resumePublishingAtCommit() -> Bool {
        state.withLock { state in
            guard state.queue.isEmpty, !state.failed, !state.overflowed, state.publisher != nil else { return false }
            state.atCommit = true
            return true
        }
    }

    /// Rows the broker stored since the last call, to delete.
    func takePublished() -> [Int64] {
        state.withLock { state in
            defer { state.published.removeAll(keepingCapacity: true) }
            return state.published
        }
    }

    var isPublishingAtCommit: Bool { state.withLock { $0.atCommit } }

    /// Forgets what an earlier transaction collected (see `ServiceStore.write`). Writer queue only.
    func beginTransaction() { scratch.clear() }

    private func stored(_ seq: Int64) {
        let many = state.withLock { state -> Bool in
            state.published.append(seq)
            return state.published.count == Self.deleteBatch
        }
        if many { signal.notify() }
    }

    private func notStored() {
        state.withLock { state in
            state.failed = true
            state.atCommit = false
        }
        signal.notify()
    }

    // MARK: TransactionObserver

    /// No statement's changes: the scratch has what the transaction wrote to the outbox, and an
    /// observer of changes would make GRDB track every statement and savepoint for it.
    public func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }

    public func databaseDidChange(with event: DatabaseEvent) {}

    public func databaseDidCommit(_ db: Database) {
        let (outbox, afterCommit, afterEnd) = scratch.take()
        if !outbox.isEmpty { committed(outbox) }
        for action in afterCommit { action() }
        for action in afterEnd { action(true) }
    }

    /// Publishes (or queues for the relay) the outbox rows a transaction committed, in commit
    /// order. Called on the committing thread, once the commit is done: by GRDB for SQLite, by
    /// `PostgresStore` for PostgreSQL.
    func committed(_ entries: [OutboxEntry]) {
        let publisher = state.withLock { $0.atCommit ? $0.publisher : nil }
        var next = 0
        if let publisher {
            while next < entries.count {
                let seq = entries[next].seq ?? 0
                let handed = publisher(entries[next]) { [weak self] stored in
                    if stored { self?.stored(seq) } else { self?.notStored() }
                }
                if !handed { break }
                next += 1
            }
            if next == entries.count { return }
        }
        // The relay takes the rest, in order; publishing at commit stops until it has caught up.
        let rest = entries[next...]
        let dropped = state.withLock { state -> Bool in
            state.atCommit = false
            guard state.queue.count + rest.count <= Self.capacity else {
                state.overflowed = true
                return true
            }
            state.queue.append(contentsOf: rest)
            return false
        }
        _ = dropped
        signal.notify()
    }

    public func databaseDidRollback(_ db: Database) {
        for action in scratch.take().afterEnd { action(false) }
    }

    // MARK: Which handoff a connection stages into

    private struct WeakHandoff: @unchecked Sendable {
        // @unchecked: a weak reference to a Sendable class, read and written under the registry's lock.
        weak var handoff: OutboxHandoff?
    }

    private static let registry = Mutex<[ObjectIdentifier: WeakHandoff]>([:])

    /// Makes `db` (a store's writer connection) stage its outbox rows here.
    func attach(to db: Database) {
        db.add(transactionObserver: self, extent: .databaseLifetime)
        Self.registry.withLock { registry in
            registry = registry.filter { $0.value.handoff != nil }
            registry[ObjectIdentifier(db)] = WeakHandoff(handoff: self)
        }
    }

    static func staging(for db: Database) -> OutboxHandoff? {
        registry.withLock { $0[ObjectIdentifier(db)]?.handoff }
    }
}
