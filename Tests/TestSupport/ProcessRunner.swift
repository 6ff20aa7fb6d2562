public import Foundation

/// Runs a program to completion, with a time limit, and captures what it printed.
public enum ProcessRunner {
    public struct Output: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` with `arguments`; kills it (SIGKILL, by PID) when `timeout` passes.
    public static func run(_ executable: URL, _ arguments: [String], timeout: Duration = .seconds(300)) throws -> Output
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-run-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a chatty child can never block on a full pipe.
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        for file in [out, err] where !FileManager.default.createFile(atPath: file.path, contents: nil) {
            throw TestSupportError("cannot create \(file.path)")
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            standardOutput: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// The folder holding the package's built products (the test runner sits among them).
    public static func productsDirectory() -> URL {
        if let override = ProcessInfo.processInfo.environment["TROUPE_PRODUCTS_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if url.pathExtension != "xctest" && !url.path.contains(".xctest/") { return url }
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }
}

/// Runs blocking test-harness work (waiting for a process, polling a port) on a dispatch thread,
/// so that it never holds one of Swift concurrency's few threads while other tests run.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

extension ProcessRunner {
    /// `run` off Swift concurrency's threads: for tests, which run side by side.
    public static func run(_ executable: URL, _ arguments: [String], timeout: Duration = .seconds(300)) async throws
        -> Output
    {
        try await Blocking.run { try run(executable, arguments, timeout: timeout) }
    }
}
