import Foundation
import Messaging

/// The broker's ceiling for a saga of the suite's shape, as measured by the plain nats.c program
/// `Tools/nats-ceiling-c/ceiling.c --mode saga`: 11 events published with `Nats-Msg-Id` and 19
/// deliveries acknowledged per saga, no service logic and no database. Measured on the same server
/// just before the suite, so that the suite's throughput can be read as a fraction of what the broker
/// alone does on this machine, and results from different machines compared.
struct Ceiling: Codable, Sendable {
    struct Latency: Codable, Sendable {
        var count: Int
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
    }

    var sagasPerSecond: Double
    var sagas: Int
    var completed: Int
    var inFlight: Int
    var storage: String
    var payloadBytes: Int
    var publishesPerSaga: Int
    var deliveriesPerSaga: Int
    var seconds: Double
    /// From the saga's first publish to its last acknowledgement.
    var latencyMs: Latency
    /// From the saga's first publish to its orders.confirmed being stored.
    var confirmLatencyMs: Latency
    var publishFailures: Int
    var streamsDeleted: Int

    func summary(fraction: Double?) -> String {
        let share = fraction.map { String(format: "; the suite: %.1f%% of it", 100 * $0) } ?? ""
        return
            "broker ceiling (plain nats.c, same saga shape, \(publishesPerSaga) publishes + \(deliveriesPerSaga) "
            + "deliveries, \(storage) storage, \(inFlight) in flight): \(sagasPerSecond.formatted1) sagas/s, "
            + "p50 \(latencyMs.p50) ms, p99 \(latencyMs.p99) ms\(share)"
    }
}

/// Runs the ceiling program against the tool's own server and identity, on streams named after a
/// prefix of its own, and makes sure those streams are gone afterwards whatever the program did.
struct CeilingRun {
    var binary: String
    var sagas: Int
    var inFlight: Int
    /// File, as the suite's streams, unless asked otherwise.
    var storage = "file"
    var connection: ConnectionOptions
    /// Seconds the program may take before it is killed.
    var timeout: Int = 300

    static let streamSuffixes = ["ORDERS", "INVENTORY", "PAYMENTS", "SHIPPING", "NOTIFICATIONS"]

    func run(_ nats: NATSConnection) async throws -> Ceiling {
        let prefix = "troupe_ceiling_" + UUID().uuidString.prefix(8).lowercased()
        var arguments = [
            "--mode", "saga", "--url", connection.natsURL, "--prefix", prefix, "--count", "\(sagas)",
            "--in-flight", "\(inFlight)", "--storage", storage, "--payload", "512", "--timeout", "\(timeout - 30)",
        ]
        var environment = ProcessInfo.processInfo.environment
        if let identity = try connection.identity() {
            arguments += ["--user", identity.user]
            // Through the environment, not the command line, so that no process list shows it.
            environment["CEILING_NATS_PASSWORD"] = identity.password
        }
        if let ca = connection.caFile() { arguments += ["--tls-ca", ca] }
        Bench.status("measuring the broker's ceiling: \(sagas) sagas of the suite's shape in plain nats.c …")
        let output: ChildOutput
        do {
            output = try await ChildProcess.run(
                URL(fileURLWithPath: binary), arguments, environment: environment, timeout: .seconds(timeout))
        } catch {
            await Self.removeStreams(prefix, nats)
            throw error
        }
        Bench.status("")
        // The program deletes its streams; a crash or a kill would leave them.
        await Self.removeStreams(prefix, nats)
        guard output.status == 0, let line = output.standardOutput.split(separator: "\n").last,
            let ceiling = try? JSONDecoder().decode(Ceiling.self, from: Data(line.utf8))
        else {
            throw CLIError(
                "the ceiling (\(binary)) failed with status \(output.status): "
                    + "\(output.standardError.suffix(1000))\(output.standardOutput.suffix(500))")
        }
        return ceiling
    }

    static func removeStreams(_ prefix: String, _ nats: NATSConnection) async {
        for suffix in streamSuffixes { try? await nats.deleteStream("\(prefix)_\(suffix)") }
    }
}

struct ChildOutput: Sendable {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// A child process run to its end without holding a Swift concurrency thread (it is polled between
/// sleeps), killed by its PID (SIGKILL) when it overruns its time.
enum ChildProcess {
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String], timeout: Duration)
        async throws -> ChildOutput
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-child-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a chatty child can never block on a full pipe.
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        for file in [out, err] where !FileManager.default.createFile(atPath: file.path, contents: nil) {
            throw CLIError("cannot create \(file.path)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        do { try process.run() } catch { throw CLIError("cannot start \(executable.path): \(error)") }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        process.waitUntilExit()
        let status = process.terminationStatus
        return ChildOutput(
            status: status, standardOutput: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
