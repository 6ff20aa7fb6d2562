import DequeModule
import GRDB
import Synchronization

/// Commits concurrent writes together: under load, the writes that arrive while one transaction
/// runs are all applied in the next one, each in a savepoint of its own (an error in one undoes
/// only its writes and reaches only its caller). Without load a write runs at once, alone: no
/// caller waits for a group to fill.
///
/// A write that finds no committer at work starts one, in a task of its own: it commits groups (up
/// to `maxGroup` writes each) until the queue is empty, then stops; the next write starts another.
public final class GroupCommit: Sendable {
    private struct Pending: Sendable {
        /// Runs the write in its savepoint, inside the group's transaction; returns how to answer its
        /// caller once that transaction has committed.
        let body: @Sendable (StoreSession) throws -> @Sendable () -> Void
        /// Tells the caller the transaction failed.
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: Deque<Pending> = []
        var committing = false
    }

    private let store: ServiceStore
    private let maxGroup: Int
    private let state = Mutex(State())

    public init(store: ServiceStore, maxGroup: Int = 256) {
        self.store = store
        self.maxGroup = maxGroup
    }

    /// Runs `body` in a savepoint of the next group transaction and returns its result once that
    /// transaction has committed (or its error: then none of its writes remain).
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        let promise = Promise<T>()
        let pending = Pending(
            body: { db in
                let result: Result<T, any Error>
                do {
                    var value: T?
                    try db.inEventSavepoint {
                        value = try body(db)
                        return .commit
                    }
                    result = .success(value!)
                } catch {
                    // A failure that ended the transaction fails the whole group.
                    if !db.isInsideTransaction { throw error }
                    result = .failure(error)
                }
                // No caller sees a write that may still roll back: the answer is given once the
                // group's `writeAsync` has returned, that is after its commit. (Not from a GRDB
                // transaction observer: when SQLite rolls a transaction back by itself — a full
                // disk — GRDB is not told, the observer stays, and the next transaction's commit,
                // another writer's, would answer 202 for an order that was never stored.)
                return { promise.fulfill(result) }
            },
            fail: { promise.fulfill(.failure($0)) })
        let becomeCommitter = state.withLock { state -> Bool in
            state.queue.append(pending)
            if state.committing { return false }
            state.committing = true
            return true
        }
        // The committer runs in a task of its own, so that no request waits for others' groups.
        if becomeCommitter { Task { await self.commitGroups() } }
        return try await promise.value().get()
    }

    private func commitGroups() async {
        while true {
            let group = state.withLock { state -> [Pending] in
                let count = min(maxGroup, state.queue.count)
                let group = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                if group.isEmpty { state.committing = false }
                return group
            }
            if group.isEmpty { return }
            do {
                let answers = try await store.write { db in
                    try group.map { pending in try pending.body(db) }
                }
                for answer in answers { answer() }
            } catch {
                // Nothing of the group was committed; those already told (never, here) keep their answer.
                for pending in group { pending.fail(error) }
            }
        }
    }
}

/// A result that one side fulfils once and the other awaits, in either order.
private final class Promise<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<Result<T, any Error>, Never>?
    }

    private let state = Mutex(State())

    /// The first result wins; later ones are ignored.
    func fulfill(_ result: Result<T, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<T, any Error>, Never>? in
            if case .some = state.result { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func value() async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
