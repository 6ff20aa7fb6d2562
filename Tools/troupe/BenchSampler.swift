import ArgumentParser
import Contracts
import Foundation
import Histogram
import Logging
import Messaging
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// CPU and memory of the measured processes over the measured period, and the CPU of the load
/// generator itself (this process), which shares the machine with them.
final class Sampler: Sendable {
    private let pids: [String: Int32]
    private let state = Mutex<
        (start: [String: ProcessStats], end: [String: ProcessStats], peak: [String: UInt64], seconds: Double)
    >(
        ([:], [:], [:], 0))
    private let startTime = Mutex<Date?>(nil)
    private let endTime = Mutex<Date?>(nil)
    private let generator = Mutex<(start: Double, end: Double)>((0, 0))
    private let lastSample = Mutex(Date.distantPast)

    init(pids: [String: Int32]) { self.pids = pids }

    private func read() -> [String: ProcessStats] {
        // The database server (`make cluster-up`) with its backends, one per connection.
        var stats: [String: ProcessStats] = [:]
        for (name, pid) in pids {
            stats[name] = ProcessStats.read(pid: pid, children: name == "postgres")
        }
        return stats
    }

    private static func ownCPU() -> Double { ProcessStats.read(pid: getpid())?.cpuSeconds ?? 0 }

    func markStart() {
        let now = read()
        startTime.withLock { $0 = Date() }
        generator.withLock { $0.start = Self.ownCPU() }
        state.withLock { $0.start = now }
    }

    /// Notes resident memory, at most once a second.
    func sample() {
        let due = lastSample.withLock { last -> Bool in
            guard Date().timeIntervalSince(last) >= 1 else { return false }
            last = Date()
            return true
        }
        guard due else { return }
        let now = read()
        state.withLock { state in
            for (name, stats) in now { state.peak[name] = max(state.peak[name] ?? 0, stats.residentBytes) }
        }
    }

    func markEnd(at end: Date) {
        let now = read()
        let began = startTime.withLock { $0 } ?? end
        endTime.withLock { $0 = end }
        generator.withLock { $0.end = Self.ownCPU() }
        state.withLock {
            $0.end = now
            $0.seconds = end.timeIntervalSince(began)
        }
    }

    /// The period the CPU figures cover.
    func window() -> (from: Date, until: Date) {
        let until = endTime.withLock { $0 } ?? Date()
        return (startTime.withLock { $0 } ?? until, until)
    }

    /// Cores the load generator used over the period.
    func generatorCores() -> Double {
        let seconds = state.withLock { $0.seconds }
        return generator.withLock { seconds > 0 ? ($0.end - $0.start) / seconds : 0 }
    }

    func results() -> [String: BenchReport.Process] {
        state.withLock { state in
            var results: [String: BenchReport.Process] = [:]
            for (name, end) in state.end {
                let cpu = end.cpuSeconds - (state.start[name]?.cpuSeconds ?? end.cpuSeconds)
                results[name] = BenchReport.Process(
                    cpuSeconds: cpu, cpuPercent: state.seconds > 0 ? 100 * cpu / state.seconds : 0,
                    peakResidentBytes: max(end.peakResidentBytes, state.peak[name] ?? 0),
                    residentBytes: end.residentBytes)
            }
            return results
        }
    }
}
