public import Foundation

/// A real PostgreSQL server (Debian's `postgresql` 15) on a free loopback port, with its data in a
/// temporary folder: what the tests of the PostgreSQL store run against.
///
/// PostgreSQL refuses to run as root: when the tests run as root, `initdb` and `postgres` run as the
/// `postgres` user (`setpriv`, which execs, so the PID is the server's own). The cluster has one
/// role, `troupe`, with a random password (scram-sha-256 over TCP), and no database but the
/// defaults: `createDatabase` makes one per test. `stop()` is a fast shutdown (SIGINT) by PID, then
/// SIGKILL; `kill()` is a crash of the server and its backends; `start()` brings it back on the same
/// port with the same data.
public final class PostgresServer: @unchecked Sendable {
    // @unchecked: the mutable process handle is only touched by the owning test, one call at a time.
    public let port: Int
    public let directory: URL
    public let user = "troupe"
    public let password: String
    private var process: Process?
    private let logFile: URL
    private let extraArguments: [String]

    /// Debian's PostgreSQL binaries (`/usr/lib/postgresql/<version>/bin`), newest first.
    public static func binaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = root.appendingPathComponent(version).appendingPathComponent("bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("postgres").path) { return bin }
        }
        throw LocalProcessError("PostgreSQL not found under /usr/lib/postgresql (run `make deps`)")
    }

    /// Creates a cluster and starts the server, waiting until it accepts connections.
    public init(extraArguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-postgres-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("postgres.log")
        password = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        self.extraArguments = extraArguments
        port = try FreePort.find()
        do {
            try initialise()
            try launch()
        } catch {
            stop()
            throw error
        }
    }

    /// `postgres://troupe:<password>@127.0.0.1:<port>/<database>`.
    public func url(database: String) -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// The PID of the running server (the postmaster), if any.
    public var pid: Int32? { process?.processIdentifier }

    private var asRoot: Bool { getuid() == 0 }

    /// Runs `arguments` as the `postgres` user when this process is root, else directly.
    private func command(_ executable: URL, _ arguments: [String]) throws -> (URL, [String]) {
        guard asRoot else { return (executable, arguments) }
        return (
            try Executables.find("setpriv"),
            ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", executable.path] + arguments
        )
    }

    private func initialise() throws {
        let passwordFile = directory.appendingPathComponent("password")
        try Data(password.utf8).write(to: passwordFile)
        if asRoot {
            guard let account = getpwnam("postgres") else {
                throw LocalProcessError("there is no postgres user to run PostgreSQL as (install postgresql)")
            }
            for path in [directory.path, passwordFile.path]
            where chown(path, account.pointee.pw_uid, account.pointee.pw_gid) != 0 {
                throw LocalProcessError("cannot give \(path) to the postgres user: errno \(errno)")
            }
        }
        let (executable, arguments) = try command(
            try Self.binaries().appendingPathComponent("initdb"),
            [
                "-D", directory.appendingPathComponent("data").path, "-U", user, "--pwfile=\(passwordFile.path)",
                "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ])
        let output = try ProcessRunner.run(executable, arguments, timeout: .seconds(60))
        guard output.status == 0 else {
            throw LocalProcessError("initdb failed (\(output.status)): \(output.standardError)\(output.standardOutput)")
        }
    }

    private func launch() throws {
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        let (executable, arguments) = try command(
            try Self.binaries().appendingPathComponent("postgres"),
            [
                "-D", directory.appendingPathComponent("data").path, "-p", "\(port)", "-k", directory.path,
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
                // Instances of a service that meet in a deadlock wait this long, not a second
                // (docs/deployment.md, "Two instances of a service").
                "-c", "deadlock_timeout=100ms",
            ] + extraArguments)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        try waitUntilReady()
    }

    private func waitUntilReady() throws {
        let ready = try Self.binaries().appendingPathComponent("pg_isready")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process?.isRunning == true else {
                throw LocalProcessError("postgres exited at start; log: \(log())")
            }
            if FreePort.isListening(port),
                let output = try? ProcessRunner.run(
                    ready, ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres"], timeout: .seconds(5)),
                output.status == 0
            {
                return
            }
            usleep(50_000)
        }
        throw LocalProcessError("postgres did not accept connections on \(port) within 30 s; log: \(log())")
    }

    /// The server's log, for failure messages.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Creates database `name` (owned by `troupe`) and returns its URL.
    @discardableResult
    public func createDatabase(_ name: String) throws -> String {
        try psql(database: "postgres", "CREATE DATABASE \"\(name)\"")
        return url(database: name)
    }

    /// Runs `sql` with `psql` and returns what it printed (unaligned, tuples only).
    @discardableResult
    public func psql(database: String, _ sql: String) throws -> String {
        let output = try ProcessRunner.run(
            try Self.binaries().appendingPathComponent("psql"),
            ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url(database: database), "-c", sql],
            timeout: .seconds(60))
        guard output.status == 0 else {
            throw LocalProcessError("psql failed (\(output.status)) on \(sql): \(output.standardError)")
        }
        return output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server gracefully (fast shutdown: open sessions are ended) and starts it again on
    /// the same port with the same data.
    public func restart() throws {
        terminate(signal: SIGINT)
        try launch()
    }

    /// Kills the server and its backends at once (SIGKILL), as a crash would; `start()` brings it
    /// back, recovering from its write-ahead log.
    public func kill() {
        guard let pid = process?.processIdentifier else { return }
        let children = ProcessTable.children(of: pid)
        terminate(signal: SIGKILL)
        for child in children { Foundation.kill(child, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: { Foundation.kill($0, 0) == 0 }) && Date() < deadline { usleep(10_000) }
    }

    /// Starts the server again after `kill()`, on the same port with the same data.
    public func start() throws {
        guard process?.isRunning != true else { return }
        try launch()
    }

    /// Stops the server (SIGINT, then SIGKILL after 10 s) and removes its folder. Idempotent.
    public func stop() {
        terminate(signal: SIGINT)
        try? FileManager.default.removeItem(at: directory)
    }

    private func terminate(signal: Int32) {
        if let process { ProcessTable.end(process, signal: signal, grace: 10) }
        process = nil
    }

    deinit { stop() }
}

extension PostgresServer {
    /// Starts a server without holding a Swift concurrency thread while it comes up.
    public static func start(extraArguments: [String] = []) async throws -> PostgresServer {
        try await Blocking.run { try PostgresServer(extraArguments: extraArguments) }
    }

    /// `stop()` without holding a Swift concurrency thread while the process ends.
    public func stopAsync() async {
        _ = try? await Blocking.run { self.stop() }
    }
}

/// Runs `body` with a fresh server and always stops it afterwards.
public func withPostgresServer<R>(_ body: (PostgresServer) async throws -> R) async throws -> R {
    let server = try await PostgresServer.start()
    do {
        let result = try await body(server)
        await server.stopAsync()
        return result
    } catch {
        await server.stopAsync()
        throw error
    }
}
