internal import CNATS
import Foundation
public import Logging
import Synchronization

/// The state of a connection, as readiness probes report it.
public enum ConnectionState: String, Sendable {
    case connecting, connected, reconnecting, disconnected, closed
}

/// A connection to NATS with its JetStream context: the one owner of nats.c handles.
///
/// The client reconnects on its own, forever, to any of the configured servers; publishes and
/// acknowledgements made while disconnected are buffered and sent on reconnect. Consumers re-issue
/// their pull requests after a reconnect (see `onReconnect(_:)`).
///
/// Thread-safety: every method may be called from any task. nats.c handles are freed in `deinit`,
/// once nothing can use them any more; `close()` only closes the connection.
public final class NATSConnection: Sendable {
    // Safe to share: nats.c connections and JetStream contexts are thread-safe, and the pointers
    // are written once in `init` and freed only in `deinit`.
    nonisolated(unsafe) let nc: OpaquePointer
    nonisolated(unsafe) let js: OpaquePointer
    nonisolated(unsafe) private let options: OpaquePointer
    let configuration: NATSConfiguration
    let logger: Logger
    let events: ConnectionEvents
    let publishTracker: PublishTracker

    private init(
        nc: OpaquePointer, js: OpaquePointer, options: OpaquePointer, configuration: NATSConfiguration,
        logger: Logger, events: ConnectionEvents, publishTracker: PublishTracker
    ) {
        self.nc = nc
        self.js = js
        self.options = options
        self.configuration = configuration
        self.logger = logger
        self.events = events
        self.publishTracker = publishTracker
    }

    deinit {
        jsCtx_Destroy(js)
        natsConnection_Destroy(nc)
        natsOptions_Destroy(options)
    }

    /// Connects to NATS. With `waitForServer` (the default), returns at once even when no server is
    /// reachable, and connects in the background; otherwise throws when the first attempt fails.
    public static func connect(_ configuration: NATSConfiguration, logger: Logger) async throws(NATSError)
        -> NATSConnection
    {
        guard !configuration.urls.isEmpty else {
            throw NATSError(code: .invalidConfiguration, message: "no NATS server URL given")
        }
        let events = ConnectionEvents(logger: logger)
        let tracker = PublishTracker(window: PublishTracker.defaultWindow)
        return try await BlockingCalls.run { () throws(NATSError) -> NATSConnection in
            var options: OpaquePointer?
            try check(natsOptions_Create(&options), "natsOptions_Create")
            guard let options else { throw NATSError(code: .status, message: "natsOptions_Create returned nothing") }
            var nc: OpaquePointer?
            var js: OpaquePointer?
            do throws(NATSError) {
                try configure(options, configuration, events)
                let status = natsConnection_Connect(&nc, options)
                if status == NATS_NOT_YET_CONNECTED, configuration.waitForServer {
                    logger.warning(
                        "NATS not reachable yet; connecting in the background",
                        metadata: ["nats.urls": "\(configuration.urls.joined(separator: ","))"])
                } else {
                    try check(status, "connecting to \(configuration.urls.joined(separator: ","))")
                }
                guard let nc else { throw NATSError(code: .status, message: "natsConnection_Connect returned nothing") }
                var jsOptions = jsOptions()
                try check(jsOptions_Init(&jsOptions), "jsOptions_Init")
                jsOptions.Wait = configuration.apiTimeout.milliseconds
                jsOptions.PublishAsync.MaxPending = Int64(tracker.window + 64)
                jsOptions.PublishAsync.AckHandler = publishAckHandler
                jsOptions.PublishAsync.AckHandlerClosure = Unmanaged.passRetained(tracker).toOpaque()
                try check(natsConnection_JetStream(&js, nc, &jsOptions), "creating the JetStream context")
                guard let js else {
                    throw NATSError(code: .status, message: "natsConnection_JetStream returned nothing")
                }
                return NATSConnection(
                    nc: nc, js: js, options: options, configuration: configuration, logger: logger,
                    events: events, publishTracker: tracker)
            } catch {
                if let nc { natsConnection_Destroy(nc) }
                natsOptions_Destroy(options)
                throw error
            }
        }
    }

