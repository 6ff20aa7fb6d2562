import GRDB

extension Database {
    /// Runs `body` in a savepoint of the current transaction: its writes stay when it answers
    /// `.commit`, and are undone when it answers `.rollback` or throws (the error is thrown on) —
    /// and with them what the event collected in `scratch` (outbox rows to publish, after-commit
    /// actions).
    ///
    /// GRDB's `inSavepoint` does the same, but parses its `SAVEPOINT` and `RELEASE` statements
    /// again at every call, and tracks every savepoint for its transaction observers; a batch opens
    /// one savepoint per event. These statements are prepared once per connection and run on
    /// SQLite's own interface (`SQLiteStatements`): no observer of this store watches changes.
    ///
    /// Must be called inside a transaction. If SQLite ended the whole transaction meanwhile (it
    /// rolls back by itself on a full disk, for example), the error is thrown and
    /// `isInsideTransaction` is false.
    func inEventSavepoint(scratch: TransactionScratch?, _ body: () throws -> TransactionCompletion) throws {
        precondition(isInsideTransaction, "inEventSavepoint runs inside a transaction")
        try run("SAVEPOINT troupe_event")
        let mark = scratch?.mark()
        let completion: TransactionCompletion
        do {
            completion = try body()
        } catch {
            if let mark { scratch?.undo(to: mark) }
            if isInsideTransaction { try? undoEventSavepoint() }
            throw error
        }
        switch completion {
        case .commit: try run("RELEASE SAVEPOINT troupe_event")
        case .rollback:
            if let mark { scratch?.undo(to: mark) }
            try undoEventSavepoint()
        }
    }

    private func undoEventSavepoint() throws {
        // Rolling back to a savepoint keeps it open: release it too.
        try run("ROLLBACK TRANSACTION TO SAVEPOINT troupe_event")
        try run("RELEASE SAVEPOINT troupe_event")
    }

    private func run(_ sql: String) throws { try SQLiteStatements.execute(cachedStatement(sql: sql), [], in: self) }
}
