import Foundation
import Messaging
import TestSupport
import Testing

/// `Tools/nats-ceiling-c/ceiling.c --mode saga`, the broker's ceiling that `troupe bench` puts beside
/// the suite's throughput: it must really run sagas of the suite's shape to their end, and leave
/// nothing behind on the server it measured.
@Suite("the broker's saga ceiling in plain nats.c", .serialized, .timeLimit(.minutes(2)))
struct CeilingSagaTests {
    @Test func theSagaModeCompletesSagasOfTheSuitesShapeAndDeletesItsStreams() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-ceiling-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = try await CeilingBinary.compile(into: directory)
        try await withNATSServer { server in
            // A closed loop (the ceiling), then an open loop at a fixed rate.
            for (loop, extra) in [("closed", ["--in-flight", "50"]), ("open", ["--rate", "200"])] {
                let prefix = "test_ceiling_\(loop)_\(UUID().uuidString.prefix(8).lowercased())"
                let output = try await ProcessRunner.run(
                    binary,
                    [
                        "--mode", "saga", "--url", server.url, "--prefix", prefix, "--count", "300", "--warmup", "30",
                        "--timeout", "60",
                    ] + extra, timeout: .seconds(90))
                #expect(output.status == 0, "\(output.standardError)")
                let result = try #require(
                    try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any],
                    "\(output.standardOutput)")
                #expect(result["loop"] as? String == loop)
                #expect(result["completed"] as? Int == 330, "\(result)")
                #expect(result["publishesPerSaga"] as? Int == 11 && result["deliveriesPerSaga"] as? Int == 19)
                #expect(result["publishFailures"] as? Int == 0)
                #expect((result["sagasPerSecond"] as? Double ?? 0) > 0)
                let latency = try #require(result["latencyMs"] as? [String: Double])
                let confirm = try #require(result["confirmLatencyMs"] as? [String: Double])
                #expect(latency["count"] == 300 && confirm["count"] == 300, "\(result)")
                let ordered = ["p50", "p90", "p99", "max"].compactMap { latency[$0] }
                #expect(ordered.count == 4 && ordered == ordered.sorted() && ordered[0] > 0, "\(latency)")
                #expect((confirm["max"] ?? .infinity) <= (latency["max"] ?? 0), "confirmed before complete")
                #expect(result["streamsDeleted"] as? Int == 5)

                // Its streams (and with them its consumers) are gone.
                try await server.withConnection { nats in
                    for suffix in ["ORDERS", "INVENTORY", "PAYMENTS", "SHIPPING", "NOTIFICATIONS"] {
                        do {
                            let state = try await nats.streamState("\(prefix)_\(suffix)")
                            Issue.record("\(prefix)_\(suffix) is still there: \(state)")
                        } catch {
                            #expect((error as? NATSError)?.isNotFound == true, "\(error)")
                        }
                    }
                }
            }
        }
    }
}

/// Compiles `Tools/nats-ceiling-c/ceiling.c` as `make bench` does (cc -O2, pkg-config libnats).
enum CeilingBinary {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/nats-ceiling-c/ceiling.c")

    static func compile(into directory: URL) async throws -> URL {
        let binary = directory.appendingPathComponent("nats-ceiling-c")
        let flags = try await ProcessRunner.run(try Executables.find("pkg-config"), ["--cflags", "--libs", "libnats"])
        try #require(flags.status == 0, "pkg-config libnats: \(flags.standardError)")
        let compile = try await ProcessRunner.run(
            try Executables.find("cc"),
            ["-O2", "-o", binary.path, source.path]
                + flags.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init) + ["-lpthread"])
        try #require(compile.status == 0, "compiling \(source.path) failed:\n\(compile.standardError)")
        return binary
    }
}
