import Contracts
import Foundation
import Logging
import Messaging
import SagaCheck
import Synchronization
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The five services as real processes against a real nats-server, all on free loopback ports and
/// in a temporary folder, so that they never collide with a running `make up`. `stop()` ends every
/// process by its PID (SIGTERM, then SIGKILL) and removes the folder.
final class Cluster: @unchecked Sendable {
    // @unchecked: the process table is set up in `init` and torn down in `stop`, both by the owning test.
    static let services = ["order", "inventory", "payment", "shipping", "notification"]
    static let adminToken = "e2e-admin-token-0123456789"

    /// The NATS server, or the first node of the NATS cluster (`natsNodes`).
    let nats: NATSServer
    /// Every NATS node: one, or a cluster whose streams keep three replicas.
    let natsNodes: [NATSServer]
    let directory: URL
    private(set) var ports: [String: Int] = [:]
    private var processes: [String: Process] = [:]
    let environment: [String: String]
    let initialStock: [String: Int64]
    /// What each order of `placeLoad` was built to become, by order id.
    let planned = Mutex<[String: Mix]>([:])

    /// Services started from elsewhere than the build, by name.
    let launches: [String: Launch]
    /// Settings of one service only, by name (each service's own database URL, say).
    let serviceEnvironment: [String: [String: String]]

    init(
        dispatchDelay: String = "manual", extraEnvironment: [String: String] = [:], launches: [String: Launch] = [:],
        natsNodes count: Int = 1, serviceEnvironment: [String: [String: String]] = [:]
    ) async throws {
        self.launches = launches
        self.serviceEnvironment = serviceEnvironment
        natsNodes = count == 1 ? [try await NATSServer.start()] : try await NATSServer.cluster(size: count)
        nats = natsNodes[0]
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        environment = [
            "TROUPE_NATS_URL": natsNodes.map(\.url).joined(separator: ","),
            "TROUPE_STREAM_REPLICAS": "\(min(count, 3))",
            "TROUPE_ADMIN_TOKEN": Self.adminToken, "TROUPE_LOG_LEVEL": "warning",
            "TROUPE_SHIPPING_DISPATCH_DELAY": dispatchDelay,
            // Well inside the 30 s the tests wait for quiescence: a delivery that a process never
            // settled (it died, or its answer was lost) comes back in time.
            "TROUPE_ACK_WAIT": "10s",
            "TROUPE_NOTIFY_FILE": directory.appendingPathComponent("notifications.jsonl").path,
        ].merging(extraEnvironment) { _, new in new }
        initialStock = ["SKU-MUG": 100, "SKU-TEAPOT": 5, "SKU-RARE": 1]
        do {
            for service in Self.services { try start(service) }
            try await waitUntilReady()
            try await seed()
        } catch {
            await stop()
            throw error
        }
    }

    func url(_ service: String, _ path: String) -> URL {
        URL(string: "http://127.0.0.1:\(ports[service]!)\(path)")!
    }

    /// How to start a service from elsewhere than the build (a release archive): its binary, and
    /// the environment to give it instead of the test's own (the cluster's settings are its to set).
    struct Launch: Sendable {
        var executable: URL
        var environment: @Sendable (_ settings: [String: String]) throws -> [String: String]
    }

