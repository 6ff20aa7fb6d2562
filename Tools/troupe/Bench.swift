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

/// `troupe bench`: the load benchmark (docs/operations.md, "Benchmark") against a running suite.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the running suite with orders at a fixed arrival rate and measure it.",
        discussion: """
            Open loop: orders are sent on a fixed schedule whatever the answers, and each order's latency \
            runs from its scheduled time (not from when it was sent) to the time of its final event \
            (orders.shipped or orders.cancelled), so a slow suite cannot hide its latency by slowing the \
            load down (coordinated omission). A warm-up is sent first and not measured. Reports completed \
            sagas per second, latency percentiles (HDR histogram) to the order's confirmation or \
            cancellation and to its final event, CPU seconds per completed saga, CPU and peak memory per \
            process (from the pid files `make up` writes), then runs `troupe check`. Writes \
            <output>/<time>.json, .md and a latency plot .svg. The shipping dispatch delay of the suite \
            (TROUPE_SHIPPING_DISPATCH_DELAY, 2 s by default) is part of every shipped order's latency.

            --find-max steps the rate up from --start-rate by --growth (each step --step-warmup then \
            --step-duration seconds) until a step fails: a measured order not final within --drain \
            seconds, an order refused or ending otherwise than built to, or p99 to confirmation or \
            cancellation at or above --max-p99-ms. It then tries once halfway between the last good and \
            the first bad rate, and reports the highest rate sustained with every step's figures \
            (<output>/<time>-find-max.json, .md).

            --ceiling-binary (the compiled Tools/nats-ceiling-c/ceiling.c) first measures, on the same \
            server and on streams of its own that it deletes, the broker's ceiling for a saga of the \
            suite's shape in plain nats.c (11 publishes, 19 deliveries, no service logic or database), \
            and every report carries it and the suite's throughput as a fraction of it.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var services: ServiceURLs
    @Option(help: "Orders per second.")
    var rate: Double = 50
    @Option(help: "Keep-alive connections to the order service; a request waits for a free one, in its latency.")
    var connections = 128
    @Option(
        help: """
            Nice value of this tool's threads while it measures, e.g. -10 so that, standing for clients on \
            other machines, it does not wait for a core behind the suite (it then takes more of the CPU \
            the suite would use); 0 leaves it. Below 0 needs root or CAP_SYS_NICE; without them the run \
            goes on at the default.
            """)
    var generatorNice: Int32 = 0
    @Option(help: "Seconds of warm-up (sent, not measured).")
    var warmup: Int = 10
    @Option(help: "Seconds measured.")
    var duration: Int = 60
    @Option(help: "Percentages shipped,out_of_stock,declined,undeliverable.")
    var mix = "85,5,5,5"
    @Option(
        help:
            "Admin bearer token, to seed the bench's products and accounts (env TROUPE_ADMIN_TOKEN, else .troupe/admin-token)."
    )
    var adminToken: String?
    @Option(help: "Folder of <name>.pid files of the processes to measure.")
    var pidsDirectory = ".troupe/run"
    @Option(help: "Folder for the results.")
    var output = "bench/results"
    @Option(help: "Seconds to wait for the measured orders to finish after the last is sent.")
    var drain: Int = 60

    @Flag(help: "Step the rate up and report the highest the suite sustains.")
    var findMax = false
    @Option(help: "--find-max: orders per second of the first step.")
    var startRate: Double = 100
    @Option(help: "--find-max: each step's rate is the previous one's times this.")
    var growth: Double = 1.5
    @Option(help: "--find-max: seconds of warm-up per step.")
    var stepWarmup: Int = 5
    @Option(help: "--find-max: seconds measured per step.")
    var stepDuration: Int = 15
    @Option(help: "--find-max: a step is sustained only with p99 to confirmation or cancellation below this (ms).")
    var maxP99Ms: Double = 100
    @Option(help: "--find-max: steps at most (the refinement not counted).")
    var maxSteps: Int = 12
    @Flag(inversion: .prefixedNo, help: "--find-max: one more step halfway between the last good and first bad rate.")
    var refine = true
    @Option(
        help:
            "--find-max: then overload steps at these multiples of the highest completed rate (comma-separated; empty: none)."
    )
    var overload = "2,5"

    @Option(help: "The compiled Tools/nats-ceiling-c/ceiling.c: measure the broker's saga ceiling first.")
    var ceilingBinary: String?
    @Option(help: "Sagas the ceiling runs (after a tenth as many of warm-up).")
    var ceilingSagas: Int = 5000
    @Option(help: "Sagas the ceiling keeps in flight (closed loop).")
    var ceilingInFlight: Int = 200
    @Option(
        help: "The ceiling's stream storage: file (as the suite's streams) or memory (the broker without its disk).")
    var ceilingStorage = "file"

    func validate() throws {
        guard rate > 0 && rate <= 10_000 else { throw ValidationError("--rate must be in (0, 10000]") }
        guard warmup >= 0, duration > 0 else { throw ValidationError("--warmup ≥ 0 and --duration > 0 seconds") }
        guard drain >= 0 else { throw ValidationError("--drain ≥ 0 seconds") }
        if findMax {
            guard startRate > 0 && startRate <= 10_000 else {
                throw ValidationError("--start-rate must be in (0, 10000]")
            }
            guard growth > 1 else { throw ValidationError("--growth must be above 1") }
            guard stepWarmup >= 0, stepDuration > 0 else {
                throw ValidationError("--step-warmup ≥ 0 and --step-duration > 0 seconds")
            }
            guard maxP99Ms > 0, maxSteps > 0 else { throw ValidationError("--max-p99-ms and --max-steps above 0") }
            guard overloadFactors != nil else {
                throw ValidationError("--overload takes multiples above 1, comma-separated, like 2,5")
            }
        }
        if let ceilingBinary, !FileManager.default.isExecutableFile(atPath: ceilingBinary) {
            throw ValidationError("--ceiling-binary: \(ceilingBinary) is not an executable file")
        }
        guard ceilingSagas > 0, ceilingInFlight > 0 else {
            throw ValidationError("--ceiling-sagas and --ceiling-in-flight above 0")
        }
        guard ["file", "memory"].contains(ceilingStorage) else {
            throw ValidationError("--ceiling-storage file|memory")
        }
        _ = try Self.parseMix(mix)
    }

    /// `--overload` read: the multiples of the highest completed rate to overload the suite with.
    var overloadFactors: [Double]? {
        if overload.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
        let factors = overload.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard factors.allSatisfy({ ($0 ?? 0) > 1 }) else { return nil }
        return factors.compactMap { $0 }
    }

    static func parseMix(_ text: String) throws -> [Kind: Int] {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, parts.allSatisfy({ ($0 ?? -1) >= 0 }), parts.reduce(0, { $0 + ($1 ?? 0) }) == 100 else {
            throw ValidationError(
                "--mix: four percentages that add up to 100 (shipped,out_of_stock,declined,undeliverable)")
        }
        return Dictionary(uniqueKeysWithValues: zip(Kind.allCases, parts.map { $0! }))
    }

    /// What an order of the load is built to become.
    enum Kind: String, CaseIterable, Codable, Sendable {
        case shipped, outOfStock = "out_of_stock", declined, undeliverable

        var expected: (status: String, reason: String?) {
            switch self {
            case .shipped: ("SHIPPED", nil)
            case .outOfStock: ("CANCELLED", "out_of_stock")
            case .declined: ("CANCELLED", "payment_declined")
            case .undeliverable: ("CANCELLED", "shipping_unavailable")
            }
        }
    }

    /// The kind of the index-th order: the mix spread evenly over every 100 orders.
    static func kinds(_ mix: [Kind: Int]) -> [Kind] {
        var slots: [Kind] = []
        for kind in Kind.allCases where kind != .shipped { slots += Array(repeating: kind, count: mix[kind] ?? 0) }
        var spread = Array(repeating: Kind.shipped, count: 100)
        for (index, kind) in slots.enumerated() { spread[(index * 100 / max(slots.count, 1) + 7) % 100] = kind }
        return spread
    }

    func run() async throws {
        let mix = try Self.parseMix(mix)
        let token = try adminTokenValue()
        try await seed(API(), token: token)
        if findMax {
            try await FindMax(bench: self, mix: mix).run()
            return
        }
        let report = try await connection.withConnection { nats in
            try await Self.removeStaleConsumers(nats)
            let ceiling = try await measureCeiling(nats)
            var report = try await withBenchConsumer(nats) { durable in
                try await measure(
                    nats, durable: durable, mix: mix, rate: rate, warmup: warmup, duration: duration, drain: drain)
            }
            report.compare(with: ceiling)
            report.check = try await Self.check(nats, services: services)
            return report
        }
        let files = try report.write(to: output)
        print(report.summary())
        print("\nwrote \(files.joined(separator: ", "))")
        // A run that lost orders, refused them, or broke a guarantee is a failed run.
        if !(report.check?.holds ?? false) || report.unfinished > 0 || report.measuredErrors > 0 { throw ExitCode(1) }
    }

    /// What an interrupted run left behind (no pull request waiting: nobody reads it) goes now,
    /// rather than when the server's inactivity threshold removes it.
    static func removeStaleConsumers(_ nats: NATSConnection) async throws {
        for stale in try await nats.consumers(of: "ORDERS")
        where stale.name.hasPrefix(Self.consumerPrefix) && stale.state.waiting == 0 {
            try? await nats.deleteConsumer(stream: "ORDERS", durable: stale.name)
        }
    }

    /// Runs `body` with a fresh durable consumer of the bench on ORDERS (new events only), deleted afterwards.
    func withBenchConsumer<T>(_ nats: NATSConnection, _ body: (String) async throws -> T) async throws -> T {
        let durable = Self.consumerPrefix + UUID().uuidString.prefix(8).lowercased()
        try await nats.ensureConsumer(
            stream: "ORDERS",
            ConsumerConfiguration(
                durable: durable, filterSubject: "orders.>", deliverPolicy: .new,
                // Gone by itself a minute after a killed run.
                inactiveThreshold: .seconds(60)))
        do {
            let result = try await body(durable)
            try? await nats.deleteConsumer(stream: "ORDERS", durable: durable)
            return result
        } catch {
            try? await nats.deleteConsumer(stream: "ORDERS", durable: durable)
            throw error
        }
    }

    /// `troupe check` over everything in the streams, as the report's last part.
    static func check(_ nats: NATSConnection, services: ServiceURLs) async throws -> BenchReport.Check {
        status("running troupe check …")
        defer { status("") }
        switch try await GuaranteeCheck(services: services, wait: 120).run(nats) {
        case .checked(let violations, let orders, let events):
            return .init(holds: violations.isEmpty, violations: violations, orders: orders, events: events)
        case .notQuiescent(let busy):
            return .init(holds: false, violations: ["not quiescent: " + busy.joined(separator: "; ")])
        }
    }

    /// The broker's saga ceiling, when a binary was given.
    func measureCeiling(_ nats: NATSConnection) async throws -> Ceiling? {
        guard let ceilingBinary else { return nil }
        return try await CeilingRun(
            binary: ceilingBinary, sagas: ceilingSagas, inFlight: ceilingInFlight, storage: ceilingStorage,
            connection: connection
        ).run(nats)
    }

    /// The bench's own durable consumer on ORDERS (`troupe check` does not wait for it).
    static let consumerPrefix = toolConsumerPrefix + "bench-"

    private func adminTokenValue() throws -> String {
        if let adminToken { return adminToken }
        if let token = ProcessInfo.processInfo.environment["TROUPE_ADMIN_TOKEN"], !token.isEmpty { return token }
        if let token = try? String(contentsOfFile: ".troupe/admin-token", encoding: .utf8) {
            return token.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw ValidationError("--admin-token: none given, no TROUPE_ADMIN_TOKEN, no .troupe/admin-token")
    }

    /// The bench's own products and accounts: plenty of stock and credit, none where the mix needs none.
    private func seed(_ api: API, token: String) async throws {
        for (sku, onHand) in [(Self.sku, 1_000_000_000), (Self.emptySKU, 0)] {
            try await api.put(
                services.inventoryURL, "/stock/\(sku)", token: token,
                ["name": "Bench \(sku)", "unitPrice": 100, "currency": "USD", "onHand": onHand])
        }
        for (customer, limit) in [(Self.customer, 1_000_000_000_000), (Self.brokeCustomer, 0)] {
            try await api.put(
                services.paymentURL, "/accounts/\(customer)", token: token, ["currency": "USD", "creditLimit": limit])
        }
    }

    /// Replaces the progress line on a terminal; a plain line otherwise.
    static func status(_ text: String) {
        if isatty(STDERR_FILENO) == 1 {
            FileHandle.standardError.write(Data("\r\(text)\u{1B}[K".utf8))
        } else if !text.isEmpty {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    static let sku = "SKU-BENCH"
    static let emptySKU = "SKU-BENCH-NONE"
    static let customer = "cus_bench"
    static let brokeCustomer = "cus_bench_broke"

    static func body(_ kind: Kind) -> [String: Any] {
        [
            "customerId": kind == .declined ? brokeCustomer : customer,
            "lines": [["sku": kind == .outOfStock ? emptySKU : sku, "quantity": 1]],
            "shippingAddress": [
                "name": "Bench", "line1": "1 Load St", "city": "London", "postalCode": "E1 6AN",
                "country": kind == .undeliverable ? "BR" : "GB",
            ],
        ]
    }

    // MARK: - The run

    /// One measured run at `rate`: warm-up, measured period, drain. `label` prefixes the progress line.
    func measure(
        _ nats: NATSConnection, durable: String, mix: [Kind: Int], rate: Double, warmup: Int, duration: Int,
        drain: Int, label: String = ""
    ) async throws -> BenchReport {
        var logger = Logger(label: "troupe-bench")
        logger.logLevel = .error
        let consumer = try PullConsumer.bind(connection: nats, stream: "ORDERS", durable: durable, logger: logger)
        let tracker = Tracker()
        let listening = Task {
            let decoder = EventDecoder()
            while !Task.isCancelled {
                for message in await consumer.nextBatch(max: 256) {
                    if Self.trackedPrefixes.contains(where: { message.subject.hasPrefix($0) }) {
                        if let event = try? decoder.decode(message.payload) { tracker.observed(event) }
                    }
                    try? message.ack()
                }
            }
        }
        // Pull requests lost or expired while the suite is idle are sent again.
        let maintaining = Task { await consumer.maintain() }
        defer {
            listening.cancel()
            maintaining.cancel()
            _ = consumer.stop()
        }

        let pids = ProcessStats.pids(in: pidsDirectory)
        let kinds = Self.kinds(mix)
        let interval = 1.0 / rate
        let total = Int((Double(warmup + duration) * rate).rounded())
        let start = Date().addingTimeInterval(0.5)
        let measuredFrom = start.addingTimeInterval(Double(warmup))
        let measuredUntil = measuredFrom.addingTimeInterval(Double(duration))
        let sampler = Sampler(pids: pids)
        let client = try BenchClient(url: services.orderURL, connections: connections)
        let nice = generatorNice
        let prioritised = nice != 0 && GeneratorPriority.apply(nice)
        let progress = Task {
            await Self.showProgress(
                tracker, label: label, start: start, warmup: warmup, measuredFrom: measuredFrom, duration: duration,
                until: measuredUntil, everySecond: { if prioritised { GeneratorPriority.apply(nice) } })
        }
        defer { progress.cancel() }

        // Redeliveries counted from the start of the measured period to the end of the drain.
        let serviceURLs = services.all
        let redeliveriesAtStart = Mutex<Task<Redeliveries?, Never>?>(nil)
        // Each request is handed to the client with a completion: no task per request. Whatever is
        // due goes at once; the loop sleeps only until the next one is.
        try await client.run {
            var cpuAtStart = false
            var index = 0
            while index < total {
                let scheduled = start.addingTimeInterval(Double(index) * interval)
                let wait = scheduled.timeIntervalSinceNow
                if wait > 0 {
                    try? await Task.sleep(for: .microseconds(Int64(wait * 1_000_000)))
                    continue
                }
                if !cpuAtStart && scheduled >= measuredFrom {
                    sampler.markStart()
                    cpuAtStart = true
                    redeliveriesAtStart.withLock { $0 = Task { await Redeliveries.read(serviceURLs) } }
                }
                sampler.sample()
                let kind = kinds[index % kinds.count]
                let measured = scheduled >= measuredFrom && scheduled < measuredUntil
                Self.place(kind, scheduled: scheduled, measured: measured, client: client, tracker: tracker)
                index += 1
            }
            if !cpuAtStart {
                sampler.markStart()
                redeliveriesAtStart.withLock { $0 = Task { await Redeliveries.read(serviceURLs) } }
            }
        }
        await client.shutdown()
        let sentAll = Date()
        sampler.markEnd(at: max(Date(), measuredUntil))
        // The measured orders finish (or the drain runs out).
        while tracker.unfinishedMeasured > 0 && Date().timeIntervalSince(sentAll) < Double(drain) {
            try await Task.sleep(for: .milliseconds(200))
            sampler.sample()
        }
        if prioritised { GeneratorPriority.apply(0) }
        var report = tracker.report(
            rate: rate, warmup: warmup, duration: duration, mix: mix, measuredFrom: measuredFrom,
            measuredUntil: measuredUntil, sampler: sampler)
        report.generatorNice = prioritised ? nice : 0
        if let before = await redeliveriesAtStart.withLock({ $0 })?.value,
            let after = await Redeliveries.read(serviceURLs)
        {
            report.redeliveries = after - before
        }
        return report
    }

    /// The events whose times the bench needs: confirmation or cancellation, and the final event.
    static let trackedPrefixes = ["orders.confirmed.", "orders.shipped.", "orders.cancelled."]

    static func place(
        _ kind: Kind, scheduled: Date, measured: Bool, client: BenchClient, tracker: Tracker
    ) {
        guard let json = bodies[kind] else {
            tracker.failed(measured: measured)
            return
        }
        client.post("/orders", json: json) { result in
            let response = try? result.get()
            // Load shed at the door (503 with Retry-After) is an answer, not a failure: nothing was accepted.
            if let response, response.status == 503, response.headers["retry-after"] != nil {
                tracker.refused(measured: measured, answeredIn: response.elapsed)
                return
            }
            guard let response, response.status == 202, let id = orderId(of: response) else {
                tracker.failed(measured: measured)
                return
            }
            tracker.accepted(id, kind: kind, scheduled: scheduled, measured: measured)
        }
    }

    /// The request body of each kind of order, made once: the generator shares the machine with
    /// the suite, and serialising a dictionary per request cost it more than sending it.
    static let bodies: [Kind: Data] = Dictionary(
        uniqueKeysWithValues: Kind.allCases.compactMap { kind in
            (try? JSONSerialization.data(withJSONObject: body(kind))).map { (kind, $0) }
        })

    /// The accepted order's id: from `Location: /orders/<id>` (docs/http.md), without parsing the body;
    /// from the body when the header is missing.
    static func orderId(of response: BenchClient.Response) -> String? {
        if let location = response.headers["location"], location.hasPrefix("/orders/"), location.count > 8 {
            return String(location.dropFirst("/orders/".count))
        }
        let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        return object?["orderId"] as? String
    }

    /// A progress line on standard error: rewritten every second on a terminal, otherwise (a log,
    /// CI) a new line every 5 s and at each change of phase.
    private static func showProgress(
        _ tracker: Tracker, label: String, start: Date, warmup: Int, measuredFrom: Date, duration: Int, until: Date,
        everySecond: () -> Void = {}
    ) async {
        let terminal = isatty(STDERR_FILENO) == 1
        var tick = 0
        var lastPhase = ""
        while !Task.isCancelled {
            defer { tick += 1 }
            let now = Date()
            let phase =
                now < measuredFrom
                ? "warm-up \(Int(max(0, now.timeIntervalSince(start))))/\(warmup) s"
                : now < until
                    ? "measuring \(Int(now.timeIntervalSince(measuredFrom)))/\(duration) s" : "draining"
            let counts = tracker.counts()
            let line =
                label + "\(phase) | sent \(counts.sent) | accepted \(counts.accepted) | finished \(counts.finished) "
                + "| in flight \(counts.accepted - counts.finished) | refused \(counts.refused) | errors \(counts.errors)"
            if terminal {
                FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8))
            } else if tick % 5 == 0 || !phase.hasPrefix(lastPhase) {
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
            lastPhase = String(phase.prefix { $0 != " " })
            everySecond()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
