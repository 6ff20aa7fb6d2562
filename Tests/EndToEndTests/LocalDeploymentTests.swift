import Foundation
import Logging
import Messaging
import TestSupport
import Testing

/// `make up` / `make down` as an operator runs them (`deploy/local/troupe.sh`), with TLS, in a state
/// folder and on ports of the test's own, with the debug binaries.
@Suite("make up and make down, with TLS", .serialized, .timeLimit(.minutes(3)))
struct LocalDeploymentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("deploy/local/troupe.sh")

    struct Deployment {
        let state: URL
        let environment: [String: String]
        let natsPort: Int
        let ports: [String: Int]

        /// `cluster`: ports for `cluster-up`'s three servers (three in a row each for clients,
        /// monitoring and routes), and no TLS.
        init(cluster: Bool = false, postgres: Bool = false) throws {
            state = FileManager.default.temporaryDirectory.appendingPathComponent(
                "troupe-up-\(UUID().uuidString.prefix(8))")
            natsPort = cluster ? try FreePort.findRun(3) : try FreePort.find()
            var ports: [String: Int] = [:]
            for service in Cluster.services { ports[service] = try FreePort.find() }
            self.ports = ports
            var environment = [
                "TROUPE_STATE": state.path, "TROUPE_BIN": ProcessRunner.productsDirectory().path,
                "TROUPE_NATS_PORT": "\(natsPort)",
                "TROUPE_NATS_MONITOR_PORT": "\(cluster ? try FreePort.findRun(3) : try FreePort.find())",
                "TROUPE_TLS": cluster ? "0" : "1", "TROUPE_ADMIN_TOKEN": Cluster.adminToken,
                "TROUPE_LOG_LEVEL": "warning", "TROUPE_SHIPPING_DISPATCH_DELAY": "300ms",
            ]
            if cluster { environment["TROUPE_NATS_ROUTE_PORT"] = "\(try FreePort.findRun(3))" }
            if cluster || postgres { environment["TROUPE_POSTGRES_PORT"] = "\(try FreePort.find())" }
            if postgres { environment["TROUPE_POSTGRES"] = "1" }
            for (service, port) in ports { environment["TROUPE_\(service.uppercased())_PORT"] = "\(port)" }
            self.environment = environment
        }

        func run(_ command: String) async throws -> ProcessRunner.Output {
            try await ProcessRunner.runLeavingDaemons(
                URL(fileURLWithPath: "/bin/bash"), [LocalDeploymentTests.script.path, command],
                environment: environment, timeout: .seconds(120))
        }

        /// The last lines of every log, to say why something was not ready.
        func logTails() -> String {
            let logs = state.appendingPathComponent("logs").path
            var text = ""
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).sorted() {
                let log = (try? String(contentsOfFile: "\(logs)/\(file)", encoding: .utf8)) ?? ""
                text += "--- \(file) ---\n\(log.suffix(1500))\n"
            }
            return text
        }

        /// The pids of the pid files, by name.
        func pids() -> [String: Int32] {
            let run = state.appendingPathComponent("run").path
            var pids: [String: Int32] = [:]
            for file in (try? FileManager.default.contentsOfDirectory(atPath: run)) ?? [] where file.hasSuffix(".pid") {
                let text = (try? String(contentsOfFile: "\(run)/\(file)", encoding: .utf8)) ?? ""
                if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    pids[String(file.dropLast(4))] = pid
                }
            }
            return pids
        }

        /// `down`, then SIGKILL for anything still alive, then the folder goes.
        func tearDown() async {
            let left = pids()
            _ = try? await run("down")
            for pid in left.values where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: state)
        }
    }

    @Test func upWithTLSStartsEverythingAgainChangesNothingAndDownStopsIt() async throws {
        let deployment = try Deployment()
        do {
            try await exercise(deployment)
        } catch {
            await deployment.tearDown()
            throw error
        }
        await deployment.tearDown()
    }

    /// `make cluster-up`: three NATS servers in one cluster, every stream in three replicas,
    /// PostgreSQL with a database per service, two instances of every service connected to all three
    /// servers and to their service's database; `up` on that state starts nothing new, `make up`'s
    /// single server is refused on it, an order placed at the second order instance ships, and `down`
    /// stops every process.
    @Test func clusterUpRunsTheSuiteOnThreeServersAndDownStopsThem() async throws {
        let deployment = try Deployment(cluster: true)
        do {
            try await exerciseCluster(deployment)
        } catch {
            await deployment.tearDown()
            throw error
        }
        await deployment.tearDown()
    }

    /// `make up POSTGRES=1`: one NATS server, one instance of each service, every store in its own
    /// database on PostgreSQL; an order ships, `up` again starts nothing, `down` stops everything.
    @Test func upWithPostgresKeepsEveryStoreInItsDatabase() async throws {
        let deployment = try Deployment(postgres: true)
        do {
            let up = try await deployment.run("up")
            #expect(up.status == 0, "\(up.standardOutput)\n\(up.standardError)\n\(deployment.logTails())")
            let first = deployment.pids()
            #expect(Set(first.keys) == Set(Cluster.services + ["nats-server", "postgres"]), "\(first)")
            let port = deployment.environment["TROUPE_POSTGRES_PORT"]!
            for service in Cluster.services {
                let environment = try String(contentsOfFile: "/proc/\(first[service] ?? 0)/environ", encoding: .utf8)
                    .split(separator: "\0")
                let database = environment.first { $0.hasPrefix("TROUPE_DATABASE_URL=") } ?? ""
                #expect(database.hasSuffix("@127.0.0.1:\(port)/troupe_\(service)"), "\(service): \(database)")
            }
            try await Self.orderShips(placedAt: deployment.ports["order"]!, readFrom: deployment.ports["order"]!)
            let again = try await deployment.run("up")
            #expect(again.status == 0 && deployment.pids() == first, "\(again.standardError)")
            let down = try await deployment.run("down")
            #expect(down.status == 0)
            for (name, pid) in first { #expect(kill(pid, 0) != 0, "\(name) still runs") }
        } catch {
            await deployment.tearDown()
            throw error
        }
        await deployment.tearDown()
    }

    /// Places an order at the order service on `placedAt` and waits (10 s at most) until the one on
    /// `readFrom` says it shipped.
    static func orderShips(placedAt: Int, readFrom: Int) async throws {
        let (status, placed) = try await HTTP.request(
            "POST", URL(string: "http://127.0.0.1:\(placedAt)/orders")!,
            json: [
                "customerId": "cus_42", "lines": [["sku": "SKU-RED-MUG", "quantity": 1]],
                "shippingAddress": [
                    "name": "Ada", "line1": "1 Sq", "city": "London", "postalCode": "SW1", "country": "GB",
                ],
            ])
        #expect(status == 202, "\(placed)")
        let id = try #require(placed["orderId"] as? String)
        var final = ""
        for _ in 0..<100 where final != "SHIPPED" {
            try await Task.sleep(for: .milliseconds(100))
            final =
                (try? await HTTP.request("GET", URL(string: "http://127.0.0.1:\(readFrom)/orders/\(id)")!))?
                .1["status"] as? String ?? ""
        }
        #expect(final == "SHIPPED")
    }

    func exerciseCluster(_ deployment: Deployment) async throws {
        let up = try await deployment.run("cluster-up")
        #expect(up.status == 0, "\(up.standardOutput)\n\(up.standardError)\n\(deployment.logTails())")
        #expect(up.standardOutput.contains("All five services are ready"), "\(up.standardOutput)")
        let first = deployment.pids()
        let instances = Cluster.services.flatMap { ["\($0)-1", "\($0)-2"] }
        #expect(Set(first.keys) == Set(instances + ["nats-1", "nats-2", "nats-3", "postgres"]), "\(first)")
        let urls = (0..<3).map { "nats://127.0.0.1:\(deployment.natsPort + $0)" }
        let postgresPort = deployment.environment["TROUPE_POSTGRES_PORT"]!
        for instance in instances {
            let environment = try String(
                contentsOfFile: "/proc/\(first[instance] ?? 0)/environ", encoding: .utf8
            ).split(separator: "\0")
            let service = String(instance.dropLast(2))
            #expect(environment.contains("TROUPE_NATS_URL=\(urls.joined(separator: ","))"), "\(instance)")
            #expect(environment.contains("TROUPE_STREAM_REPLICAS=3"), "\(instance)")
            let port = deployment.ports[service]! + (instance.hasSuffix("-2") ? 1000 : 0)
            #expect(environment.contains("TROUPE_HTTP_PORT=\(port)"), "\(instance)")
            let database = environment.first { $0.hasPrefix("TROUPE_DATABASE_URL=") } ?? ""
            #expect(
                database.hasPrefix("TROUPE_DATABASE_URL=postgres://troupe:")
                    && database.hasSuffix("@127.0.0.1:\(postgresPort)/troupe_\(service)"), "\(instance): \(database)")
        }
        var logger = Logger(label: "e2e")
        logger.logLevel = .critical
        let admin = try NATSCredentials.load(
            from: deployment.state.appendingPathComponent("secrets/admin.nats.json").path)
        let asAdmin = try await NATSConnection.connect(
            NATSConfiguration(urls: urls, name: "e2e-cluster-admin", credentials: admin, waitForServer: false),
            logger: logger)
        for stream in ["ORDERS", "INVENTORY", "PAYMENTS", "SHIPPING", "NOTIFICATIONS", "DEADLETTER"] {
            let state = try await asAdmin.streamState(stream)
            #expect(state.replicas == 3 && state.peers == 3, "\(stream): \(state)")
        }
        await asAdmin.close()
        // An order placed at the second order instance ships across the cluster; the first reads it
        // from the shared database.
        try await Self.orderShips(placedAt: deployment.ports["order"]! + 1000, readFrom: deployment.ports["order"]!)
        // Again on the same state: the cluster's, nothing new started; a single server is refused.
        let again = try await deployment.run("up")
        #expect(again.status == 0, "\(again.standardError)")
        #expect(deployment.pids() == first)
        let status2 = try await deployment.run("status")
        #expect(status2.standardOutput.contains("nats-3            running"), "\(status2.standardOutput)")
        #expect(status2.standardOutput.contains("postgres          running"), "\(status2.standardOutput)")
        let lines = status2.standardOutput.split(separator: "\n")
        for instance in instances {
            let line = lines.first { $0.hasPrefix("\(instance)-service ") } ?? ""
            #expect(
                line.contains("running") && line.contains(", ready,"),
                "\(status2.standardOutput)\n\(deployment.logTails())")
        }
        let down = try await deployment.run("down")
        #expect(down.status == 0)
        for (name, pid) in first { #expect(kill(pid, 0) != 0, "\(name) still runs") }
        #expect(deployment.pids().isEmpty)
    }

    func exercise(_ deployment: Deployment) async throws {
        let secrets = deployment.state.appendingPathComponent("secrets")
        let up = try await deployment.run("up")
        #expect(up.status == 0, "\(up.standardOutput)\n\(up.standardError)\n\(deployment.logTails())")
        #expect(up.standardOutput.contains("All five services are ready"), "\(up.standardOutput)")
        let ca = secrets.appendingPathComponent("tls/ca.pem").path
        #expect(up.standardOutput.contains("TLS only (CA: \(ca))"), "\(up.standardOutput)")
        let key = try FileManager.default.attributesOfItem(
            atPath: secrets.appendingPathComponent("tls/server.key").path)
        #expect((key[.posixPermissions] as? Int).map { $0 & 0o077 } == 0, "the server key is private")
        let first = deployment.pids()
        #expect(Set(first.keys) == Set(Cluster.services + ["nats-server"]))
        // This state is a single server's: `cluster-up` on it is refused, and starts nothing.
        let clusterOnSingle = try await deployment.run("cluster-up")
        #expect(clusterOnSingle.status != 0, "\(clusterOnSingle.standardOutput)")
        #expect(clusterOnSingle.standardError.contains("make clean"), "\(clusterOnSingle.standardError)")
        #expect(deployment.pids() == first)

        // NATS speaks TLS only: a client that does not trust the local CA is refused; with it, it gets in.
        let url = "nats://127.0.0.1:\(deployment.natsPort)"
        let admin = secrets.appendingPathComponent("admin.nats.json").path
        let troupe = ProcessRunner.productsDirectory().appendingPathComponent("troupe")
        // (Any CA but the local one: a throw-away one made here, so that the check never depends on
        // what the machine happens to trust.)
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-other-ca-\(UUID())")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let otherCA = elsewhere.appendingPathComponent("ca.pem").path
        let made = try await ProcessRunner.run(
            try Executables.find("openssl"),
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-troupe",
                "-keyout", elsewhere.appendingPathComponent("ca.key").path, "-out", otherCA,
            ],
            timeout: .seconds(60))
        #expect(made.status == 0, "\(made.standardError)")
        let refused = try await ProcessRunner.run(
            troupe, ["streams", "--nats-url", url, "--credentials", admin, "--tls-ca", otherCA],
            timeout: .seconds(60))
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("SSL"), "\(refused.standardError)")
        let streams = try await ProcessRunner.run(
            troupe, ["streams", "--nats-url", url, "--tls-ca", ca, "--credentials", admin], timeout: .seconds(60))
        #expect(streams.status == 0, "\(streams.standardError)")
        #expect(streams.standardOutput.contains("inventory-orders"), "\(streams.standardOutput)")

        // A service's identity may use the JetStream API for its own streams and consumers only.
        let orderIdentity = try NATSCredentials.load(from: secrets.appendingPathComponent("order.nats.json").path)
        var logger = Logger(label: "e2e")
        logger.logLevel = .critical
        let asOrder = try await NATSConnection.connect(
            NATSConfiguration(
                urls: [url], name: "e2e-as-order", credentials: orderIdentity, tlsCAFile: ca, waitForServer: false,
                inboxPrefix: NATSConfiguration.inboxPrefix(service: "order")),
            logger: logger)
        let ordersBefore = try await asOrder.streamState("ORDERS").messages
        await #expect(throws: NATSError.self) { try await asOrder.deleteStream("ORDERS") }
        #expect(try await asOrder.streamState("ORDERS").messages == ordersBefore, "ORDERS is still there")
        // Issue 10.5: nor may it change another producer's stream (here: widen INVENTORY to a subject
        // of its choosing) or create one; the services themselves only read the others.
        let inventoryStream = StreamConfiguration(name: "INVENTORY", subjects: ["inventory.>"])
        var widened = inventoryStream
        widened.subjects.append("sealed.>")
        await #expect(throws: NATSError.self) { try await asOrder.ensureStream(widened, ownership: .own) }
        await #expect(throws: NATSError.self) {
            try await asOrder.ensureStream(StreamConfiguration(name: "ROGUE", subjects: ["rogue.>"]), ownership: .own)
        }
        await asOrder.close()

        // Issue 10.2: a service publishes its own dead letters only; replays are the operator's.
        let notificationIdentity = try NATSCredentials.load(
            from: secrets.appendingPathComponent("notification.nats.json").path)
        let asNotification = try await NATSConnection.connect(
            NATSConfiguration(
                urls: [url], name: "e2e-as-notification", credentials: notificationIdentity, tlsCAFile: ca,
                waitForServer: false, inboxPrefix: NATSConfiguration.inboxPrefix(service: "notification")),
            logger: logger)
        let lettersBefore = try await asNotification.streamState("DEADLETTER").messages
        await #expect(throws: NATSError.self, "no replay for payment from the notification identity") {
            try await asNotification.publish(
                OutgoingMessage(
                    subject: "deadletter.replay.payment.shipping.dispatched.ord_forged", payload: Array("{}".utf8),
                    headers: ["Troupe-Original-Stream": "SHIPPING"], messageId: "forged-replay"),
                timeout: .seconds(2))
        }
        await #expect(throws: NATSError.self, "nor a dead letter in another service's name") {
            try await asNotification.publish(
                OutgoingMessage(
                    subject: "deadletter.payment.orders.placed.ord_forged", payload: Array("{}".utf8),
                    messageId: "forged-letter"),
                timeout: .seconds(2))
        }
        _ = try await asNotification.publish(
            OutgoingMessage(
                subject: "deadletter.notification.orders.placed.ord_own", payload: Array("{}".utf8),
                messageId: "own-letter"))
        #expect(
            try await asNotification.streamState("DEADLETTER").messages == lettersBefore + 1,
            "its own dead letter, and nothing else, was stored")

        // Issue 10.1: each service receives on its own inboxes (`_INBOX_<service>`) and no other
        // identity can read them or write into them. The operator's subscriptions are the control:
        // they see the order service's deliveries, and a message sent to the order's inbox.
        let asAdmin = try await NATSConnection.connect(
            NATSConfiguration(
                urls: [url], name: "e2e-as-admin", credentials: try NATSCredentials.load(from: admin), tlsCAFile: ca,
                waitForServer: false),
            logger: logger)
        #expect(
            try await asAdmin.ensureStream(inventoryStream, ownership: .others) == .unchanged,
            "INVENTORY is as its producer made it")
        await #expect(throws: NATSError.self, "no ROGUE stream") { try await asAdmin.streamState("ROGUE") }
        let orderInboxes = NATSConfiguration.inboxPrefix(service: "order") + ".>"
        let snooped = try asNotification.subscribeCore(subject: orderInboxes)
        let watched = try asAdmin.subscribeCore(subject: orderInboxes)
        let allInboxes = try asNotification.subscribeCore(subject: "_INBOX.>")
        let forgedInbox = NATSConfiguration.inboxPrefix(service: "order") + ".forged"
        let target = try asAdmin.subscribeCore(subject: forgedInbox)
        try await asAdmin.flush()
        try asNotification.publishCore(subject: forgedInbox, payload: Array("forged delivery".utf8))
        try await asNotification.flush()

        // The seeded demo data, and an order that goes all the way over TLS.
        let order = try #require(deployment.ports["order"])
        let (status, placed) = try await HTTP.request(
            "POST", URL(string: "http://127.0.0.1:\(order)/orders")!,
            json: [
                "customerId": "cus_42", "lines": [["sku": "SKU-RED-MUG", "quantity": 2]],
                "shippingAddress": [
                    "name": "Ada Lovelace", "line1": "12 St James Sq", "city": "London", "postalCode": "SW1Y 4JH",
                    "country": "GB",
                ],
            ])
        #expect(status == 202, "\(placed)")
        let id = try orderId(placed)
        var final = ""
        let deadline = Date().addingTimeInterval(30)
        while !["SHIPPED", "CANCELLED"].contains(final) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            final =
                try await HTTP.request("GET", URL(string: "http://127.0.0.1:\(order)/orders/\(id)")!).1["status"]
                as? String ?? ""
        }
        #expect(final == "SHIPPED")
        // Everything under the state folder (stores, logs, NATS's store, pid files, secrets) is its
        // owner's alone.
        var open: [String] = []
        if let walker = FileManager.default.enumerator(atPath: deployment.state.path) {
            for case let path as String in walker {
                let full = deployment.state.appendingPathComponent(path).path
                let mode =
                    (try FileManager.default.attributesOfItem(atPath: full)[.posixPermissions] as? NSNumber)?
                    .intValue ?? 0
                if mode & 0o077 != 0 { open.append("\(path) \(String(mode, radix: 8))") }
            }
        }
        #expect(open.isEmpty, "readable by others: \(open.prefix(10))")
        #expect(FileManager.default.fileExists(atPath: deployment.state.appendingPathComponent("data/order").path))
        _ = try await asAdmin.streamState("ORDERS")  // a reply on the operator's default inbox
        try await asAdmin.flush()
        #expect(watched.received > 0, "the order service receives its deliveries on \(orderInboxes)")
        #expect(snooped.received == 0, "the notification identity reads none of them")
        #expect(allInboxes.received == 0, "nor the operator's replies on the default inboxes")
        #expect(target.received == 0, "and cannot write into the order's inbox")
        try asAdmin.publishCore(subject: forgedInbox, payload: Array("control".utf8))
        try await asAdmin.flush()
        #expect(target.received == 1, "the operator's own message to it arrives")
        await asNotification.close()
        await asAdmin.close()

        // Again: everything is running, nothing is started twice.
        let again = try await deployment.run("up")
        #expect(again.status == 0, "\(again.standardError)")
        #expect(again.standardOutput.contains("nats-server       running (pid \(first["nats-server"] ?? 0), with TLS)"))
        #expect(deployment.pids() == first)

        let down = try await deployment.run("down")
        #expect(down.status == 0, "\(down.standardError)")
        for (name, pid) in first { #expect(kill(pid, 0) != 0, "\(name) still runs") }

        // A stale pid file whose number now belongs to another program: that program is neither
        // reported as the service nor signalled.
        let stranger = Process()
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stranger.arguments = ["60"]
        try stranger.run()
        defer { if stranger.isRunning { stranger.terminate() } }
        try Data("\(stranger.processIdentifier)\n".utf8).write(
            to: deployment.state.appendingPathComponent("run/order.pid"))
        let listed = try await deployment.run("status")
        #expect(
            !listed.standardOutput.contains("running (pid \(stranger.processIdentifier))"), "\(listed.standardOutput)")
        #expect(listed.standardOutput.contains("order-service"), "\(listed.standardOutput)")
        _ = try await deployment.run("down")
        #expect(stranger.isRunning, "down never signals a process that is not the service")
        #expect(!FileManager.default.fileExists(atPath: deployment.state.appendingPathComponent("run/nats.tls").path))
    }
}
