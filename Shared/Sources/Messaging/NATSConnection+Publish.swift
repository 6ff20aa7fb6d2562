internal import CNATS
import Synchronization

extension NATSConnection {
    /// Publishes one message to JetStream and waits for the broker's acknowledgement.
    ///
    /// Suspends (never blocks a thread) while the acknowledgement is on its way. A duplicate
    /// `messageId` inside the stream's window is acknowledged with `duplicate == true`.
    @discardableResult
    public func publish(_ message: OutgoingMessage, timeout: Duration = .seconds(5)) async throws(NATSError)
        -> PublishAck
    {
        try await publish([message], timeout: timeout)[0].get()
    }

    /// Publishes messages pipelined (without waiting for one acknowledgement before sending the
    /// next) and returns each one's result, in order. Messages on the same subject are stored in
    /// the order given.
    public func publish(_ messages: [OutgoingMessage], timeout: Duration = .seconds(5)) async
        -> [Result<PublishAck, NATSError>]
    {
        guard !messages.isEmpty else { return [] }
        let batch = PublishBatch(count: messages.count)
        for (index, message) in messages.enumerated() {
            await submit(message, timeout: timeout, completion: PublishTracker.Completion(batch: batch, index: index))
        }
        return await batch.results()
    }

    /// Hands one message to JetStream's asynchronous publisher now, from any thread, without
    /// waiting: `completion` runs later, on a nats.c thread, with the broker's answer. Returns false
    /// (and `completion` never runs) when the connection is not up or the window of messages in
    /// flight is full — the caller then publishes it another way (the outbox relay).
    public func publishNow(
        _ message: OutgoingMessage, timeout: Duration = .seconds(5),
        completion: @escaping @Sendable (Result<PublishAck, NATSError>) -> Void
    ) -> Bool {
        guard isConnected else { return false }
        var msg: OpaquePointer?
        var status = message.payload.withUnsafeBufferPointer { payload in
            natsMsg_Create(&msg, message.subject, nil, payload.baseAddress, Int32(payload.count))
        }
        guard status == NATS_OK, let created = msg else { return false }
        status = setHeaders(created, message)
        guard status == NATS_OK, publishTracker.tryAdmit(created, PublishTracker.Completion(completion)) else {
            natsMsg_Destroy(created)
            return false
        }
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = timeout.milliseconds
        status = js_PublishMsgAsync(js, &msg, &options)
        if status == NATS_OK { return true }
        guard publishTracker.withdraw(created) != nil else {
            // nats.c already delivered the acknowledgement: the completion ran.
            return true
        }
        if let msg { natsMsg_Destroy(msg) }
        return false
    }

    /// Publishes a plain NATS message, without JetStream's acknowledgement (diagnostics and tests;
    /// events always go through `publish`).
    public func publishCore(subject: String, reply: String? = nil, payload: [UInt8]) throws(NATSError) {
        let status = payload.withUnsafeBufferPointer { bytes in
            if let reply {
                natsConnection_PublishRequest(nc, subject, reply, bytes.baseAddress, Int32(bytes.count))
            } else {
                natsConnection_Publish(nc, subject, bytes.baseAddress, Int32(bytes.count))
            }
        }
        try check(status, "publishing to \(subject)")
    }

    /// Hands one message to nats.c's asynchronous publisher; `completion` runs exactly once.
    func submit(_ message: OutgoingMessage, timeout: Duration, completion: PublishTracker.Completion) async {
        var msg: OpaquePointer?
        var status = message.payload.withUnsafeBufferPointer { payload in
            natsMsg_Create(&msg, message.subject, nil, payload.baseAddress, Int32(payload.count))
        }
        if status == NATS_OK, let created = msg {
            status = setHeaders(created, message)
            if status == NATS_OK {
                await publishTracker.admit(created, completion)
                var options = jsPubOptions()
                jsPubOptions_Init(&options)
                options.MaxWait = timeout.milliseconds
                status = js_PublishMsgAsync(js, &msg, &options)
                if status == NATS_OK { return }
                if publishTracker.withdraw(created) == nil {
                    // nats.c already delivered the acknowledgement: the completion ran, the place is free.
                    return
                }
            }
        }
        let error = NATSError.from(status: status, context: "publishing to \(message.subject)")
        if let msg { natsMsg_Destroy(msg) }
        completion(.failure(error))
    }

    private func setHeaders(_ msg: OpaquePointer, _ message: OutgoingMessage) -> natsStatus {
        var status = NATS_OK
        for (key, value) in message.headers where status == NATS_OK {
            status = natsMsgHeader_Set(msg, key, value)
        }
        if status == NATS_OK, let id = message.messageId {
            status = natsMsgHeader_Set(msg, NATSHeader.messageId, id)
        }
        if status == NATS_OK, let sequence = message.expectedLastSubjectSequence {
            status = natsMsgHeader_Set(msg, NATSHeader.expectedLastSubjectSequence, String(sequence))
        }
        return status
    }
}

/// Collects the results of a pipelined publish and resumes its caller once all have arrived.
final class PublishBatch: Sendable {
    typealias Results = [Result<PublishAck, NATSError>]

    private struct State {
        var results: [Result<PublishAck, NATSError>?]
        var remaining: Int
        var continuation: CheckedContinuation<Results, Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
    }

    /// Waits for every result; returns at once if they are all in.
    func results() async -> Results {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Results? in
                guard state.remaining == 0 else {
                    state.continuation = continuation
                    return nil
                }
                return state.results.map { $0! }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func record(_ result: Result<PublishAck, NATSError>, at index: Int) {
        let finished = state.withLock { state -> (CheckedContinuation<Results, Never>, Results)? in
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.results.map { $0! })
        }
        if let (continuation, results) = finished { continuation.resume(returning: results) }
    }
}
