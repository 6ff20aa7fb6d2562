import Foundation
import TestSupport
import Testing

/// nats.c 3.4.1's pull `Fetch` overflows the heap when more than half a batch is left over from an
/// earlier fetch (upstream issue 749, fixed in 3.9.0). The layer never calls `Fetch`; these tests
/// prove, under valgrind's memcheck, that its consumer path stays clean in exactly that situation,
/// and that the same situation with `Fetch` is caught (so the first proof is not vacuous).
@Suite("nats.c issue 749: the consumer path under valgrind", .serialized, .timeLimit(.minutes(5)))
struct FetchSafetyTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fetch_overflow_control.c")

    @Test func theLayersConsumerPathHasNoMemoryErrorsWhereFetchWouldOverflow() async throws {
        let valgrind = try Executables.find("valgrind")
        let probe = ProcessRunner.productsDirectory().appendingPathComponent("FetchSafetyProbe")
        try #require(
            FileManager.default.isExecutableFile(atPath: probe.path),
            "build FetchSafetyProbe first (make test does): \(probe.path)")
        try await withNATSServer { (server) async throws in
            let output = try await ProcessRunner.run(
                valgrind,
                ["--error-exitcode=99", "--leak-check=no", "--track-origins=no", probe.path, server.url],
                timeout: .seconds(240))
            #expect(output.status == 0, "valgrind/probe failed:\n\(output.standardError.suffix(4000))")
            #expect(output.standardOutput.contains("fetch-safety-probe: ok"))
            #expect(output.standardError.contains("ERROR SUMMARY: 0 errors"))
        }
    }

    @Test func valgrindCatchesTheOverflowInPlainFetch() async throws {
        let valgrind = try Executables.find("valgrind")
        let compiler = try Executables.find("cc")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-749-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = directory.appendingPathComponent("fetch_overflow_control")
        let flags = try await ProcessRunner.run(try Executables.find("pkg-config"), ["--cflags", "--libs", "libnats"])
        try #require(flags.status == 0, "pkg-config libnats: \(flags.standardError)")
        let compile = try await ProcessRunner.run(
            compiler,
            ["-g", "-O0", "-o", binary.path, Self.fixture.path]
                + flags.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init) + ["-lpthread"])
        try #require(compile.status == 0, "compiling the control failed:\n\(compile.standardError)")
        try await withNATSServer { (server) async throws in
            let output = try await ProcessRunner.run(
                valgrind, ["--error-exitcode=99", "--leak-check=no", binary.path, server.url], timeout: .seconds(120))
            #expect(output.status != 0)
            #expect(
                output.standardError.contains("Invalid write"),
                "valgrind did not see the overflow:\n\(output.standardError.suffix(3000))")
        }
    }
}
