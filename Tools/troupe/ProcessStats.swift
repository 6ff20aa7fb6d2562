import Foundation
import LocalProcesses

/// CPU time and memory of a running process, from Linux's `/proc/<pid>`.
struct ProcessStats: Codable, Sendable {
    /// User + system CPU seconds since the process started.
    var cpuSeconds: Double
    /// Resident memory now, bytes.
    var residentBytes: UInt64
    /// The highest resident memory since the process started (`VmHWM`), bytes.
    var peakResidentBytes: UInt64

    /// Reads `pid`'s counters; nil when there is no such process (or no `/proc`). With `children`,
    /// the CPU time includes the process's children, living (summed from their own counters) and
    /// ended (what the process waited for): PostgreSQL works in a backend process per connection,
    /// forked by the server whose pid the pid file holds. Memory stays the parent's own.
    static func read(pid: Int32, children: Bool = false) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kilobytes(_ key: String) -> UInt64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return UInt64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        var cpu = (utime + stime) / ticks
        if children {
            // Fields 16 and 17: the CPU of the children it waited for.
            cpu += ((Double(fields[13]) ?? 0) + (Double(fields[14]) ?? 0)) / ticks
            cpu += ProcessTable.children(of: pid).compactMap { read(pid: $0)?.cpuSeconds }.reduce(0, +)
        }
        return ProcessStats(
            cpuSeconds: cpu, residentBytes: kilobytes("VmRSS") * 1024, peakResidentBytes: kilobytes("VmHWM") * 1024)
    }

    /// The processes named by `<name>.pid` files in `directory` (what `make up` writes).
    static func pids(in directory: String) -> [String: Int32] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var pids: [String: Int32] = [:]
        for file in files where file.hasSuffix(".pid") {
            let text = (try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)) ?? ""
            if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                pids[String(file.dropLast(".pid".count))] = pid
            }
        }
        return pids
    }
}
