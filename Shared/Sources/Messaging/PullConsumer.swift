internal import CNATS
import DequeModule
import Foundation
public import Logging
import Synchronization

/// Settings of the pull loop.
public struct PullOptions: Sendable, Hashable {
    /// Messages asked for in one pull request at most.
    public var batch: Int
    /// Messages held in memory, delivered but not yet handed out, at most: the backpressure bound.
    public var bufferCapacity: Int
    /// How long one pull request waits on the server for messages.
    public var expires: Duration
    /// How long the consumer may make no progress — a batch in its handler, deliveries buffered and
    /// not taken, or no pull request going out — before `maintain` logs a warning saying which.
    public var stallWarning: Duration
    /// How often `maintain` tells the server that what this instance holds — the batch in the
    /// handler and what is buffered behind it — is still being worked on (`+WPI`, which restarts
    /// each message's ack wait), so that a message that waits here is not delivered again
    /// elsewhere meanwhile. Nil: never (`ConsumerService` sets a third of the ack wait).
    public var progressEvery: Duration?
    /// How long a handler may hold one batch with progress still reported: past it, the batch and
    /// what waits behind it are left to the ack wait, so that a handler stuck for good does not
    /// keep its messages from another instance for ever.
    public var progressLimit: Duration
    /// Pull requests in a row that may go unanswered — no delivery and not even the server's `408`
    /// at expiry — before `maintain` binds anew on a fresh subscription. One alone is asked again:
    /// a clustered server drops the requests waiting on a consumer whose leader changes (as it
    /// does while a new replicated consumer settles), and says nothing.
    public var silentRequestsBeforeRebind: Int

    public init(
        batch: Int = 256, bufferCapacity: Int? = nil, expires: Duration = .seconds(5),
        stallWarning: Duration = .seconds(10), progressEvery: Duration? = nil, progressLimit: Duration = .seconds(120),
        silentRequestsBeforeRebind: Int = 3
    ) {
        self.batch = max(1, batch)
        self.bufferCapacity = max(self.batch, bufferCapacity ?? 2 * self.batch)
        self.expires = expires
        self.stallWarning = stallWarning
        self.progressEvery = progressEvery
        self.progressLimit = progressLimit
        self.silentRequestsBeforeRebind = max(1, silentRequestsBeforeRebind)
    }
}

/// A durable pull consumer's message source: keeps pull requests going and buffers what arrives.
///
/// It never calls nats.c's `natsSubscription_Fetch` (whose 3.4.1 version overflows the heap when
/// more than half a batch is left over from an earlier fetch, nats.c issue 749). Instead it sends
/// the JetStream pull requests itself and receives on a plain subscription of its own inbox: every
/// message that arrives, however late, goes into one growable buffer, so there is no fixed-size
/// array to overflow. Credits bound the buffer: a new request asks only for the room left.
///
/// One task reads with `next()` or `nextBatch(max:)`; `maintain()` must run beside it to re-issue
/// lost requests (after a server restart, for example). nats.c delivers on its own thread, which
/// only appends to the buffer and never waits.
public final class PullConsumer: Sendable {
    public let stream: String
    public let durable: String
    let options: PullOptions
    let connection: NATSConnection
    let logger: Logger
    /// The inbox this instance receives its deliveries on (for diagnostics and tests).
    public let inbox: String
    private let nextSubject: String
    private let state: Mutex<State>
    // Written once by `bind`, then only read; nats.c subscriptions are thread-safe.
    nonisolated(unsafe) private var subscription: OpaquePointer?

    private struct State {
        var buffer: Deque<JetStreamMessage> = []
        /// Messages the open request may still bring.
        var outstanding = 0
        var requestOpen = false
        var requestDeadline = ContinuousClock.now
        var retryAfter = ContinuousClock.now
        var waiter: CheckedContinuation<Void, Never>?
        var stopped = false
        /// The server said the consumer is gone (deleted, or its stream): see `isLost`.
        var lost = false
        /// Since when the reader holds a batch it took and has not come back for the next: its
        /// handler is running (for the stall warning of `maintain`).
        var takenSince: ContinuousClock.Instant?
        /// The batch the reader took last (until it comes back for the next), for progress reports.
        var held: [JetStreamMessage] = []
        /// When `maintain` last reported progress (or, before the first, when the consumer was bound).
        var lastProgress = ContinuousClock.now
        /// When the last pull request went out, and when the last delivery arrived.
        var lastRequest = ContinuousClock.now
        var lastDelivery: ContinuousClock.Instant?
        /// Pull requests in a row that went unanswered (reset by any delivery or `404`/`408`).
        var silentRequests = 0
        /// For tests: the next pull request is not sent, as if the server had dropped it.
        var dropNextRequest = false
        /// When `maintain` last warned of a stall (once per `stallWarning` at most).
        var lastStallWarning: ContinuousClock.Instant?
    }

