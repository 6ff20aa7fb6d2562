internal import CNATS
import Synchronization

/// Matches asynchronous JetStream acknowledgements to their publishers and bounds how many are in flight.
///
/// nats.c calls `publishAckHandler` on its own thread with the very `natsMsg` that was published, so
/// the message's address is the key. The window keeps the number in flight below nats.c's own
/// `MaxPending`, so `js_PublishMsgAsync` never stalls (blocks) the calling thread.
final class PublishTracker: Sendable {
    /// Where a result goes: a slot of a pipelined batch (no closure is allocated per message).
    struct Completion: Sendable {
        let batch: PublishBatch
        let index: Int

        func callAsFunction(_ result: Result<PublishAck, NATSError>) { batch.record(result, at: index) }
    }

    static let defaultWindow = 4096

    let window: Int
    let permits: AsyncSemaphore
    private let pending = Mutex<[UInt: Completion]>(Dictionary(minimumCapacity: 2 * defaultWindow))

    init(window: Int) {
        self.window = window
        self.permits = AsyncSemaphore(permits: window)
    }

    func register(_ message: OpaquePointer, _ completion: Completion) {
        pending.withLock { $0[UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(message)))] = completion }
    }

    func remove(_ message: OpaquePointer) -> Completion? {
        pending.withLock { $0.removeValue(forKey: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(message)))) }
    }

    var inFlight: Int { pending.withLock { $0.count } }
}

/// nats.c's asynchronous acknowledgement callback; runs on a nats.c thread.
let publishAckHandler: jsPubAckHandler = { _, message, ack, ackError, closure in
    guard let closure, let message else { return }
    let tracker = Unmanaged<PublishTracker>.fromOpaque(closure).takeUnretainedValue()
    let completion = tracker.remove(message)
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
    tracker.permits.release()
    completion?(result)
}
