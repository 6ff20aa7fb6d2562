public import Foundation
import Logging
public import Messaging

/// A real `nats-server -js` on a free loopback port, with its store in a temporary folder.
///
/// Always stop it: `withNATSServer` does, also when the body throws. `stop()` sends SIGTERM to the
/// process by its PID, waits, then SIGKILL; `restart()` keeps the port and the store (JetStream
/// state survives, like a real restart), and `kill()` is the hard crash. The temporary folder is
/// removed on `stop()`.
public final class NATSServer: @unchecked Sendable {
    // @unchecked: the mutable process handle is only touched by the owning test, one call at a time.
    public let port: Int
    public let directory: URL
    public var url: String { "nats://127.0.0.1:\(port)" }
    private var process: Process?
    private let logFile: URL

    /// Starts a server and waits until it accepts connections.
    public init(extraArguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-nats-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("nats-server.log")
        port = try FreePort.find()
        self.extraArguments = extraArguments
        try launch()
    }

    private let extraArguments: [String]

    /// The PID of the running server, if any.
    public var pid: Int32? { process?.processIdentifier }

    private func launch() throws {
        let process = Process()
        process.executableURL = try Executables.find("nats-server")
        process.arguments =
            [
                "-js", "-a", "127.0.0.1", "-p", "\(port)", "-sd", directory.appendingPathComponent("store").path,
                // Monitoring on a port of the server's choosing, on loopback (for diagnostics).
                "-l", logFile.path, "--http_port", "-1",
            ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntilListening()
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if FreePort.isListening(port) { return }
            guard process?.isRunning == true else {
                throw LocalProcessError("nats-server exited at start; log: \(log())")
            }
            usleep(20_000)
        }
        throw LocalProcessError("nats-server did not listen on \(port) within 10 s; log: \(log())")
    }

    /// The server's monitoring endpoint (`--http_port -1`: the port it chose, read from its log),
    /// for diagnostics.
    public var monitorURL: String? {
        guard let line = log().split(separator: "\n").first(where: { $0.contains("Starting http monitor on") }),
            let address = line.split(separator: " ").last
        else { return nil }
        let port = address.split(separator: ":").last.map(String.init) ?? ""
        return "http://127.0.0.1:\(port)"
    }

    /// The server's log, for failure messages.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Stops the server gracefully and starts it again on the same port with the same store.
    public func restart() throws {
        terminate(signal: SIGTERM)
        try launch()
    }

    /// Kills the server hard (SIGKILL), as a crash would; `start()` brings it back.
    public func kill() {
        terminate(signal: SIGKILL)
    }

    /// Starts the server again after `kill()` or `terminate`, on the same port with the same store.
    public func start() throws {
        guard process?.isRunning != true else { return }
        try launch()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its folder. Idempotent.
    public func stop() {
        terminate(signal: SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    private func terminate(signal: Int32) {
        if let process { ProcessTable.end(process, signal: signal, grace: 5) }
        process = nil
    }

    deinit { stop() }

    /// A connection to this server for tests.
    ///
    /// With `retryInBackground`, it returns at once even if the server is down, and connects when it comes.
    public func connect(
        name: String = "test", waitForServer: Bool = true, retryInBackground: Bool = false,
        inboxPrefix: String = "_INBOX"
    ) async throws -> NATSConnection {
        var logger = Logger(label: "test.nats")
        logger.logLevel = .error
        let connection = try await NATSConnection.connect(
            NATSConfiguration(
                urls: [url], name: name, reconnectWait: .milliseconds(100), waitForServer: retryInBackground,
                inboxPrefix: inboxPrefix),
            logger: logger)
        if waitForServer && !retryInBackground { try await connection.waitUntilConnected(timeout: .seconds(10)) }
        return connection
    }
}

/// Runs `body` with a fresh server and always stops it afterwards.
public func withNATSServer<R>(_ body: (NATSServer) async throws -> R) async throws -> R {
    let server = try await NATSServer.start()
    do {
        let result = try await body(server)
        await server.stopAsync()
        return result
    } catch {
        await server.stopAsync()
        throw error
    }
}

extension NATSServer {
    /// Starts a server without holding a Swift concurrency thread while it comes up.
    public static func start(extraArguments: [String] = []) async throws -> NATSServer {
        try await Blocking.run { try NATSServer(extraArguments: extraArguments) }
    }

    /// `size` servers in one cluster, each with JetStream and a store of its own, routed to one
    /// another on free loopback ports: what streams with replicas need. Each node is a
    /// `NATSServer` of its own (`kill()`, `start()` and `stop()` act on that node alone); if one
    /// cannot start, those already started are stopped.
    public static func cluster(size: Int = 3, name: String = "troupe-test") async throws -> [NATSServer] {
        try await Blocking.run {
            let routes = try (0..<size).map { _ in try FreePort.find() }
            var nodes: [NATSServer] = []
            do {
                for index in 0..<size {
                    let others = routes.indices.filter { $0 != index }.map { "nats://127.0.0.1:\(routes[$0])" }
                    nodes.append(
                        try NATSServer(extraArguments: [
                            "--name", "\(name)-\(index + 1)", "--cluster_name", name,
                            "--cluster", "nats://127.0.0.1:\(routes[index])", "--routes", others.joined(separator: ","),
                        ]))
                }
            } catch {
                for node in nodes { node.stop() }
                throw error
            }
            return nodes
        }
    }

    /// `stop()` without holding a Swift concurrency thread while the process ends.
    public func stopAsync() async {
        _ = try? await Blocking.run { self.stop() }
    }
}

/// A failure of the test harness itself.
public struct LocalProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension NATSServer {
    /// Runs `body` with a connection to this server and closes the connection afterwards, also on failure.
    public func withConnection<R>(name: String = "test", _ body: (NATSConnection) async throws -> R) async throws -> R {
        let connection = try await connect(name: name)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}
