internal import CNATS
import DequeModule
import Synchronization

/// Matches asynchronous JetStream acknowledgements to their publishers and bounds how many are in flight.
///
/// nats.c calls `publishAckHandler` on its own thread with the very `natsMsg` that was published, so
/// the message's address is the key. The window keeps the number in flight below nats.c's own
/// `MaxPending`, so `js_PublishMsgAsync` never stalls (blocks) the calling thread.
final class PublishTracker: Sendable {
    /// Where a result goes: a slot of a pipelined batch (no closure is allocated per message), or
    /// a callback (`publishNow`).
    struct Completion: Sendable {
        private enum Target: Sendable {
            case slot(PublishBatch, Int)
            case callback(@Sendable (Result<PublishAck, NATSError>) -> Void)
        }

        private let target: Target

        init(batch: PublishBatch, index: Int) { target = .slot(batch, index) }
        init(_ callback: @escaping @Sendable (Result<PublishAck, NATSError>) -> Void) { target = .callback(callback) }

        func callAsFunction(_ result: Result<PublishAck, NATSError>) {
            switch target {
            case .slot(let batch, let index): batch.record(result, at: index)
            case .callback(let callback): callback(result)
            }
        }
    }

    static let defaultWindow = 4096

    let window: Int

    /// One lock for both the window and the pending map: a publish and an acknowledgement each
    /// take it once.
    private struct State {
        var pending: [UInt: Completion]
        var free: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state: Mutex<State>

    init(window: Int) {
        self.window = window
        self.state = Mutex(State(pending: Dictionary(minimumCapacity: 2 * window), free: window))
    }

    private static func key(_ message: OpaquePointer) -> UInt {
        UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(message)))
    }

    /// Takes a place in the window (suspending while it is full) and registers the message.
    func admit(_ message: OpaquePointer, _ completion: Completion) async {
        let key = Self.key(message)
        let admitted = state.withLock { state -> Bool in
            guard state.free > 0 else { return false }
            state.free -= 1
            state.pending[key] = completion
            return true
        }
        if admitted { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    state.pending[key] = completion
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
        // Woken by `complete`, which handed its place over to this publisher.
        state.withLock { $0.pending[key] = completion }
    }

    /// Takes a place in the window if one is free, without waiting; false when the window is full.
    func tryAdmit(_ message: OpaquePointer, _ completion: Completion) -> Bool {
        let key = Self.key(message)
        return state.withLock { state -> Bool in
            guard state.free > 0, state.waiters.isEmpty else { return false }
            state.free -= 1
            state.pending[key] = completion
            return true
        }
    }

    /// Removes a message that nats.c did not take, and gives its place back.
    func withdraw(_ message: OpaquePointer) -> Completion? {
        let key = Self.key(message)
        let (completion, waiter) = state.withLock { state -> (Completion?, CheckedContinuation<Void, Never>?) in
            guard let completion = state.pending.removeValue(forKey: key) else { return (nil, nil) }
            return (completion, Self.release(&state))
        }
        waiter?.resume()
        return completion
    }

    /// The acknowledgement of `message` arrived: its completion, and its place is free again.
    func complete(_ message: OpaquePointer) -> Completion? {
        withdraw(message)
    }

    private static func release(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        if let waiter = state.waiters.popFirst() { return waiter }
        state.free += 1
        return nil
    }

    var inFlight: Int { state.withLock { $0.pending.count } }
}

/// nats.c's asynchronous acknowledgement callback; runs on a nats.c thread.
let publishAckHandler: jsPubAckHandler = { _, message, ack, ackError, closure in
    guard let closure, let message else { return }
    let tracker = Unmanaged<PublishTracker>.fromOpaque(closure).takeUnretainedValue()
    let completion = tracker.complete(message)
    let result: Result<PublishAck, NATSError>
    if let ack {
        result = .success(
            PublishAck(
                stream: ack.pointee.Stream.map { String(cString: $0) } ?? "",
                sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate))
    } else if let ackError {
        let status = ackError.pointee.Err
        let text = ackError.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(status))
        let api = Int(ackError.pointee.ErrCode.rawValue)
        let code: NATSError.Code =
            switch status {
            case NATS_TIMEOUT: .timeout
            case NATS_NO_RESPONDERS: .noResponders
            default: api != 0 ? .jetStream : .status
            }
        result = .failure(
            NATSError(
                code: code, message: "publish not acknowledged: \(text)", status: Int32(status.rawValue),
                apiErrorCode: api == 0 ? nil : api))
    } else {
        result = .failure(NATSError(code: .status, message: "publish acknowledgement without a result"))
    }
    natsMsg_Destroy(message)
    completion?(result)
}