    /// Starts `service`, or another instance of one: `order-2` is a second order service, with its
    /// own port, log and data folder, and the settings `serviceEnvironment` gives `order`.
    func start(_ service: String, environment extra: [String: String] = [:], launch: Launch? = nil) throws {
        if ports[service] == nil { ports[service] = try FreePort.find() }
        let program = String(service.split(separator: "-")[0])
        let process = Process()
        process.executableURL = ProcessRunner.productsDirectory().appendingPathComponent("\(program)-service")
        var environment = self.environment.merging(serviceEnvironment[program] ?? [:]) { _, new in new }
            .merging(extra) { _, new in new }
        environment["TROUPE_HTTP_PORT"] = "\(ports[service]!)"
        if extra["TROUPE_DATA_DIR"] == nil {
            environment["TROUPE_DATA_DIR"] = directory.appendingPathComponent("data/\(service)").path
        }
        if let launch = launch ?? launches[service] {
            process.executableURL = launch.executable
            process.environment = try launch.environment(environment)
        } else {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let log = directory.appendingPathComponent("\(service).log")
        if !FileManager.default.fileExists(atPath: log.path),
            !FileManager.default.createFile(atPath: log.path, contents: nil)
        {
            throw TestSupportError("cannot create \(log.path)")
        }
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[service] = process
    }

    func process(_ service: String) -> Process? { processes[service] }

    /// Forgets a process that ended on its own.
    func forget(_ service: String) { processes.removeValue(forKey: service) }

    /// SIGTERM (graceful) or SIGKILL (a crash) to one service, waiting for it to end.
    func stopService(_ service: String, signal: Int32 = SIGTERM) {
        guard let process = processes.removeValue(forKey: service) else { return }
        Self.terminate(process, signal: signal)
    }

    static func terminate(_ process: Process, signal: Int32) {
        ProcessTable.end(process, signal: signal, grace: 15)
    }

    /// Stops every service (SIGTERM, side by side) and the server, off Swift concurrency's threads.
    func stop() async {
        let running = Array(processes.values)
        processes.removeAll()
        let natsNodes = self.natsNodes
        let directory = self.directory
        _ = try? await Blocking.run {
            DispatchQueue.concurrentPerform(iterations: running.count) { index in
                Self.terminate(running[index], signal: SIGTERM)
            }
            for node in natsNodes { node.stop() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func log(_ service: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("\(service).log"), encoding: .utf8)) ?? ""
    }

    func waitUntilReady(timeout: TimeInterval = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        for service in Self.services {
            while true {
                if let (status, _) = try? await HTTP.request("GET", url(service, "/health/ready")), status == 200 {
                    break
                }
                if let process = processes[service], !process.isRunning {
                    throw TestSupportError("\(service)-service exited: \(log(service).suffix(2000))")
                }
                guard Date() < deadline else {
                    throw TestSupportError("\(service)-service not ready: \(log(service).suffix(2000))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func seed() async throws {
        let prices: [String: Int] = ["SKU-MUG": 1250, "SKU-TEAPOT": 3900, "SKU-RARE": 99_000]
        for (sku, onHand) in initialStock {
            let (status, body) = try await HTTP.request(
                "PUT", url("inventory", "/stock/\(sku)"),
                json: ["name": sku, "unitPrice": prices[sku]!, "currency": "USD", "onHand": onHand], admin: true)
            guard status == 200 else { throw TestSupportError("seeding \(sku): \(status) \(body)") }
        }
        for (customer, limit) in [("cus_rich", 10_000_000), ("cus_poor", 1000)] {
            let (status, body) = try await HTTP.request(
                "PUT", url("payment", "/accounts/\(customer)"), json: ["currency": "USD", "creditLimit": limit],
                admin: true)
            guard status == 200 else { throw TestSupportError("seeding \(customer): \(status) \(body)") }
        }
    }

    // MARK: - The saga through the APIs

    func placeOrder(
        customer: String = "cus_rich", lines: [(String, Int)] = [("SKU-MUG", 2)], country: String = "GB",
        idempotencyKey: String? = nil
    ) async throws -> (status: Int, body: [String: Any]) {
        let body: [String: Any] = [
            "customerId": customer, "lines": lines.map { ["sku": $0.0, "quantity": $0.1] },
            "shippingAddress": [
                "name": "Ada Lovelace", "line1": "12 St James's Sq", "line2": NSNull(), "city": "London",
                "postalCode": "SW1Y 4JH", "country": country,
            ],
        ]
        let (status, response) = try await HTTP.request(
            "POST", url("order", "/orders"), json: body,
            headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:])
        return (status, response)
    }

    func order(_ id: String) async throws -> [String: Any] {
        try await HTTP.request("GET", url("order", "/orders/\(id)")).1
    }

    /// Waits until the order's status is one of `statuses`; returns the order.
    @discardableResult
    func waitForStatus(_ id: String, in statuses: Set<String>, timeout: TimeInterval = 20) async throws -> [String: Any]
    {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let order = try await order(id)
            if let status = order["status"] as? String, statuses.contains(status) { return order }
            guard Date() < deadline else {
                throw TestSupportError(
                    "order \(id) is \(order["status"] ?? "?"), waited for \(statuses)\n\(await whereThingsWait())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Where events wait, for a failure's message: each durable consumer's pending and unacknowledged
    /// messages, and each service's outbox backlog.
    func whereThingsWait() async -> String {
        var lines: [String] = []
        // Services whose consumer has deliveries the server sent again and that nobody acknowledged.
        var stuck: Set<String> = []
        if let connection = try? await nats.connect(name: "e2e-diagnostics") {
            for stream in StreamDefinition.all {
                for consumer in (try? await connection.consumers(of: stream.name)) ?? [] {
                    if consumer.state.ackPending > 0 && consumer.state.redelivered > 0 {
                        stuck.insert(String(consumer.name.prefix { $0 != "-" }))
                    }
                    lines.append(
                        "\(consumer.name): pending \(consumer.state.pending), unacknowledged \(consumer.state.ackPending)"
                            + (consumer.state.ackPending > 0
                                ? ", redelivered \(consumer.state.redelivered), pull requests waiting \(consumer.state.waiting), acknowledged up to \(consumer.state.ackFloorStreamSequence)"
                                : "")
                    )
                }
            }
            await connection.close()
        }
        for service in Self.services {
            let metrics = try? await URLSession.shared.data(from: url(service, "/metrics")).0
            // The outbox, and every event not simply acknowledged (asked for again, retried,
            // dead-lettered) or delivered again: what a handler made of what waits.
            let backlog = String(decoding: metrics ?? Data(), as: UTF8.self).split(separator: "\n")
                .filter {
                    $0.hasPrefix("troupe_outbox")
                        || ($0.hasPrefix("troupe_events_consumed_total") && !$0.contains("outcome=\"ack\""))
                        || $0.hasPrefix("troupe_redeliveries")
                }
            lines.append("\(service): \(backlog.joined(separator: ", "))")
            // A consumer that is no longer bound (its task ended, or it is binding again).
            if let (status, body) = try? await HTTP.request("GET", url(service, "/health/ready")), status != 200 {
                lines.append("  \(service) not ready: \(body["notReady"] ?? body)")
            }
            // What the service itself said about a consumer that made no progress, and anything
            // else it warned of about NATS (a delivery refused or dropped).
            let logLines = log(service).split(separator: "\n")
            let isStall = { (line: Substring) in line.contains("consumer stalled") || line.contains("consumer stopped")
            }
            let stalls = logLines.filter(isStall)
            lines.append(contentsOf: stalls.suffix(4).map { "  \(service) log: \($0.prefix(600))" })
            let warnings = logLines.filter {
                ($0.contains("\"warning\"") || $0.contains("\"error\"") || $0.contains(" warning ")
                    || $0.contains(" error ")) && $0.contains("nats.") && !isStall($0)
            }
            lines.append(contentsOf: warnings.suffix(4).map { "  \(service) warned: \($0.prefix(400))" })
        }
        // The server's side of a stuck service's connection: its subscriptions (the consumers'
        // inboxes among them, with the messages the server sent to each) and what it still holds
        // for the process — whether the deliveries left the server, and for which subscription.
        for service in Self.services where stuck.contains(service) {
            lines.append("  \(service) at the server: " + (await serverView(of: "\(service)-service")))
        }
        // Where each service's threads that deliver or pull stand (a consumer whose deliveries the
        // server counts but the process never handles: docs/pipeline.md, "Open").
        if let gdb = Self.gdb {
            for service in Self.services where stuck.contains(service) {
                guard let process = processes[service], process.isRunning else { continue }
                lines.append("  \(service) threads: " + Self.threadStacks(pid: process.processIdentifier, gdb: gdb))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The connection named `name` as the server's monitoring sees it (`/connz?subs=detail`): its
    /// pending bytes and messages out, and each subscription with the messages sent to it.
    func serverView(of name: String) async -> String {
        guard let monitor = nats.monitorURL,
            let url = URL(string: "\(monitor)/connz?subs=detail&limit=1024"),
            let (data, _) = try? await URLSession.shared.data(from: url),
            let body = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let connections = body["connections"] as? [[String: Any]]
        else { return "monitoring not reachable" }
        let mine = connections.filter { ($0["name"] as? String) == name }
        guard !mine.isEmpty else { return "no connection named \(name)" }
        return mine.map { connection in
            let subscriptions = (connection["subscriptions_list_detail"] as? [[String: Any]] ?? []).map {
                "\($0["subject"] ?? "?") sid \($0["sid"] ?? "?") msgs \($0["msgs"] ?? "?")"
            }
            return "cid \(connection["cid"] ?? "?"), pending bytes \(connection["pending_bytes"] ?? "?"), "
                + "out msgs \(connection["out_msgs"] ?? "?"), subscriptions: \(subscriptions.joined(separator: "; "))"
        }.joined(separator: " | ")
    }

    /// The debugger that can show a process's threads, when the machine has one.
    static let gdb: URL? = ["/usr/bin/gdb", "/usr/local/bin/gdb"].map(URL.init(fileURLWithPath:))
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// The frames of `pid`'s threads that are in nats.c or the pull layer, a few each, on one line
    /// per thread (gdb attaches for a moment).
    static func threadStacks(pid: Int32, gdb: URL) -> String {
        let process = Process()
        process.executableURL = gdb
        process.arguments = ["-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 14"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "gdb did not start" }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var threads: [String] = []
        var current: [String] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("Thread ") {
                if !current.isEmpty { threads.append(current.joined(separator: " < ")) }
                current = [String(line.prefix(70))]
            } else if line.hasPrefix("#") {
                // "#5  0x… in natsCondition_Wait () from …" or "#0  __futex_wait… (…) at …"
                let words = line.split(separator: " ")
                let name =
                    words.firstIndex(of: "in").map { words.index(after: $0) }.flatMap {
                        $0 < words.endIndex ? words[$0] : nil
                    } ?? (words.count > 1 ? words[1] : "?")
                // libc's own frames under a wait say nothing more than the wait itself.
                if !name.hasPrefix("__") { current.append(String(name.prefix(60))) }
            }
        }
        if !current.isEmpty { threads.append(current.joined(separator: " < ")) }
        return threads.filter { $0.contains("nats") || $0.contains("Pull") }.joined(separator: "\n    ")
    }

    /// Waits until nothing more happens: every stream's message count stays put for `quiet`.
    func waitForQuiescence(quiet: Duration = .milliseconds(1500), timeout: Duration = .seconds(30)) async throws {
        let connection = try await nats.connect(name: "e2e-quiescence")
        defer { Task { await connection.close() } }
        let deadline = ContinuousClock.now + timeout
        var last: [UInt64] = []
        var stableSince = ContinuousClock.now
        while ContinuousClock.now < deadline {
            var counts: [UInt64] = []
            var caughtUp = true
            for stream in StreamDefinition.all {
                counts.append((try? await connection.streamState(stream.name).messages) ?? 0)
                // Every service's consumer has taken and acknowledged everything: a message held by
                // a process that died comes back after the ack wait, and is not settled yet.
                for consumer in (try? await connection.consumers(of: stream.name)) ?? []
                where consumer.state.pending > 0 || consumer.state.ackPending > 0 {
                    caughtUp = false
                }
            }
            if counts != last || !caughtUp {
                last = counts
                stableSince = ContinuousClock.now
            } else if ContinuousClock.now - stableSince >= quiet {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("no quiescence within \(timeout); where events wait:\n\(await whereThingsWait())")
    }

    // MARK: - The guarantees

    /// Reads every event from the streams and the final states from the APIs, and checks them.
    func violations(orders ids: [String]) async throws -> [String] {
        try await waitForQuiescence()
        let connection = try await nats.connect(name: "e2e-check")
        var events: [AnyEvent] = []
        var undecodable: [String] = []
        let decoder = EventDecoder()
        // Read by sequence: no consumer is left behind on the streams (`troupe streams` stays clean).
        for stream in StreamDefinition.all where stream.name != DeadLetter.stream {
            for message in try await connection.storedMessages(stream: stream.name) {
                do {
                    events.append(try decoder.decode(message.payload))
                } catch {
                    undecodable.append("\(message.subject): \(error)")
                }
            }
        }
        await connection.close()
        var orders: [SagaCheck.OrderOutcome] = []
        for id in ids {
            orders.append(.init(orderId: id, status: try await order(id)["status"] as? String ?? "?"))
        }
        var stock: [SagaCheck.Stock] = []
        for (sku, initial) in initialStock {
            let item = try await HTTP.request("GET", url("inventory", "/stock/\(sku)")).1
            stock.append(
                .init(
                    sku: sku, initialOnHand: initial, onHand: (item["onHand"] as! NSNumber).int64Value,
                    reserved: (item["reserved"] as! NSNumber).int64Value))
        }
        var accounts: [SagaCheck.Account] = []
        for customer in ["cus_rich", "cus_poor"] {
            let account = try await HTTP.request("GET", url("payment", "/accounts/\(customer)")).1
            accounts.append(
                .init(
                    customerId: customer, authorized: (account["authorized"] as! NSNumber).int64Value,
                    captured: (account["captured"] as! NSNumber).int64Value))
        }
        return SagaCheck(events: events, undecodable: undecodable, orders: orders, stock: stock, accounts: accounts)
            .violations()
    }
}

/// A small JSON-over-HTTP client for the tests (URLSession, loopback only).
enum HTTP {
    static func request(
        _ method: String, _ url: URL, json: [String: Any]? = nil, admin: Bool = false, headers: [String: String] = [:]
    ) async throws -> (Int, [String: Any]) {
        let (status, body, _) = try await exchange(method, url, json: json, admin: admin, headers: headers)
        return (status, body)
    }

    /// `request`, with the response's headers too.
    static func exchange(
        _ method: String, _ url: URL, json: [String: Any]? = nil, admin: Bool = false, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: [String: Any], headers: [String: String]) {
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if admin { request.setValue("Bearer \(Cluster.adminToken)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] {
            if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
        }
        return (http?.statusCode ?? 0, body, fields)
    }
}