    private init(connection: NATSConnection, stream: String, durable: String, options: PullOptions, logger: Logger) {
        self.connection = connection
        self.stream = stream
        self.durable = durable
        self.options = options
        self.logger = logger
        // Under the connection's own prefix (`_INBOX_<service>` for a service): the only inboxes
        // the server lets this identity receive on.
        self.inbox = "\(connection.configuration.inboxPrefix).\(newInboxToken())"
        self.nextSubject = "$JS.API.CONSUMER.MSG.NEXT.\(stream).\(durable)"
        self.state = Mutex(State())
    }

    /// Subscribes to a fresh inbox for the consumer `durable` on `stream` (which must exist) and
    /// sends the first pull request.
    public static func bind(
        connection: NATSConnection, stream: String, durable: String, options: PullOptions = PullOptions(),
        logger: Logger
    ) throws(NATSError) -> PullConsumer {
        let consumer = PullConsumer(
            connection: connection, stream: stream, durable: durable, options: options, logger: logger)
        let box = Unmanaged.passRetained(consumer).toOpaque()
        var sub: OpaquePointer?
        let status = natsConnection_Subscribe(&sub, connection.nc, consumer.inbox, pullMessageHandler, box)
        guard status == NATS_OK, let sub else {
            Unmanaged<PullConsumer>.fromOpaque(box).release()
            throw NATSError.from(status: status, context: "subscribing consumer \(durable) on \(stream)")
        }
        // The retain taken for nats.c's callbacks is given back once the subscription has delivered its last message.
        natsSubscription_SetOnCompleteCB(sub, pullCompleteHandler, box)
        _ = natsSubscription_SetPendingLimits(sub, -1, -1)
        consumer.subscription = sub
        connection.onReconnect { [weak consumer] in consumer?.requestLost() }
        consumer.pullIfRoom()
        return consumer
    }

    /// The next message; suspends while none is buffered. Nil once `stop()` was called.
    public func next() async -> JetStreamMessage? {
        await nextBatch(max: 1).first
    }