    private static func configure(
        _ options: OpaquePointer, _ configuration: NATSConfiguration, _ events: ConnectionEvents
    ) throws(NATSError) {
        try withCStrings(configuration.urls) { (servers, count) throws(NATSError) in
            try check(natsOptions_SetServers(options, servers, count), "setting the NATS server URLs")
        }
        try check(natsOptions_SetName(options, configuration.name), "setting the connection name")
        try check(
            natsOptions_SetCustomInboxPrefix(options, configuration.inboxPrefix),
            "setting the inbox prefix \(configuration.inboxPrefix)")
        if let credentials = configuration.credentials {
            try check(
                natsOptions_SetUserInfo(options, credentials.user, credentials.password), "setting NATS credentials")
        }
        if let ca = configuration.tlsCAFile {
            try check(natsOptions_SetSecure(options, true), "enabling TLS")
            try check(natsOptions_LoadCATrustedCertificates(options, ca), "loading the NATS CA file \(ca)")
        }
        try check(natsOptions_SetTimeout(options, configuration.connectTimeout.milliseconds), "setting the timeout")
        try check(natsOptions_SetMaxReconnect(options, -1), "setting reconnection")
        try check(
            natsOptions_SetReconnectWait(options, configuration.reconnectWait.milliseconds), "setting reconnect wait")
        try check(
            natsOptions_SetReconnectBufSize(options, Int32(configuration.reconnectBufferBytes)),
            "setting the reconnect buffer")
        try check(natsOptions_SetPingInterval(options, 5_000), "setting the ping interval")
        // Each publish and acknowledgement written by the thread that makes it, instead of
        // waking nats.c's flusher, which waits 1 ms for more before it writes: a millisecond less
        // at every step of a saga, for the same CPU (docs/pipeline.md, "Done: sending at once").
        try check(natsOptions_SetSendAsap(options, true), "setting immediate sends")
        try check(natsOptions_SetMaxPingsOut(options, 3), "setting the pings")
        let closure = Unmanaged.passRetained(events).toOpaque()
        try check(natsOptions_SetDisconnectedCB(options, disconnectedHandler, closure), "setting callbacks")
        try check(natsOptions_SetReconnectedCB(options, reconnectedHandler, closure), "setting callbacks")
        try check(natsOptions_SetClosedCB(options, closedHandler, closure), "setting callbacks")
        try check(natsOptions_SetErrorHandler(options, asyncErrorHandler, closure), "setting callbacks")
        if configuration.waitForServer {
            try check(
                natsOptions_SetRetryOnFailedConnect(options, true, reconnectedHandler, closure),
                "setting retry on failed connect")
        }
    }

    /// The connection's current state; `connected` is what readiness requires.
    public var state: ConnectionState {
        switch natsConnection_Status(nc) {
        case NATS_CONN_STATUS_CONNECTED: .connected
        case NATS_CONN_STATUS_CONNECTING: .connecting
        case NATS_CONN_STATUS_RECONNECTING: .reconnecting
        case NATS_CONN_STATUS_CLOSED: .closed
        default: .disconnected
        }
    }

    /// Whether the connection is up right now.
    public var isConnected: Bool { state == .connected }

    /// Registers `handler` to run each time the connection is (re-)established.
    ///
    /// It runs on a nats.c thread: it must be quick and must not block.
    public func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        events.addReconnectHandler(handler)
    }

    /// Waits until the connection is up, or throws `timeout`.
    public func waitUntilConnected(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while state != .connected {
            if state == .closed { throw NATSError(code: .connectionClosed, message: "the NATS connection is closed") }
            if ContinuousClock.now >= deadline {
                throw NATSError(code: .timeout, message: "NATS not connected after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends everything buffered and waits for the server to confirm it has processed it.
    public func flush(timeout: Duration = .seconds(5)) async throws(NATSError) {
        try await BlockingCalls.run { () throws(NATSError) in
            let nc = self.nc
            try check(natsConnection_FlushTimeout(nc, timeout.milliseconds), "flushing the NATS connection")
        }
    }

    /// Flushes what is buffered (best effort) and closes the connection. Idempotent.
    public func close() async {
        await BlockingCalls.runIgnoringErrors {
            let nc = self.nc
            if natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED {
                _ = natsConnection_FlushTimeout(nc, 2_000)
            }
            natsConnection_Close(nc)
        }
    }
}

/// Receives connection events from nats.c threads and fans them out to observers.
final class ConnectionEvents: Sendable {
    let logger: Logger
    private let reconnectHandlers = Mutex<[@Sendable () -> Void]>([])

    init(logger: Logger) { self.logger = logger }

    func addReconnectHandler(_ handler: @escaping @Sendable () -> Void) {
        reconnectHandlers.withLock { $0.append(handler) }
    }

    func reconnected() {
        logger.info("NATS connected")
        for handler in reconnectHandlers.withLock({ $0 }) { handler() }
    }
}

private func events(_ closure: UnsafeMutableRawPointer?) -> ConnectionEvents? {
    closure.map { Unmanaged<ConnectionEvents>.fromOpaque($0).takeUnretainedValue() }
}

private let disconnectedHandler: natsConnectionHandler = { nc, closure in
    // nats.c also reports the disconnection that closing causes; that one is no news.
    guard let nc, !natsConnection_IsClosed(nc) else { return }
    events(closure)?.logger.warning("NATS disconnected; reconnecting")
}

private let reconnectedHandler: natsConnectionHandler = { _, closure in
    events(closure)?.reconnected()
}

private let closedHandler: natsConnectionHandler = { _, closure in
    events(closure)?.logger.info("NATS connection closed")
}

private let asyncErrorHandler: natsErrHandler = { _, sub, status, closure in
    var subject = ""
    if let sub, let cSubject = natsSubscription_GetSubject(sub) { subject = String(cString: cSubject) }
    events(closure)?.logger.error(
        "NATS asynchronous error",
        metadata: [
            LogKey.natsStatus: "\(String(cString: natsStatus_GetText(status)))", LogKey.natsSubject: "\(subject)",
        ])
}

extension BlockingCalls {
    /// Runs a blocking call whose failure the caller has nothing to do about.
    static func runIgnoringErrors(_ body: @escaping @Sendable () -> Void) async {
        _ = try? await run { () throws(NATSError) in body() }
    }
}

/// Calls `body` with a C array of C strings that lives for the duration of the call.
func withCStrings<R>(
    _ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, Int32) throws(NATSError) -> R
) throws(NATSError) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers = duplicates.map { UnsafePointer<CChar>($0) }
    return try pointers.withUnsafeMutableBufferPointer { (buffer) throws(NATSError) -> R in
        try body(buffer.baseAddress!, Int32(buffer.count))
    }
}
