import DequeModule
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The load generator's HTTP client: a fixed set of keep-alive HTTP/1.1 connections to one server,
/// straight on SwiftNIO. Each connection carries one request at a time; a request waits (in order)
/// for a free connection, and that wait counts in its latency, which runs from its scheduled time.
///
/// Everything of an exchange happens on the connections' event loop, in channel handlers: a request
/// is handed to a free connection with one `execute`, written with one flush, and its answer is
/// passed to a completion closure on the event loop — no task and no continuation per request. The
/// generator shares the machine with the suite it measures, so what it costs is taken from the
/// suite: the version before (one task per request, each exchange a chain of `await`s on an
/// `NIOAsyncChannel`) took 0.29 cores at 3,300 requests a second (docs/overload.md). URLSession,
/// before that, could not send much more than 350 a second.
final class BenchClient: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data
        /// From the request's first byte written to the end of the answer.
        var elapsed: Duration
    }

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    /// Called once per request, on the connection's event loop: keep it short.
    typealias Completion = @Sendable (Result<Response, any Error>) -> Void

    fileprivate struct Job: Sendable {
        let head: HTTPRequestHead
        let body: ByteBuffer
        let done: Completion
    }

    private struct State {
        var queue: Deque<Job> = []
        var idle: [Connection] = []
        var all: [Connection] = []
        /// Requests sent or queued and not yet answered.
        var outstanding = 0
        var closed = false
    }

    private let host: String
    private let port: Int
    private let state = Mutex(State())
    private let group: MultiThreadedEventLoopGroup
    private let connections: Int

    /// `url`: `http://host:port`; the connections open when `run` starts.
    init(url: String, connections: Int) throws {
        guard let parsed = URL(string: url), let host = parsed.host, parsed.scheme == "http" else {
            throw ClientError(description: "\(url) is not an http:// URL")
        }
        self.host = host
        self.port = parsed.port ?? 80
        self.connections = max(1, connections)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Opens the connections, runs `body`, waits until every request it sent has its answer (or
    /// error), then closes them.
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        for _ in 0..<connections { connect(Connection(client: self)) }
        let result = try await body()
        while state.withLock({ $0.outstanding > 0 && !$0.closed }) { try? await Task.sleep(for: .milliseconds(10)) }
        let (queued, all) = state.withLock { state -> ([Job], [Connection]) in
            state.closed = true
            defer { state.queue.removeAll() }
            return (Array(state.queue), state.all)
        }
        for job in queued { job.done(.failure(ClientError(description: "client closed"))) }
        for connection in all { connection.close() }
        return result
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }

    /// POSTs `json` to `path`; `done` gets the response or the error that stopped it.
    func post(_ path: String, json: Data, done: @escaping Completion) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(json.count)")
        let job = Job(head: head, body: ByteBuffer(bytes: json), done: done)
        let handed = state.withLock { state -> (Connection?, closed: Bool) in
            if state.closed { return (nil, true) }
            state.outstanding += 1
            if let connection = state.idle.popLast() { return (connection, false) }
            state.queue.append(job)
            return (nil, false)
        }
        if handed.closed {
            done(.failure(ClientError(description: "client closed")))
        } else if let connection = handed.0 {
            connection.eventLoop?.execute { connection.start(job) }
        }
    }

    /// A request finished on `connection` (answered or failed): the next queued one for it, or it
    /// waits among the idle.
    fileprivate func finished(_ connection: Connection, counted: Bool) -> Job? {
        state.withLock { state in
            if counted { state.outstanding -= 1 }
            if state.closed { return nil }
            if let job = state.queue.popFirst() { return job }
            state.idle.append(connection)
            return nil
        }
    }

    /// A connection that cannot take requests any more (closed) leaves the idle list; `counted`:
    /// the request it carried has had its answer or error.
    fileprivate func unavailable(_ connection: Connection, counted: Bool) {
        state.withLock { state in
            if counted { state.outstanding -= 1 }
            state.idle.removeAll { $0 === connection }
        }
    }

    fileprivate func connect(_ connection: Connection) {
        let registered = state.withLock { state -> Bool in
            if state.closed { return false }
            if !state.all.contains(where: { $0 === connection }) { state.all.append(connection) }
            return true
        }
        guard registered else { return }
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .connect(host: host, port: port)
            .whenFailure { [group] _ in
                // No server: fail the next queued request (the bench counts it) and try again shortly.
                let job = self.state.withLock { state -> Job? in
                    guard !state.closed, let job = state.queue.popFirst() else { return nil }
                    state.outstanding -= 1
                    return job
                }
                job?.done(.failure(ClientError(description: "cannot connect to \(self.host):\(self.port)")))
                group.next().scheduleTask(in: .milliseconds(100)) { self.connect(connection) }
            }
    }
}

/// One keep-alive connection, as the last handler of its channel; all of its state is touched on
/// its event loop only.
private final class Connection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let client: BenchClient
    private var context: ChannelHandlerContext?
    private var current: BenchClient.Job?
    private var started = ContinuousClock.now
    private var response = BenchClient.Response(status: 0, headers: [:], body: Data(), elapsed: .zero)
    private var keepAlive = true
    private(set) var eventLoop: (any EventLoop)?

    init(client: BenchClient) { self.client = client }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        eventLoop = context.eventLoop
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        next(client.finished(self, counted: false))
    }

    fileprivate func start(_ job: BenchClient.Job) {
        guard let context, context.channel.isActive else {
            fail(job, "connection closed before the request was sent")
            return
        }
        current = job
        response = BenchClient.Response(status: 0, headers: [:], body: Data(), elapsed: .zero)
        keepAlive = true
        started = .now
        context.write(wrapOutboundOut(.head(job.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(job.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            response.status = Int(head.status.code)
            for (name, value) in head.headers { response.headers[name.lowercased()] = value }
            keepAlive = head.isKeepAlive
        case .body(var buffer):
            response.body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .end:
            guard let job = current else { return }
            current = nil
            response.elapsed = ContinuousClock.now - started
            job.done(.success(response))
            if keepAlive {
                next(client.finished(self, counted: true))
            } else {
                client.unavailable(self, counted: true)
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.unavailable(self, counted: false)
        if let job = current {
            current = nil
            fail(job, "connection closed before an answer")
        }
        self.context = nil
        // Open a new one, as the server may have closed an idle keep-alive connection.
        context.eventLoop.scheduleTask(in: .milliseconds(10)) { [client] in client.connect(Connection(client: client)) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func close() {
        eventLoop?.execute { self.context?.close(promise: nil) }
    }

    private func next(_ job: BenchClient.Job?) {
        if let job { start(job) }
    }

    private func fail(_ job: BenchClient.Job, _ why: String) {
        job.done(.failure(BenchClient.ClientError(description: why)))
        client.unavailable(self, counted: true)
    }
}
