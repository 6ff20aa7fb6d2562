import Foundation
import Histogram

/// What `troupe bench` measured: written as JSON, as a Markdown summary and as a latency plot (SVG).
struct BenchReport: Codable {
    struct Latency: Codable {
        var count: UInt64
        var p50Ms: Double
        var p90Ms: Double
        var p99Ms: Double
        var p999Ms: Double
        var maxMs: Double
        var meanMs: Double

        init(_ histogram: Histogram<UInt64>) {
            func ms(_ micros: UInt64) -> Double { (Double(micros) / 1000).rounded(toPlaces: 1) }
            count = histogram.totalCount
            p50Ms = count == 0 ? 0 : ms(histogram.valueAtPercentile(50))
            p90Ms = count == 0 ? 0 : ms(histogram.valueAtPercentile(90))
            p99Ms = count == 0 ? 0 : ms(histogram.valueAtPercentile(99))
            p999Ms = count == 0 ? 0 : ms(histogram.valueAtPercentile(99.9))
            maxMs = count == 0 ? 0 : ms(histogram.max)
            meanMs = count == 0 ? 0 : (histogram.mean / 1000).rounded(toPlaces: 1)
        }
    }

    struct Process: Codable {
        var cpuSeconds: Double
        /// Of one core, over the measured period.
        var cpuPercent: Double
        var peakResidentBytes: UInt64
        var residentBytes: UInt64
    }

    struct Check: Codable {
        var holds: Bool
        var violations: [String]
        var orders: Int = 0
        var events: Int = 0
    }

    struct PlotPoint: Codable {
        var percentile: Double
        var ms: Double
    }

    var date: String
    var rate: Double
    var warmupSeconds: Int
    var durationSeconds: Int
    var mix: [String: Int]
    /// Every order sent, warm-up included, and those the order service did not accept.
    var sent: Int
    /// Requests that failed: no answer, or an answer other than 202 and a load-shedding 503.
    var errors: Int
    /// Orders the order service shed at the door (503 with `Retry-After`): answered, not accepted.
    var refused: Int
    /// Orders scheduled in the measured period; of them, failed, refused, finished and not finished.
    var measuredOrders: Int
    var measuredErrors: Int
    var measuredRefused: Int
    var finished: Int
    var unfinished: Int
    /// Final events (shipped or cancelled) in the measured period, per second.
    var completedPerSecond: Double
    /// Final events in each second from the start of the measured period to the last one seen.
    var completedBySecond: [Int]
    /// For each second of the measured period, the p99 to confirmation or cancellation (ms) of the
    /// orders scheduled in it: a pause of the suite shows as one slow second, where the period's
    /// p99 only says that some orders were slow. Absent in reports made before it.
    var confirmationP99BySecond: [Double]? = nil
    /// How long the order service took to refuse an order, from the request's sending to its
    /// answer (the client's own wait for a free connection not included); absent with no refusal.
    var refusalLatency: Latency?
    /// Scheduled POST /orders → the order's final event (orders.shipped or orders.cancelled).
    var latency: Latency
    /// Scheduled POST /orders → its first orders.confirmed or orders.cancelled: when the customer
    /// learns the outcome, which the dispatch delay does not stretch (the --find-max criterion).
    var latencyToConfirmation: Latency
    var latencyByKind: [String: Latency]
    var unexpectedOutcomes: [String]
    var unexpectedCount: Int
    var processes: [String: Process]
    /// Of every measured process together over the measured period; absent when there was none to
    /// measure (no pid files), so that a missing figure never reads as zero.
    var cpuSeconds: Double?
    /// `cpuSeconds` over the sagas completed in the same period: the suite's cost of one order,
    /// comparable between rates and machines of similar speed (absent if none completed).
    var cpuSecondsPerSaga: Double?
    /// `cpuSeconds` over the period's length.
    var coresUsed: Double?
    /// The load generator (this tool) shares the machine: its own cores over the period.
    var generatorCores: Double
    /// The nice value the generator ran at (`--generator-nice`; 0 when it was not raised); absent
    /// in reports made before it.
    var generatorNice: Int32? = nil
    var plot: [PlotPoint]
    var confirmationPlot: [PlotPoint]
    /// The broker's saga ceiling measured just before (`--ceiling-binary`), and the completed sagas
    /// per second as a fraction of it.
    var ceiling: Ceiling?
    var fractionOfCeiling: Double?
    var check: Check?
    /// Deliveries the five services got again, from the start of the measured period to the end
    /// of the drain, and how many of them the services had handed back themselves; nil when their
    /// metrics could not be read.
    var redeliveries: Redeliveries? = nil

