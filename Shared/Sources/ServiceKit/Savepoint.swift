public import GRDB
import Synchronization

extension Database {
    /// Runs `body` in a savepoint of the current transaction: its writes stay when it answers
    /// `.commit`, and are undone when it answers `.rollback` or throws (the error is thrown on).
    ///
    /// GRDB's `inSavepoint` does the same, but parses its `SAVEPOINT` and `RELEASE` statements
    /// again at every call; a batch opens one savepoint per event, and the parses were a visible
    /// share of the store's time. These statements are prepared once per connection. GRDB still
    /// sees each of them (it tracks savepoints by what a statement does, not by who runs it), so
    /// transaction observers — the outbox hand-off among them — learn which writes were undone.
    ///
    /// Must be called inside a transaction. If SQLite ended the whole transaction meanwhile (it
    /// rolls back by itself on a full disk, for example), the error is thrown and
    /// `isInsideTransaction` is false.
    func inEventSavepoint(_ body: () throws -> TransactionCompletion) throws {
        precondition(isInsideTransaction, "inEventSavepoint runs inside a transaction")
        try cachedStatement(sql: "SAVEPOINT troupe_event").execute()
        let actions = CommitActions.count(in: self)
        let completion: TransactionCompletion
        do {
            completion = try body()
        } catch {
            CommitActions.drop(in: self, after: actions)
            if isInsideTransaction { try? undoEventSavepoint() }
            throw error
        }
        switch completion {
        case .commit: try cachedStatement(sql: "RELEASE SAVEPOINT troupe_event").execute()
        case .rollback:
            CommitActions.drop(in: self, after: actions)
            try undoEventSavepoint()
        }
    }

    /// Runs `action` once the current transaction has committed — never if it rolls back, nor if
    /// the event savepoint (`inEventSavepoint`) it was added in is undone. For effects outside the
    /// store that must follow only what was stored, such as a metric of what was decided.
    public func afterCommit(_ action: @escaping @Sendable () -> Void) {
        guard CommitActions.add(action, in: self) else { return }
        afterNextTransaction(
            onCommit: { db in for action in CommitActions.take(in: db) { action() } },
            onRollback: { db in _ = CommitActions.take(in: db) })
    }

    private func undoEventSavepoint() throws {
        // Rolling back to a savepoint keeps it open: release it too.
        try cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT troupe_event").execute()
        try cachedStatement(sql: "RELEASE SAVEPOINT troupe_event").execute()
    }
}

/// The actions of `Database.afterCommit`, per connection, in the order they were added.
enum CommitActions {
    private static let pending = Mutex<[ObjectIdentifier: [@Sendable () -> Void]]>([:])

    /// Adds `action`; true when it is the transaction's first (the caller then asks to be told of
    /// its end).
    static func add(_ action: @escaping @Sendable () -> Void, in db: Database) -> Bool {
        pending.withLock { table in
            let first = table[ObjectIdentifier(db)] == nil
            table[ObjectIdentifier(db), default: []].append(action)
            return first
        }
    }

    static func count(in db: Database) -> Int { pending.withLock { $0[ObjectIdentifier(db)]?.count ?? 0 } }

    /// Forgets the actions added after the first `count`.
    static func drop(in db: Database, after count: Int) {
        pending.withLock { table in
            guard var actions = table[ObjectIdentifier(db)], actions.count > count else { return }
            actions.removeLast(actions.count - count)
            table[ObjectIdentifier(db)] = actions
        }
    }

    /// Takes (and forgets) every action of the connection. Also called when a transaction begins:
    /// SQLite may have rolled the last one back by itself (a full disk) without GRDB telling anyone.
    @discardableResult
    static func take(in db: Database) -> [@Sendable () -> Void] {
        pending.withLock { $0.removeValue(forKey: ObjectIdentifier(db)) } ?? []
    }
}