    /// Up to `max` buffered messages, at least one; suspends while none is buffered. Empty once
    /// `stop()` was called or the calling task is cancelled.
    public func nextBatch(max: Int) async -> [JetStreamMessage] {
        state.withLock { state in
            state.takenSince = nil
            state.held = []
        }
        while true {
            if let batch = takeBuffered(max: max) {
                pullIfRoom()
                return batch
            }
            if Task.isCancelled { return [] }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.stopped || !state.buffer.isEmpty || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }

    /// The buffered messages to hand out (empty once stopped), or nil when there are none yet.
    private func takeBuffered(max: Int) -> [JetStreamMessage]? {
        state.withLock { state -> [JetStreamMessage]? in
            if state.stopped { return [] }
            guard !state.buffer.isEmpty else { return nil }
            let count = min(max, state.buffer.count)
            let batch = Array(state.buffer.prefix(count))
            state.buffer.removeFirst(count)
            state.takenSince = ContinuousClock.now
            if options.progressEvery != nil { state.held = batch }
            return batch
        }
    }

    /// Re-issues pull requests that the server lost or refused, until `stop()`. Run it beside the reader.
    ///
    /// It also watches for a stall: a batch held by the reader, deliveries buffered and not taken,
    /// or no pull request sent, for longer than `stallWarning`, is logged as a warning that says
    /// which (at most once per `stallWarning`).
    public func maintain() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (stopped, stall, unanswered, silent, waiting) = state.withLock {
                state -> (Bool, String?, Bool, Int, [JetStreamMessage]) in
                var unanswered = false
                var silent = 0
                if state.requestOpen, now > state.requestDeadline {
                    state.requestOpen = false
                    state.outstanding = 0
                    unanswered = true
                    // Not even one delivery since it went out (a request answered in part, its
                    // `408` late behind a busy reader, is not silence).
                    if state.lastDelivery.map({ $0 < state.lastRequest }) ?? true {
                        state.silentRequests += 1
                        silent = state.silentRequests
                    }
                }
                return (
                    state.stopped, Self.stall(in: &state, at: now, options: options), unanswered, silent,
                    Self.progressDue(in: &state, at: now, options: options)
                )
            }
            if stopped { return }
            for message in waiting { try? message.inProgress() }
            // A request that the server let expire without a word (not even `408`): it reached no
            // consumer. The server answers `409 Consumer Deleted` only to requests open when the
            // consumer goes; one sent a moment later, or after, is dropped in silence — the stream
            // may even exist again — and asking again would go unanswered for ever.
            if unanswered, await consumerIsGone() {
                markLost(code: 404, text: "a pull request went unanswered and the consumer does not exist")
                return
            }
            // Unanswered and nothing delivered, although the consumer exists and the connection is
            // up. Once is asked again: a clustered server drops in silence the requests waiting on
            // a consumer whose leader changes. Several times in a row, the server is answering
            // somewhere else: seen under heavy load, the server counting deliveries to this
            // instance's inbox while none arrived here, for minutes. Binding anew, on a fresh
            // inbox, rules out a subscription lost in the client; in the one occurrence since, the
            // fresh inboxes went unanswered too (docs/pipeline.md, "Open: a consumer on ORDERS…").
            if silent >= options.silentRequestsBeforeRebind, connection.isConnected {
                rebind(
                    because: "\(silent) pull requests in a row went unanswered although the consumer exists; "
                        + "its deliveries do not reach this subscription")
                return
            }
            if silent > 0 {
                logger.info(
                    "a pull request went unanswered; asking again",
                    metadata: [
                        LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)",
                        "nats.unanswered_in_a_row": "\(silent)",
                    ])
            }
            if let stall {
                logger.warning(
                    "consumer stalled: \(stall)",
                    metadata: [LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)"])
            }
            pullIfRoom()
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// The messages to report progress for now: every `progressEvery`, all that this instance
    /// holds (the handler's batch and the buffer), unless the handler has held its batch past
    /// `progressLimit`. A message settled meanwhile is skipped by `inProgress`.
    private static func progressDue(
        in state: inout State, at now: ContinuousClock.Instant, options: PullOptions
    ) -> [JetStreamMessage] {
        guard let every = options.progressEvery, now - state.lastProgress >= every else { return [] }
        state.lastProgress = now
        if let since = state.takenSince, now - since > options.progressLimit { return [] }
        return state.held + state.buffer
    }

    /// What has made no progress for longer than `stallWarning`, when it is time to say so.
    private static func stall(in state: inout State, at now: ContinuousClock.Instant, options: PullOptions) -> String? {
        let stallWarning = options.stallWarning
        if let last = state.lastStallWarning, now - last < stallWarning { return nil }
        let delivery =
            state.lastDelivery.map { "last delivery \((now - $0).components.seconds)s ago" } ?? "nothing delivered yet"
        let figures =
            "\(state.buffer.count) buffered, pull request \(state.requestOpen ? "open for \(state.outstanding) more" : "not open") "
            + "(last sent \((now - state.lastRequest).components.seconds)s ago), \(delivery)"
        var stall: String?
        if let since = state.takenSince, now - since > stallWarning {
            stall = "the handler has held its batch for \((now - since).components.seconds)s; \(figures)"
        } else if !state.buffer.isEmpty, state.takenSince == nil, let last = state.lastDelivery,
            now - last > stallWarning
        {
            stall = "deliveries wait in the buffer and nobody takes them; \(figures)"
        } else if !state.requestOpen, now - state.lastRequest > stallWarning {
            let room = options.bufferCapacity - state.buffer.count
            stall = "no pull request sent (room \(room) of \(options.bufferCapacity)); \(figures)"
        }
        if stall != nil { state.lastStallWarning = now }
        return stall
    }

    /// Stops pulling and unsubscribes, and returns the messages buffered but not handed out (the
    /// caller naks them, so that another instance takes them at once). Messages still on their way
    /// are dropped unacknowledged, and the server delivers them again after the ack wait.
    @discardableResult
    public func stop() -> [JetStreamMessage] {
        let (leftover, waiter, wasStopped) = state.withLock { state in
            let result = (Array(state.buffer), state.waiter, state.stopped)
            state.stopped = true
            state.buffer.removeAll()
            state.held = []
            state.waiter = nil
            return result
        }
        if !wasStopped, let subscription { natsSubscription_Unsubscribe(subscription) }
        waiter?.resume()
        return leftover
    }

    /// Messages buffered right now.
    public var bufferedCount: Int { state.withLock { $0.buffer.count } }

    /// True once this binding cannot go on: the server has said that the durable consumer no longer
    /// exists (a pull request answered `409 Consumer Deleted`, or `503`: nobody answers its pull
    /// requests — the consumer or its stream was deleted), or a pull request went unanswered
    /// although the consumer exists (its deliveries do not reach this subscription). The consumer
    /// then stops as by `stop()`, and its owner binds anew (re-creating the consumer, on a fresh
    /// subscription) instead of asking for ever where nothing comes back.
    public var isLost: Bool { state.withLock { $0.lost } }

    deinit {
        if let subscription { natsSubscription_Destroy(subscription) }
    }

    /// For tests: removes the subscription at the server while this consumer goes on as if it still
    /// had it — the state in which its deliveries and the answers to its pull requests reach nobody
    /// here.
    func unsubscribeBehindItsBack() {
        if let subscription { natsSubscription_Unsubscribe(subscription) }
    }

    /// For tests: the next pull request is not sent, as a clustered server drops the requests
    /// waiting on a consumer whose leader changes.
    func dropNextRequestBehindItsBack() {
        state.withLock { $0.dropNextRequest = true }
    }

    // MARK: - Pull requests

    /// Sends a pull request for the room left in the buffer when none is open.
    private func pullIfRoom() {
        let now = ContinuousClock.now
        let want = state.withLock { state -> Int in
            guard !state.stopped, !state.requestOpen, now >= state.retryAfter else { return 0 }
            let room = options.bufferCapacity - state.buffer.count
            // Ask again once half the buffer is free, so that requests stay few and large.
            guard room >= min(options.batch, (options.bufferCapacity + 1) / 2) else { return 0 }
            let want = min(room, options.batch)
            state.requestOpen = true
            state.outstanding = want
            state.requestDeadline = now + options.expires + .seconds(2)
            state.lastRequest = now
            if state.dropNextRequest {
                state.dropNextRequest = false
                return 0
            }
            return want
        }
        guard want > 0 else { return }
        let request = "{\"batch\":\(want),\"expires\":\(options.expires.nanoseconds)}"
        let status = natsConnection_PublishRequestString(connection.nc, nextSubject, inbox, request)
        if status != NATS_OK {
            state.withLock { state in
                state.requestOpen = false
                state.outstanding = 0
                state.retryAfter = now + .milliseconds(500)
            }
        }
    }

    /// The server will not answer the open request any more (reconnected, or a status said so).
    fileprivate func requestLost(retryAfter delay: Duration = .zero) {
        state.withLock { state in
            state.requestOpen = false
            state.outstanding = 0
            state.retryAfter = ContinuousClock.now + delay
        }
        pullIfRoom()
    }

    /// Called by nats.c, on its delivery thread, for everything that arrives on the inbox.
    fileprivate func receive(_ msg: OpaquePointer) {
        if natsMsg_GetDataLength(msg) == 0, let status = statusCode(of: msg) {
            handleStatus(status, msg)
            natsMsg_Destroy(msg)
            return
        }
        guard let message = JetStreamMessage(taking: msg, connection: connection) else {
            logger.warning(
                "ignoring a message without JetStream metadata on a consumer inbox",
                metadata: [LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)"])
            return
        }
        // Only what the server could have sent: a delivery of this stream's durable. Anything else
        // (a publisher that found the inbox, with an ack subject of its choosing) is dropped
        // unsettled, and never counts against the open pull request.
        guard message.metadata.stream == stream, message.metadata.consumer == durable else {
            logger.warning(
                "ignoring a message on a consumer inbox that its consumer did not deliver",
                metadata: [
                    LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)",
                    "nats.claimed_stream": "\(message.metadata.stream)",
                    "nats.claimed_consumer": "\(message.metadata.consumer)",
                ])
            return
        }
        let (waiter, requestDone, dropped) = state.withLock {
            state -> (CheckedContinuation<Void, Never>?, Bool, Bool) in
            guard !state.stopped else { return (nil, false, true) }
            state.buffer.append(message)
            state.lastDelivery = ContinuousClock.now
            state.silentRequests = 0
            var done = false
            if state.requestOpen {
                state.outstanding -= 1
                if state.outstanding <= 0 {
                    state.requestOpen = false
                    done = true
                }
            }
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, done, false)
        }
        if dropped {
            // Left unsettled: the server delivers it again after the ack wait.
            logger.warning(
                "a delivery arrived after the consumer stopped; it comes back after the ack wait",
                metadata: [LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)"])
            return
        }
        waiter?.resume()
        if requestDone { pullIfRoom() }
    }

    private func handleStatus(_ code: Int, _ msg: OpaquePointer) {
        switch code {
        case 100:
            return  // idle heartbeat
        case 404, 408:
            state.withLock { $0.silentRequests = 0 }
            requestLost()  // no messages / request expired: ask again
        default:
            handleRefusal(code, msg)
        }
    }

    /// A status other than a heartbeat or an ended request: the consumer is gone, or the request
    /// was refused.
    private func handleRefusal(_ code: Int, _ msg: OpaquePointer) {
        var description: UnsafePointer<CChar>?
        _ = natsMsgHeader_Get(msg, "Description", &description)
        let text = description.map { String(cString: $0) } ?? ""
        if code == 503 || (code == 409 && text.lowercased().contains("consumer deleted")) {
            markLost(code: code, text: text)
        } else {
            logger.warning(
                "pull request refused",
                metadata: [
                    LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)", LogKey.natsStatus: "\(code)",
                    "nats.description": "\(text)",
                ])
            requestLost(retryAfter: .seconds(1))
        }
    }
}

