import ArgumentParser
import Contracts
import Foundation
import Messaging

/// `troupe bench --find-max`: steps the arrival rate up until the suite stops keeping up, and
/// reports the highest rate it sustained with the figures of every step (docs/operations.md, "Benchmark").
///
/// A step is sustained when every measured order is final within the drain time, none is refused or
/// ends otherwise than it was built to, and p99 from the scheduled POST to the order's confirmation
/// or cancellation is under the bound: that is what a customer waits for, and unlike the final
/// event it is not stretched by the shipping dispatch delay. Stepping stops at the first failing
/// step, then one step halfway between the last good and the first bad rate narrows the answer.
struct FindMax {
    var bench: Bench
    var mix: [Bench.Kind: Int]

    func run() async throws {
        let report = try await bench.connection.withConnection { nats in
            try await Bench.removeStaleConsumers(nats)
            let ceiling = try await bench.measureCeiling(nats)
            var report = FindMaxReport(bench: bench, mix: mix, ceiling: ceiling)
            var rate = bench.startRate
            var lastGood: Double?
            var firstBad: Double?
            for index in 0..<bench.maxSteps {
                if index > 0, let busy = try await settle(nats) {
                    report.notes.append("stopped before \(rate.formatted1)/s: the suite did not settle (\(busy))")
                    break
                }
                let step = try await self.step(nats, rate: rate, number: index + 1, ceiling: ceiling)
                report.steps.append(step)
                Self.announce(step)
                guard step.sustained else {
                    firstBad = rate
                    break
                }
                lastGood = rate
                let next = (rate * bench.growth).rounded(toPlaces: 1)
                guard next <= 10_000 else {
                    report.notes.append("stopped at 10,000 orders/s, the bench's limit")
                    break
                }
                rate = next
            }
            if firstBad == nil && report.steps.count == bench.maxSteps {
                report.notes.append("stopped after --max-steps \(bench.maxSteps) steps, every one sustained")
            }
            if bench.refine, let good = lastGood, let bad = firstBad {
                let middle = ((good + bad) / 2).rounded(toPlaces: 1)
                if middle > good && middle < bad {
                    if let busy = try await settle(nats) {
                        report.notes.append("no refinement: the suite did not settle after the failing step (\(busy))")
                    } else {
                        var step = try await self.step(
                            nats, rate: middle, number: report.steps.count + 1, ceiling: ceiling)
                        step.refinement = true
                        report.steps.append(step)
                        Self.announce(step)
                    }
                }
            }
            report.conclude()
            // Past the maximum: does the suite keep completing at its best rate while overloaded
            // (shedding the excess at the door), or does it collapse?
            let peak = report.steps.map(\.report.completedPerSecond).max() ?? 0
            for factor in bench.overloadFactors ?? [] where peak > 0 {
                if let busy = try await settle(nats) {
                    report.notes.append("no overload step ×\(factor): the suite did not settle (\(busy))")
                    break
                }
                let rate = min(10_000, (peak * factor).rounded(toPlaces: 1))
                var step = try await self.step(nats, rate: rate, number: report.steps.count + 1, ceiling: ceiling)
                step.overload = factor
                step.retained = (step.report.completedPerSecond / peak).rounded(toPlaces: 3)
                report.overloadSteps.append(step)
                Self.announce(step)
            }
            report.check = try await Bench.check(nats, services: bench.services)
            return report
        }
        let files = try report.write(to: bench.output)
        print(report.summary())
        print("\nwrote \(files.joined(separator: ", "))")
        if !(report.check?.holds ?? false) { throw ExitCode(1) }
    }

    private func step(_ nats: NATSConnection, rate: Double, number: Int, ceiling: Ceiling?) async throws
        -> FindMaxReport.Step
    {
        var report = try await bench.withBenchConsumer(nats) { durable in
            try await bench.measure(
                nats, durable: durable, mix: mix, rate: rate, warmup: bench.stepWarmup, duration: bench.stepDuration,
                drain: bench.drain, label: "step \(number), \(rate.formatted1) orders/s: ")
        }
        report.compare(with: ceiling)
        report.ceiling = nil  // once, at the top of the report
        var failures: [String] = []
        if report.unfinished > 0 {
            failures.append("\(report.unfinished) measured orders not final within \(bench.drain) s")
        }
        if report.measuredErrors > 0 { failures.append("\(report.measuredErrors) orders failed") }
        if report.measuredRefused > 0 { failures.append("\(report.measuredRefused) orders refused") }
        if report.unexpectedCount > 0 { failures.append("\(report.unexpectedCount) unexpected outcomes") }
        if report.latencyToConfirmation.p99Ms >= bench.maxP99Ms {
            failures.append(
                "p99 to confirmation or cancellation \(report.latencyToConfirmation.p99Ms) ms ≥ \(bench.maxP99Ms) ms")
        }
        return FindMaxReport.Step(rate: rate, sustained: failures.isEmpty, failures: failures, report: report)
    }

