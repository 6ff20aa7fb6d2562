import DequeModule
public import GRDB
import Synchronization

/// Hands the outbox rows that a transaction commits straight to the relay, so that the relay
/// publishes them right after the commit without reading them back from the store.
///
/// `Outbox.append` stages each row it inserts; GRDB tells this observer which outbox inserts
/// survive (it drops those of rolled-back savepoints) and when the transaction commits. Only then
/// are the surviving rows queued, in commit order, which is `seq` order: SQLite has one writer.
/// What a crash or a NATS outage leaves in the store is the relay's to find by reading it.
public final class OutboxHandoff: TransactionObserver, @unchecked Sendable {
    // @unchecked: `staged` and `kept` are touched only on the store's writer queue (GRDB runs every
    // write and every observer call there, one at a time); `queue` is behind its own lock.
    private var staged: [Int64: OutboxEntry] = [:]
    private var kept: [Int64] = []
    private let queue = Mutex<Deque<OutboxEntry>>([])
    /// Wakes the relay after a commit that queued rows.
    public let signal = OutboxSignal()

    init() {}

    /// Rows queued beyond this many are dropped from memory (the relay then reads the store): a
    /// relay that is away must not make the queue grow without bound.
    static let capacity = 50_000
    private let overflowed = Atomic<Bool>(false)

    /// Takes up to `limit` committed rows, oldest first; `overflowed` is true when rows were
    /// dropped since the last take, so the caller must read the store to find them.
    func take(limit: Int) -> (entries: [OutboxEntry], overflowed: Bool) {
        let entries = queue.withLock { queue -> [OutboxEntry] in
            let count = min(limit, queue.count)
            let taken = Array(queue.prefix(count))
            queue.removeFirst(count)
            return taken
        }
        return (entries, overflowed.exchange(false, ordering: .acquiringAndReleasing))
    }

    /// Forgets what is queued: the relay is about to read the store, which has all of it.
    func clear() {
        queue.withLock { $0.removeAll() }
        overflowed.store(false, ordering: .releasing)
    }

    var queuedCount: Int { queue.withLock { $0.count } }

    func stage(_ entry: OutboxEntry) {
        guard let seq = entry.seq else { return }
        staged[seq] = entry
    }

    // MARK: TransactionObserver

    public func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        if case .insert(let table) = eventKind { return table == OutboxEntry.databaseTableName }
        return false
    }

    public func databaseDidChange(with event: DatabaseEvent) {
        if event.kind == .insert { kept.append(event.rowID) }
    }

    public func databaseDidCommit(_ db: Database) {
        defer {
            staged.removeAll(keepingCapacity: true)
            kept.removeAll(keepingCapacity: true)
        }
        guard !kept.isEmpty else { return }
        let entries = kept.compactMap { staged[$0] }
        let dropped = queue.withLock { queue -> Bool in
            guard queue.count + entries.count <= Self.capacity else { return true }
            queue.append(contentsOf: entries)
            return false
        }
        if dropped { overflowed.store(true, ordering: .releasing) }
        signal.notify()
    }

    public func databaseDidRollback(_ db: Database) {
        staged.removeAll(keepingCapacity: true)
        kept.removeAll(keepingCapacity: true)
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
