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
/// URLSession on Linux (libcurl underneath) cost the generator a quarter of a core at 350 orders/s,
/// capped what it could send at about that rate and stalled at 1,750/s: the generator, not the
/// suite, set the limit. This one does the same work for a fraction of it.
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

    private struct Job: Sendable {
        let head: HTTPRequestHead
        let body: ByteBuffer
        let done: CheckedContinuation<Response, any Error>
    }

    private struct State {
        var queue: Deque<Job> = []
        var idle: [CheckedContinuation<Job?, Never>] = []
        var closed = false
    }

    private let host: String
    private let port: Int
    private let state = Mutex(State())
    private let group: MultiThreadedEventLoopGroup
    private let connections: Int

    /// `url`: `http://host:port`; `connections` opened lazily, each on first use.
    init(url: String, connections: Int) throws {
        guard let parsed = URL(string: url), let host = parsed.host, parsed.scheme == "http" else {
            throw ClientError(description: "\(url) is not an http:// URL")
        }
        self.host = host
        self.port = parsed.port ?? 80
        self.connections = max(1, connections)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Runs the connections until `body` returns, then closes them.
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<connections { tasks.addTask { await self.connectionLoop() } }
            defer {
                let waiters = state.withLock { state -> ([CheckedContinuation<Job?, Never>], [Job]) in
                    state.closed = true
                    defer {
                        state.idle.removeAll()
                        state.queue.removeAll()
                    }
                    return (state.idle, Array(state.queue))
                }
                for waiter in waiters.0 { waiter.resume(returning: nil) }
                for job in waiters.1 { job.done.resume(throwing: ClientError(description: "client closed")) }
            }
            return try await body()
        }
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }

    /// POSTs `json` to `path` and returns the response (or the error that stopped it).
    func post(_ path: String, json: Data) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(json.count)")
        let body = ByteBuffer(bytes: json)
        return try await withCheckedThrowingContinuation { continuation in
            let job = Job(head: head, body: body, done: continuation)
            let handedTo = state.withLock { state -> (CheckedContinuation<Job?, Never>?, Bool) in
                if state.closed { return (nil, true) }
                if !state.idle.isEmpty { return (state.idle.removeFirst(), false) }
                state.queue.append(job)
                return (nil, false)
            }
            if handedTo.1 {
                continuation.resume(throwing: ClientError(description: "client closed"))
            } else if let waiter = handedTo.0 {
                waiter.resume(returning: job)
            }
        }
    }

    private func nextJob() async -> Job? {
        await withCheckedContinuation { waiter in
            let ready = state.withLock { state -> (Job?, Bool) in
                if state.closed { return (nil, true) }
                if let job = state.queue.popFirst() { return (job, true) }
                state.idle.append(waiter)
                return (nil, false)
            }
            if ready.1 { waiter.resume(returning: ready.0) }
        }
    }

    /// One connection: takes jobs one after another, reconnecting after an error.
    private func connectionLoop() async {
        while true {
            let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
            do {
                channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                // No server: fail the next job (the bench counts it) and try again shortly.
                guard let job = await nextJob() else { return }
                job.done.resume(throwing: error)
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            let closed: Bool? = try? await channel.executeThenClose { inbound, outbound in
                var responses = inbound.makeAsyncIterator()
                while true {
                    guard let job = await nextJob() else { return true }
                    do {
                        let started = ContinuousClock.now
                        try await outbound.write(.head(job.head))
                        try await outbound.write(.body(.byteBuffer(job.body)))
                        try await outbound.write(.end(nil))
                        var response = Response(status: 0, headers: [:], body: Data(), elapsed: .zero)
                        var keepAlive = true
                        reading: while let part = try await responses.next() {
                            switch part {
                            case .head(let head):
                                response.status = Int(head.status.code)
                                for (name, value) in head.headers { response.headers[name.lowercased()] = value }
                                keepAlive = head.isKeepAlive
                            case .body(var buffer):
                                response.body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                            case .end:
                                break reading
                            }
                        }
                        guard response.status != 0 else {
                            job.done.resume(throwing: ClientError(description: "connection closed before an answer"))
                            return false
                        }
                        response.elapsed = ContinuousClock.now - started
                        job.done.resume(returning: response)
                        if !keepAlive { return false }
                    } catch {
                        job.done.resume(throwing: error)
                        return false
                    }
                }
            }
            if closed == true { return }
        }
    }
}
