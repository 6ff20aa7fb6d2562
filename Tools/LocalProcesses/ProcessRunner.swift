public import Foundation

/// Runs a program to completion, with a time limit, and captures what it printed.
public enum ProcessRunner {
    public struct Output: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` with `arguments` (and `environment` added to this process's own); kills it
    /// (SIGKILL, by PID) when `timeout` passes.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
        timeout: Duration = .seconds(300)
    ) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-run-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a chatty child can never block on a full pipe.
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        for file in [out, err] where !FileManager.default.createFile(atPath: file.path, contents: nil) {
            throw LocalProcessError("cannot create \(file.path)")
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

extension ProcessRunner {
    /// Runs a program that leaves daemons behind (`make up`'s script), with `environment` over the
    /// test's own, and returns when the program itself ends. Foundation's `Process` learns of the
    /// end through a descriptor the daemons inherit and keep open, so it would wait for them too;
    /// this uses `posix_spawn` and `waitpid` on the program's PID instead.
    public static func runLeavingDaemons(
        _ executable: URL, _ arguments: [String], environment: [String: String], timeout: Duration
    ) async throws -> Output {
        try await Blocking.run {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-run-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let out = directory.appendingPathComponent("out").path
            let err = directory.appendingPathComponent("err").path
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let variables = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
                .map { "\($0.key)=\($0.value)" }
            // Through a shell that first closes every descriptor above 2, so that nothing of the test
            // process (other tests' connections) lives on in the daemons.
            let closeAll =
                #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; "#
                + #"exec "$0" "$@""#
            let argv = (["/bin/bash", "-c", closeAll, executable.path] + arguments).map { strdup($0) } + [nil]
            let envp = variables.map { strdup($0) } + [nil]
            defer {
                for pointer in argv { free(pointer) }
                for pointer in envp { free(pointer) }
            }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
            guard spawned == 0 else { throw LocalProcessError("posix_spawn \(executable.path): \(spawned)") }
            var status: Int32 = 0
            let deadline = ContinuousClock.now + timeout
            while waitpid(pid, &status, WNOHANG) == 0 {
                if ContinuousClock.now > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    break
                }
                usleep(20_000)
            }
            // WIFEXITED / WEXITSTATUS, which Swift does not import.
            let exited = status & 0x7f == 0
            return Output(
                status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
                standardOutput: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                standardError: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }
    }
}