    private static func announce(_ step: FindMaxReport.Step) {
        Bench.status("")
        FileHandle.standardError.write(Data((step.line + "\n").utf8))
    }

    /// Waits until the suite has nothing pending or unacknowledged, so that a step does not pay for
    /// the previous one's backlog; nil once settled, else what is still busy.
    private func settle(_ nats: NATSConnection) async throws -> String? {
        Bench.status("waiting for the suite to settle …")
        defer { Bench.status("") }
        let deadline = ContinuousClock.now + .seconds(max(120, bench.drain))
        while true {
            var busy: [String] = []
            for stream in StreamDefinition.all {
                let consumers: [ConsumerListing]
                do { consumers = try await nats.consumers(of: stream.name) } catch {
                    if error.isNotFound { continue }
                    throw CLIError("reading \(stream.name): \(error)")
                }
                for consumer in consumers
                where !consumer.name.hasPrefix(toolConsumerPrefix)
                    && (consumer.state.pending > 0 || consumer.state.ackPending > 0)
                {
                    busy.append("\(consumer.name): \(consumer.state.pending) pending")
                }
            }
            if busy.isEmpty { return nil }
            if ContinuousClock.now >= deadline { return busy.joined(separator: ", ") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// What `--find-max` measured: every step, the highest rate sustained, the ceiling, the check.
struct FindMaxReport: Codable {
    struct Step: Codable {
        var rate: Double
        var sustained: Bool
        /// Why not, when not.
        var failures: [String]
        /// The step halfway between the last good and the first bad rate.
        var refinement = false
        /// An overload step: its rate is this multiple of the highest completed rate of the steps.
        var overload: Double?
        /// An overload step's completed sagas per second over that highest completed rate.
        var retained: Double?
        var report: BenchReport

        var line: String {
            let r = report
            if let overload, let retained {
                return
                    "overload ×\(overload.formatted1) (\(rate.formatted1)/s): completed \(r.completedPerSecond.formatted1)/s, "
                    + "retained \(String(format: "%.0f%%", 100 * retained)) of the highest completed rate; "
                    + "\(r.measuredRefused) refused (503, Retry-After), \(r.measuredErrors) failed, "
                    + "\(r.unfinished) accepted orders unfinished, \(r.redeliveries.map { "\($0.afterAckWait)" } ?? "-") redeliveries after an ack wait; "
                    + "refusals answered in p99 "
                    + "\(r.refusalLatency?.p99Ms ?? 0) ms; p99 to confirmation \(r.latencyToConfirmation.p99Ms) ms"
            }
            return
                "\(refinement ? "refine" : "step") \(rate.formatted1)/s: "
                + "completed \(r.completedPerSecond.formatted1)/s, "
                + "p99 to confirmation \(r.latencyToConfirmation.p99Ms) ms, p99 to final \(r.latency.p99Ms) ms, "
                + "\(r.cpuPerSagaText) CPU s/saga, \(r.coresText) cores — "
                + (sustained ? "sustained" : "not sustained: " + failures.joined(separator: "; "))
        }
    }

    var date: String
    var mix: [String: Int]
    var startRate: Double
    var growth: Double
    var stepWarmupSeconds: Int
    var stepDurationSeconds: Int
    var drainSeconds: Int
    var maxP99ConfirmationMs: Double
    var ceiling: Ceiling?
    var steps: [Step] = []
    /// Past the maximum (`--overload`), not judged sustained or not: what is retained.
    var overloadSteps: [Step] = []
    /// The highest offered rate of a sustained step; nil when not even the first was.
    var sustainedRate: Double?
    /// That step's completed sagas per second, and as a fraction of the ceiling.
    var sustainedCompletedPerSecond: Double?
    var fractionOfCeiling: Double?
    var notes: [String] = []
    var check: BenchReport.Check?

    init(bench: Bench, mix: [Bench.Kind: Int], ceiling: Ceiling?) {
        date = Timestamp.string(Date())
        self.mix = Dictionary(uniqueKeysWithValues: mix.map { ($0.key.rawValue, $0.value) })
        startRate = bench.startRate
        growth = bench.growth
        stepWarmupSeconds = bench.stepWarmup
        stepDurationSeconds = bench.stepDuration
        drainSeconds = bench.drain
        maxP99ConfirmationMs = bench.maxP99Ms
        self.ceiling = ceiling
    }

    var best: Step? { steps.filter(\.sustained).max { $0.rate < $1.rate } }

    mutating func conclude() {
        sustainedRate = best?.rate
        sustainedCompletedPerSecond = best?.report.completedPerSecond
        fractionOfCeiling = best?.report.fractionOfCeiling
    }

    func summary() -> String {
        var lines: [String] = []
        let mixText = ["shipped", "out_of_stock", "declined", "undeliverable"].map { "\(mix[$0] ?? 0)% \($0)" }
        lines.append("Troupe load benchmark, highest sustained rate (--find-max), \(date)")
        lines.append(
            "from \(startRate.formatted1) orders/s ×\(growth), each step \(stepWarmupSeconds) s warm-up + "
                + "\(stepDurationSeconds) s measured (open loop); " + mixText.joined(separator: ", "))
        lines.append(
            "sustained: every measured order final within \(drainSeconds) s, none refused or unexpected, "
                + "p99 to confirmation or cancellation < \(maxP99ConfirmationMs.formatted1) ms")
        lines.append("")
        lines.append(
            contentsOf: table(
                header: [
                    "OFFERED/s", "DONE/s", "ORDERS", "UNFINISHED", "CONF p50", "CONF p99", "FINAL p99", "CPU s/SAGA",
                    "CORES", "AFTER ACK WAIT", "OF CEILING", "VERDICT",
                ],
                rows: steps.map { step in
                    let r = step.report
                    return [
                        step.rate.formatted1 + (step.refinement ? "*" : ""), r.completedPerSecond.formatted1,
                        "\(r.measuredOrders)", "\(r.unfinished)", "\(r.latencyToConfirmation.p50Ms)",
                        "\(r.latencyToConfirmation.p99Ms)", "\(r.latency.p99Ms)",
                        r.cpuPerSagaText, r.coresText, r.redeliveries.map { "\($0.afterAckWait)" } ?? "-",
                        r.fractionOfCeiling.map { String(format: "%.1f%%", 100 * $0) } ?? "-",
                        step.sustained ? "sustained" : "NOT: " + step.failures.joined(separator: "; "),
                    ]
                }))
        if steps.contains(where: \.refinement) { lines.append("(* the refinement step)") }
        lines.append("")
        if let best {
            lines.append(
                "highest sustained rate: \(best.rate.formatted1) orders/s (completed "
                    + "\(best.report.completedPerSecond.formatted1) sagas/s, p99 to confirmation "
                    + "\(best.report.latencyToConfirmation.p99Ms) ms, "
                    + "\(best.report.cpuPerSagaText) CPU s per saga)")
        } else {
            lines.append("highest sustained rate: none, not even \(startRate.formatted1) orders/s")
        }
        for step in overloadSteps { lines.append(step.line) }
        if let ceiling { lines.append(ceiling.summary(fraction: fractionOfCeiling)) }
        for note in notes { lines.append("note: \(note)") }
        if let check {
            lines.append(
                check.holds
                    ? "troupe check: all guarantees hold (\(check.orders) orders, \(check.events) events)"
                    : "troupe check: \(check.violations.count) violations, e.g. \(check.violations.first ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    /// Writes `<stamp>-find-max.json`, `.md` and `.svg` (the latency plot of the highest sustained
    /// step, else of the first) into `directory`; returns their paths.
    func write(to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stamp = BenchReport.stamp(date) + "-find-max"
        let base = "\(directory)/\(stamp)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: base + ".json"))
        var files = [base + ".json", base + ".md"]
        var plot = ""
        if let shown = best ?? steps.first {
            try shown.report.svg().write(toFile: base + ".svg", atomically: true, encoding: .utf8)
            files.append(base + ".svg")
            plot = "\n![latency by percentile at \(shown.rate.formatted1) orders/s](\(stamp).svg)\n"
        }
        let markdown = """
            # Troupe load benchmark, highest sustained rate, \(date)

            ```
            \(summary())
            ```
            \(plot)
            Raw numbers, every step in full: [\(stamp).json](\(stamp).json). Latency runs from each order's
            scheduled send time (open loop, no coordinated omission) to its first `orders.confirmed` or
            `orders.cancelled` event (CONF) and to its `orders.shipped` or `orders.cancelled` event (FINAL).

            """
        try markdown.write(toFile: base + ".md", atomically: true, encoding: .utf8)
        return files
    }
}
