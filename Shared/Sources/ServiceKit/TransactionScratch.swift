/// What a SQLite write transaction collects for its end: the outbox rows it inserted (published
/// right after the commit), the actions to run after the commit, and those to run when it ends
/// either way. One per store, used only on the store's writer queue, which runs one transaction at
/// a time (hence `@unchecked Sendable`).
///
/// An event's savepoint marks where it began (`mark`), and undoing the savepoint forgets what was
/// collected since (`undo`), so that only what was stored is published or acted upon. The outbox
/// hand-off, a transaction observer of the writer connection, takes everything at the commit or
/// the rollback (`OutboxHandoff`); `ServiceStore.write` clears what a transaction that SQLite ended
/// by itself (a full disk) may have left.
///
/// This replaced GRDB's own bookkeeping (observing outbox inserts, one observer per transaction for
/// its after-commit actions), which GRDB pays for on every statement: docs/pipeline.md.
final class TransactionScratch: @unchecked Sendable {
    private(set) var outbox: [OutboxEntry] = []
    private(set) var afterCommit: [@Sendable () -> Void] = []
    private(set) var afterEnd: [@Sendable (_ committed: Bool) -> Void] = []

    struct Mark {
        fileprivate let outbox: Int
        fileprivate let afterCommit: Int
    }

    func stage(_ entry: OutboxEntry) { outbox.append(entry) }
    func add(afterCommit action: @escaping @Sendable () -> Void) { afterCommit.append(action) }
    func add(afterEnd action: @escaping @Sendable (_ committed: Bool) -> Void) { afterEnd.append(action) }

    func mark() -> Mark { Mark(outbox: outbox.count, afterCommit: afterCommit.count) }

    /// Forgets the outbox rows and after-commit actions collected since `mark` (its savepoint was
    /// undone). What runs when the transaction ends stays: the transaction goes on.
    func undo(to mark: Mark) {
        if outbox.count > mark.outbox { outbox.removeSubrange(mark.outbox...) }
        if afterCommit.count > mark.afterCommit { afterCommit.removeSubrange(mark.afterCommit...) }
    }

    /// Takes (and forgets) everything collected.
    func take() -> (
        outbox: [OutboxEntry], afterCommit: [@Sendable () -> Void], afterEnd: [@Sendable (Bool) -> Void]
    ) {
        defer { clear() }
        return (outbox, afterCommit, afterEnd)
    }

    func clear() {
        outbox.removeAll(keepingCapacity: true)
        afterCommit.removeAll(keepingCapacity: true)
        afterEnd.removeAll(keepingCapacity: true)
    }
}
