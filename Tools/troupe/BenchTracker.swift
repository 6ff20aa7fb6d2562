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

/// The orders of a run: when each was scheduled, what it should become, when it was confirmed or
/// cancelled, and what it became.
final class Tracker: Sendable {
    struct Order: Sendable {
        var kind: Bench.Kind
        var scheduled: Date
        var measured: Bool
    }

    struct Final: Sendable {
        var time: Date
        var status: String
        var reason: String?
    }

    private struct State {
        var orders: [String: Order] = [:]
        /// The first orders.confirmed or orders.cancelled of each order: where the customer learns the outcome.
        var decisions: [String: Date] = [:]
        var finals: [String: Final] = [:]
        var sent = 0
        var errors = 0
        var measuredErrors = 0
        var refused = 0
        var measuredRefused = 0
        var refusalMicros: [UInt64] = []
    }

    private let state = Mutex(State())

    func accepted(_ id: String, kind: Bench.Kind, scheduled: Date, measured: Bool) {
        state.withLock {
            $0.sent += 1
            $0.orders[id] = Order(kind: kind, scheduled: scheduled, measured: measured)
        }
    }

    /// The order service shed this order (503 with Retry-After), answering in `answeredIn`.
    func refused(measured: Bool, answeredIn: Duration) {
        let micros = UInt64(
            max(0, answeredIn.components.seconds * 1_000_000 + answeredIn.components.attoseconds / 1_000_000_000_000))
        state.withLock {
            $0.sent += 1
            $0.refused += 1
            if measured {
                $0.measuredRefused += 1
                $0.refusalMicros.append(micros)
            }
        }
    }

    func failed(measured: Bool) {
        state.withLock {
            $0.sent += 1
            $0.errors += 1
            if measured { $0.measuredErrors += 1 }
        }
    }

    /// Notes an order's confirmation, cancellation or shipping (other events are ignored).
    func observed(_ event: AnyEvent) {
        var decided: Date?
        var final: Final?
        switch event {
        case .orderConfirmed(let e): decided = Timestamp.date(e.time) ?? Date()
        case .orderShipped(let e): final = Final(time: Timestamp.date(e.time) ?? Date(), status: "SHIPPED")
        case .orderCancelled(let e):
            let time = Timestamp.date(e.time) ?? Date()
            decided = time
            final = Final(time: time, status: "CANCELLED", reason: e.data.reason.rawValue)
        default: return
        }
        let id = event.orderId
        state.withLock { state in
            if let decided { state.decisions[id] = min(state.decisions[id] ?? decided, decided) }
            if let final { state.finals[id] = state.finals[id] ?? final }
        }
    }

    func counts() -> (sent: Int, accepted: Int, finished: Int, refused: Int, errors: Int) {
        state.withLock { state in
            (
                state.sent, state.orders.count, state.orders.keys.filter { state.finals[$0] != nil }.count,
                state.refused, state.errors
            )
        }
    }

    var unfinishedMeasured: Int {
        state.withLock { state in state.orders.filter { $0.value.measured && state.finals[$0.key] == nil }.count }
    }

    func report(
        rate: Double, warmup: Int, duration: Int, mix: [Bench.Kind: Int], measuredFrom: Date, measuredUntil: Date,
        sampler: Sampler
    ) -> BenchReport {
        let processes = sampler.results()
        let window = sampler.window()
        return state.withLock { state in
            func histogram() -> Histogram<UInt64> {
                Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
            }
            func micros(_ from: Date, _ to: Date) -> UInt64 { UInt64(max(0, to.timeIntervalSince(from)) * 1_000_000) }
            var toFinal = histogram()
            var toDecision = histogram()
            var byKind: [String: Histogram<UInt64>] = [:]
            var unexpected: [String] = []
            var measured = 0
            var finished = 0
            let completedInWindow = state.finals.values.filter { $0.time >= measuredFrom && $0.time < measuredUntil }
                .count
            var decisionsBySecond = (0..<max(duration, 1)).map { _ in histogram() }
            for (id, order) in state.orders where order.measured {
                measured += 1
                if let decided = state.decisions[id] {
                    let latency = micros(order.scheduled, decided)
                    toDecision.record(latency)
                    let second = Int(order.scheduled.timeIntervalSince(measuredFrom))
                    if decisionsBySecond.indices.contains(second) { decisionsBySecond[second].record(latency) }
                }
                guard let final = state.finals[id] else { continue }
                finished += 1
                let latency = micros(order.scheduled, final.time)
                toFinal.record(latency)
                byKind[order.kind.rawValue, default: histogram()].record(latency)
                let expected = order.kind.expected
                if final.status != expected.status || final.reason != expected.reason {
                    unexpected.append("\(id) (\(order.kind.rawValue)): \(final.status) \(final.reason ?? "")")
                }
            }
            // CPU over the sampler's own period, divided by the sagas completed in that same period.
            let completedWhileSampled = state.finals.values.filter { $0.time >= window.from && $0.time < window.until }
                .count
            // Final events per second from the start of the measured period to the last one seen:
            // a collapse under overload, or the drain of a backlog, shows as a falling curve.
            var bySecond: [Int] = []
            for final in state.finals.values where final.time >= measuredFrom {
                let second = Int(final.time.timeIntervalSince(measuredFrom))
                if second >= bySecond.count { bySecond += Array(repeating: 0, count: second + 1 - bySecond.count) }
                bySecond[second] += 1
            }
            let cpu = processes.values.reduce(0) { $0 + $1.cpuSeconds }
            let measuredCPU = !processes.isEmpty
            let seconds = window.until.timeIntervalSince(window.from)
            return BenchReport(
                date: Timestamp.string(Date()), rate: rate, warmupSeconds: warmup, durationSeconds: duration,
                mix: Dictionary(uniqueKeysWithValues: mix.map { ($0.key.rawValue, $0.value) }),
                sent: state.sent, errors: state.errors, refused: state.refused,
                measuredOrders: measured + state.measuredErrors + state.measuredRefused,
                measuredErrors: state.measuredErrors, measuredRefused: state.measuredRefused, finished: finished,
                unfinished: measured - finished, completedPerSecond: Double(completedInWindow) / Double(duration),
                completedBySecond: bySecond,
                confirmationP99BySecond: decisionsBySecond.map { BenchReport.Latency($0).p99Ms },
                refusalLatency: state.refusalMicros.isEmpty
                    ? nil
                    : .init(state.refusalMicros.reduce(into: histogram()) { $0.record($1) }),
                latency: .init(toFinal), latencyToConfirmation: .init(toDecision),
                latencyByKind: byKind.mapValues { .init($0) },
                unexpectedOutcomes: Array(unexpected.prefix(20)), unexpectedCount: unexpected.count,
                processes: processes, cpuSeconds: measuredCPU ? cpu.rounded(toPlaces: 3) : nil,
                cpuSecondsPerSaga: measuredCPU && completedWhileSampled > 0 ? cpu / Double(completedWhileSampled) : nil,
                coresUsed: measuredCPU && seconds > 0 ? (cpu / seconds).rounded(toPlaces: 3) : nil,
                generatorCores: sampler.generatorCores().rounded(toPlaces: 3),
                plot: BenchReport.plotPoints(toFinal), confirmationPlot: BenchReport.plotPoints(toDecision))
        }
    }
}
