import Synchronization

/// Where an event that arrived before its prerequisite waits, in the process, for that
/// prerequisite to be applied by another of the service's consumers.
///
/// Events on different streams arrive in any order: the order service can be delivered
/// `shipping.scheduled` before `payments.authorized` for the same order, because each stream has
/// its own consumer and the two batches race for the store. The event's handler says `notYet`;
/// without this room the message goes back to the broker (`nak` with 20 ms) and comes again a
/// broker round trip later. At 500 orders/s that was about 1% of the sagas, each 20–60 ms later
/// to its confirmation. With it, the consumer keeps the message for at
/// most the first retry's delay and applies it again as soon as a commit in this service applies
/// any event of the same order (`arrived`), without the broker (docs/pipeline.md, "Done: early events
/// wait in the process").
///
/// Keys are order ids: every prerequisite in the saga is an earlier event of the same order.
/// Arrivals are numbered, so that a waiter that registers after its prerequisite committed (the
/// commit raced the registration) still sees it (`mark` before the batch, `wait(for:after:)`).
public final class WaitingRoom: Sendable {
    private struct State {
        var sequence: UInt64 = 0
        /// The arrival number of each key's last arrival (the newest `remembered` keys at least).
        var arrivals: [String: UInt64] = [:]
        var waiters: [String: [Waiter]] = [:]
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private let state = Mutex(State())
    private let waiterIDs = Atomic<UInt64>(0)
    /// Arrivals remembered for late waiters, at least (the oldest are forgotten first). A waiter
    /// registers a batch's duration after its mark, a few milliseconds, while the service's other
    /// consumers commit at most a few batches of 64 events: a thousand covers it many times over,
    /// and costs about 100 KiB.
    static let remembered = 1_024

    public init() {}

    /// The current arrival number: what arrives after it counts for a `wait` given it.
    public func mark() -> UInt64 {
        state.withLock { $0.sequence }
    }

    /// A commit applied events of `keys`: wakes the waiters for them.
    public func arrived(_ keys: some Sequence<String>) {
        let woken = state.withLock { state -> [Waiter] in
            var woken: [Waiter] = []
            for key in keys {
                state.sequence &+= 1  // one number per key: the newest `remembered` are kept
                state.arrivals[key] = state.sequence
                if let waiting = state.waiters.removeValue(forKey: key) { woken += waiting }
            }
            if state.arrivals.count > 2 * Self.remembered {
                let oldest = state.sequence &- UInt64(Self.remembered)
                state.arrivals = state.arrivals.filter { $0.value > oldest }
            }
            return woken
        }
        for waiter in woken { waiter.continuation.resume(returning: true) }
    }

    /// Waits until an event of `key` is applied after arrival number `after` (true), at most
    /// `timeout` (false). Returns at once when one was applied since.
    public func wait(for key: String, after: UInt64, timeout: Duration) async -> Bool {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        return await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if let arrived = state.arrivals[key], arrived > after { return true }
                state.waiters[key, default: []].append(Waiter(id: id, continuation: continuation))
                return false
            }
            if now {
                continuation.resume(returning: true)
                return
            }
            // Registered before the timer starts: whichever comes first resumes it, once.
            Task {
                try? await Task.sleep(for: timeout)
                self.giveUp(id, key)
            }
        }
    }

    /// Removes waiter `id` and resumes it with false, unless an arrival resumed it already.
    private func giveUp(_ id: UInt64, _ key: String) {
        let waiter = state.withLock { state -> Waiter? in
            guard var waiting = state.waiters[key], let index = waiting.firstIndex(where: { $0.id == id }) else {
                return nil
            }
            let waiter = waiting.remove(at: index)
            state.waiters[key] = waiting.isEmpty ? nil : waiting
            return waiter
        }
        waiter?.continuation.resume(returning: false)
    }

    /// Arrivals remembered now (for tests).
    var rememberedCount: Int { state.withLock { $0.arrivals.count } }

    /// Waiters registered now (for tests).
    var waiting: Int { state.withLock { $0.waiters.values.reduce(0) { $0 + $1.count } } }
}
