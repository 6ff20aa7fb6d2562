import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `troupe bench --generator-nice`: the load generator stands for clients on other machines. On the
/// machine it shares with the suite, a request it means to send, or an answer that has arrived, can
/// wait for a core behind the suite it measures, and that wait is counted as the suite's. At a
/// higher priority it waits less, and takes more of the CPU the suite would have: at 3,300 orders/s
/// offered, refusals answered in p99 45 ms and 707 sagas/s completed at the default, 28 ms and
/// 630/s at nice -10 (docs/overload.md, "Where a refusal's time goes").
enum GeneratorPriority {
    /// Sets every thread of this process to `nice`. On Linux the nice value belongs to a thread
    /// (threads made later inherit their creator's), so this is run again as the thread pools grow.
    /// False when it is not permitted (below 0 needs root or CAP_SYS_NICE) or not Linux.
    @discardableResult
    static func apply(_ nice: Int32) -> Bool {
        #if os(Linux)
            guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else {
                return false
            }
            var applied = true
            for task in tasks {
                guard let tid = id_t(task) else { continue }
                if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, nice) != 0 { applied = false }
            }
            return applied
        #else
            return false
        #endif
    }
}
