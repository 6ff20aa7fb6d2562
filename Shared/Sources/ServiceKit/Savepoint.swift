public import GRDB

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
        let completion: TransactionCompletion
        do {
            completion = try body()
        } catch {
            if isInsideTransaction { try? undoEventSavepoint() }
            throw error
        }
        switch completion {
        case .commit: try cachedStatement(sql: "RELEASE SAVEPOINT troupe_event").execute()
        case .rollback: try undoEventSavepoint()
        }
    }

    private func undoEventSavepoint() throws {
        // Rolling back to a savepoint keeps it open: release it too.
        try cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT troupe_event").execute()
        try cachedStatement(sql: "RELEASE SAVEPOINT troupe_event").execute()
    }
}
