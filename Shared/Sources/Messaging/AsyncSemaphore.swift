import DequeModule
import Synchronization

/// A counting semaphore for Swift concurrency: `acquire` suspends, never blocks a thread.
///
/// `release` may be called from any thread, including nats.c's callback threads.
final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state: Mutex<State>

    init(permits: Int) {
        state = Mutex(State(permits: permits))
    }

    func acquire() async {
        let acquired = state.withLock { state -> Bool in
            guard state.permits > 0 else { return false }
            state.permits -= 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let first = state.waiters.popFirst() { return first }
            state.permits += 1
            return nil
        }
        waiter?.resume()
    }
}