extension PullConsumer {
    /// The server has no such consumer (or no such stream) right now. Any other answer — the
    /// consumer exists, the server cannot be asked — is not a loss.
    fileprivate func consumerIsGone() async -> Bool {
        do {
            _ = try await connection.consumerState(stream: stream, durable: durable)
            return false
        } catch {
            return error.isNotFound
        }
    }

    /// Stops as `stop()` does, with `isLost` set, so that the owner binds anew.
    fileprivate func markLost(code: Int, text: String) {
        logger.warning(
            "the consumer is gone from the server; binding anew",
            metadata: [
                LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)", LogKey.natsStatus: "\(code)",
                "nats.description": "\(text)",
            ])
        endBinding()
    }

    /// Gives up this binding although the consumer exists (`isLost` set, so that the owner binds
    /// anew, on a fresh subscription), saying why.
    fileprivate func rebind(because reason: String) {
        logger.warning(
            "binding the consumer anew: \(reason)",
            metadata: [LogKey.natsStream: "\(stream)", LogKey.natsConsumer: "\(durable)", "nats.inbox": "\(inbox)"])
        endBinding()
    }

    private func endBinding() {
        state.withLock { $0.lost = true }
        // What is buffered goes back at once (to this consumer if it still exists after all).
        for message in stop() { try? message.nak() }
    }
}

private func statusCode(of msg: OpaquePointer) -> Int? {
    var value: UnsafePointer<CChar>?
    guard natsMsgHeader_Get(msg, "Status", &value) == NATS_OK, let value else { return nil }
    return Int(String(cString: value).prefix(3))
}

private func newInboxToken() -> String {
    var inbox: UnsafeMutablePointer<CChar>?
    guard natsInbox_Create(&inbox) == NATS_OK, let inbox else {
        return UInt64.random(in: 0...UInt64.max).description
    }
    defer { natsInbox_Destroy(inbox) }
    // natsInbox_Create answers "_INBOX.<nuid>"; keep the unique part.
    return String(String(cString: inbox).dropFirst("_INBOX.".count))
}

private let pullMessageHandler: natsMsgHandler = { _, _, msg, closure in
    guard let msg, let closure else { return }
    Unmanaged<PullConsumer>.fromOpaque(closure).takeUnretainedValue().receive(msg)
}

private let pullCompleteHandler: natsOnCompleteCB = { closure in
    guard let closure else { return }
    Unmanaged<PullConsumer>.fromOpaque(closure).release()
}