    var cpuPerSagaText: String { cpuSecondsPerSaga.map { String(format: "%.4f", $0) } ?? "-" }
    var coresText: String { coresUsed?.formatted2 ?? "-" }
    var niceText: String { generatorNice.map { $0 == 0 ? "" : " (at nice \($0))" } ?? "" }

    mutating func compare(with ceiling: Ceiling?) {
        self.ceiling = ceiling
        fractionOfCeiling = ceiling.flatMap {
            $0.sagasPerSecond > 0 ? (completedPerSecond / $0.sagasPerSecond).rounded(toPlaces: 4) : nil
        }
    }

    /// Latency at percentiles spaced evenly on the usual HDR axis (1 / (1 − p)).
    static func plotPoints(_ histogram: Histogram<UInt64>) -> [PlotPoint] {
        guard histogram.totalCount > 0 else { return [] }
        return (0...56).map { step in
            let percentile = min(100 * (1 - pow(2, -Double(step) / 4)), 99.9999)
            return PlotPoint(
                percentile: percentile, ms: Double(histogram.valueAtPercentile(percentile)) / 1000)
        }
    }

    // MARK: - Output

    func summary() -> String {
        var lines: [String] = []
        let mixText = ["shipped", "out_of_stock", "declined", "undeliverable"].map { "\(mix[$0] ?? 0)% \($0)" }
        lines.append("Troupe load benchmark, \(date)")
        lines.append(
            "offered \(rate.formatted1) orders/s (open loop), \(warmupSeconds) s warm-up, \(durationSeconds) s measured; "
                + mixText.joined(separator: ", "))
        lines.append("")
        lines.append(
            "completed sagas: \(completedPerSecond.formatted1)/s; measured orders \(measuredOrders): "
                + "\(finished) finished, \(unfinished) unfinished, \(measuredRefused) refused (503, Retry-After), "
                + "\(measuredErrors) failed")
        if let refusalLatency {
            lines.append("refusals answered in (ms): " + refusalLatency.percentiles)
        }
        lines.append("redeliveries to the services: " + (redeliveries?.text ?? "- (metrics not read)"))
        lines.append("latency POST → confirmation or cancellation (ms): " + latencyToConfirmation.percentiles)
        if let bySecond = confirmationP99BySecond,
            let slowest = bySecond.indices.max(by: { bySecond[$0] < bySecond[$1] })
        {
            let median = bySecond.sorted()[bySecond.count / 2]
            lines.append(
                "  its p99 second by second: median \(median.formatted1) ms, slowest \(bySecond[slowest].formatted1) ms "
                    + "(orders scheduled in second \(slowest + 1) of \(bySecond.count))")
        }
        lines.append("latency POST → final event (ms): " + latency.percentiles)
        for (kind, value) in latencyByKind.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(kind): \(value.count) orders, p50 \(value.p50Ms)  p99 \(value.p99Ms)  max \(value.maxMs)")
        }
        if unexpectedCount > 0 {
            lines.append("unexpected outcomes: \(unexpectedCount), e.g. \(unexpectedOutcomes[0])")
        }
        lines.append(
            coresUsed == nil
                ? "CPU: not measured (no pid files); load generator \(generatorCores.formatted2) cores\(niceText)"
                : "CPU: \(cpuPerSagaText) s per completed saga, \(coresText) cores (all measured processes); "
                    + "load generator \(generatorCores.formatted2) cores\(niceText)")
        if let ceiling { lines.append(ceiling.summary(fraction: fractionOfCeiling)) }
        lines.append("")
        lines.append(
            contentsOf: table(
                header: ["PROCESS", "CPU s", "CPU %", "PEAK RSS", "RSS"],
                rows: processes.sorted(by: { $0.key < $1.key }).map { name, process in
                    [
                        name, process.cpuSeconds.formatted1, process.cpuPercent.formatted1,
                        Self.mebibytes(process.peakResidentBytes), Self.mebibytes(process.residentBytes),
                    ]
                }))
        if let check {
            lines.append("")
            lines.append(
                check.holds
                    ? "troupe check: all guarantees hold (\(check.orders) orders, \(check.events) events)"
                    : "troupe check: \(check.violations.count) violations, e.g. \(check.violations.first ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    static func mebibytes(_ bytes: UInt64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// The report's date as a file name that every file system takes.
    static func stamp(_ date: String) -> String {
        date.replacingOccurrences(of: ":", with: "-").replacingOccurrences(of: ".", with: "-")
    }

    /// Writes `<stamp>.json`, `<stamp>.md` and `<stamp>.svg` into `directory`; returns their paths.
    func write(to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stamp = Self.stamp(date)
        let base = "\(directory)/\(stamp)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: base + ".json"))
        try svg().write(toFile: base + ".svg", atomically: true, encoding: .utf8)
        try rateSVG().write(toFile: base + "-rate.svg", atomically: true, encoding: .utf8)
        let markdown = """
            # Troupe load benchmark, \(date)

            ```
            \(summary())
            ```

            ![latency by percentile](\(stamp).svg)

            ![completed sagas per second](\(stamp)-rate.svg)

            Raw numbers: [\(stamp).json](\(stamp).json). Latency runs from each order's scheduled send time to
            the time of its first `orders.confirmed` or `orders.cancelled` event, and to its `orders.shipped` or
            `orders.cancelled` event (open loop, no coordinated omission).

            """
        try markdown.write(toFile: base + ".md", atomically: true, encoding: .utf8)
        return [base + ".json", base + ".md", base + ".svg", base + "-rate.svg"]
    }

    /// Completed sagas in each second of the run and its drain, against the offered rate: under
    /// overload the curve stays level (or it collapses), and after the last order it shows the drain.
    func rateSVG() -> String {
        let frame = PlotFrame(height: 300, bottom: 45)
        let seconds = max(completedBySecond.count, durationSeconds, 1)
        let maxY = max(Double(completedBySecond.max() ?? 0), rate, 1) * 1.1
        let (left, top, bottom, height) = (frame.left, frame.top, frame.bottom, frame.height)
        func x(_ second: Double) -> Double { left + frame.plotWidth * second / Double(seconds) }
        func y(_ value: Double) -> Double { frame.y(value, maxY: maxY) }
        var svg = frame.opening(title: "Troupe: completed sagas per second, \(rate.formatted1) orders/s offered")
        svg += frame.valueGrid(maxY: maxY, unit: "")
        let end = x(Double(durationSeconds)).rounded(toPlaces: 1)
        svg +=
            "<line x1=\"\(end)\" y1=\"\(top)\" x2=\"\(end)\" y2=\"\(height - bottom)\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>\n"
        svg += "<text x=\"\(end + 4)\" y=\"\(top + 12)\">last order sent</text>\n"
        let offered = y(rate).rounded(toPlaces: 1)
        svg +=
            "<line x1=\"\(left)\" y1=\"\(offered)\" x2=\"\(end)\" y2=\"\(offered)\" stroke=\"#ff7f0e\" stroke-dasharray=\"6\"/>\n"
        let points = completedBySecond.enumerated().map { second, count in
            "\(x(Double(second) + 0.5).rounded(toPlaces: 1)),\(y(Double(count)).rounded(toPlaces: 1))"
        }
        svg +=
            "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
        svg += frame.closing(xLabel: "seconds from the start of the measured period (dashed orange: offered rate)")
        return svg
    }

    /// Latency by percentile, the usual HDR plot: x is 1 / (1 − p) on a log scale; to confirmation or
    /// cancellation and to the final event.
    func svg() -> String {
        Self.svg(
            title: "Troupe: latency from POST /orders, \(rate.formatted1) orders/s",
            series: [
                ("→ confirmation or cancellation", "#ff7f0e", confirmationPlot), ("→ final event", "#1f77b4", plot),
            ])
    }

    static func svg(title: String, series: [(name: String, color: String, points: [PlotPoint])]) -> String {
        let frame = PlotFrame(height: 400, bottom: 50)
        let (left, top, bottom, height) = (frame.left, frame.top, frame.bottom, frame.height)
        let all = series.flatMap(\.points)
        let maxX = all.map { log10(1 / (1 - $0.percentile / 100)) }.max() ?? 1
        let maxY = max(all.map(\.ms).max() ?? 1, 1) * 1.1
        func x(_ percentile: Double) -> Double {
            left + frame.plotWidth * log10(1 / (1 - percentile / 100)) / max(maxX, 1)
        }
        func y(_ ms: Double) -> Double { frame.y(ms, maxY: maxY) }
        var svg = frame.opening(title: title)
        for percentile in [0.0, 50, 90, 99, 99.9, 99.99, 99.999] where log10(1 / (1 - percentile / 100)) <= maxX + 1e-9
        {
            let px = x(percentile).rounded(toPlaces: 1)
            svg += "<line x1=\"\(px)\" y1=\"\(top)\" x2=\"\(px)\" y2=\"\(height - bottom)\" stroke=\"#ddd\"/>\n"
            svg +=
                "<text x=\"\(px)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(percentile.percentLabel)</text>\n"
        }
        svg += frame.valueGrid(maxY: maxY, unit: " ms")
        for (index, line) in series.enumerated() {
            let points = line.points.map { "\(x($0.percentile).rounded(toPlaces: 1)),\(y($0.ms).rounded(toPlaces: 1))" }
            svg +=
                "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            let legendY = top + 16 + 18 * Double(index)
            svg +=
                "<line x1=\"\(left + 12)\" y1=\"\(legendY - 4)\" x2=\"\(left + 36)\" y2=\"\(legendY - 4)\" "
                + "stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(left + 42)\" y=\"\(legendY)\">\(line.name)</text>\n"
        }
        svg += frame.closing(xLabel: "percentile")
        return svg
    }
}

/// The frame both report plots are drawn in: the size, the margins, the title, the horizontal grid
/// with its labels, the x axis's label.
struct PlotFrame {
    let width = 720.0
    var height: Double
    let left = 70.0
    let right = 20.0
    let top = 40.0
    var bottom: Double

    var plotWidth: Double { width - left - right }

    /// The y of `value` on a vertical scale from 0 to `maxY`.
    func y(_ value: Double, maxY: Double) -> Double { height - bottom - (height - top - bottom) * value / maxY }

    func opening(title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(left))" y="24" font-size="15">\(title)</text>

        """
    }

    /// Five horizontal lines from 0 to `maxY`, each labelled with its value and `unit`.
    func valueGrid(maxY: Double, unit: String) -> String {
        var svg = ""
        for tick in 0...4 {
            let value = maxY * Double(tick) / 4
            let py = y(value, maxY: maxY)
            svg += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(width - right)\" y2=\"\(py)\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(py + 4)\" text-anchor=\"end\">\(Int(value.rounded()))\(unit)</text>\n"
        }
        return svg
    }

    func closing(xLabel: String) -> String {
        "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(xLabel)</text>\n</svg>\n"
    }
}

extension BenchReport.Latency {
    var percentiles: String { "p50 \(p50Ms)  p90 \(p90Ms)  p99 \(p99Ms)  p99.9 \(p999Ms)  max \(maxMs)" }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }

    var formatted1: String { String(format: "%.1f", self) }
    var formatted2: String { String(format: "%.2f", self) }

    var percentLabel: String {
        self == self.rounded() ? "\(Int(self))%" : "\(self)%"
    }
}
