public import Foundation

/// What the local-process helpers do with processes by their PID: end one, find its children.
public enum ProcessTable {
    /// Sends `signal` to `process`, waits up to `grace` for it to end, then SIGKILL; returns once it
    /// has ended. Nothing to do for a process that is not running.
    public static func end(_ process: Process, signal: Int32, grace: TimeInterval) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The living processes whose parent is `pid` (a PostgreSQL server's backends and workers).
    public static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let child = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After the command in parentheses: the state, then the parent's PID.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }
}
