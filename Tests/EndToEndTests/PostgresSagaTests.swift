import Foundation
import TestSupport
import Testing

/// The five services with their stores in PostgreSQL (`TROUPE_DATABASE_URL`, one database each on a
/// real server started by the test), as real processes: the saga, its guarantees, crashes of every
/// service and a restart of the database under load, and the start-up line for a bad database.
@Suite("The saga on PostgreSQL stores", .serialized, .timeLimit(.minutes(5)))
struct PostgresSagaTests {
    /// Short ack wait: what a killed process held comes back quickly.
    static let environment = ["TROUPE_ACK_WAIT": "2s"]

    @Test func mixedOrdersKeepEveryGuaranteeWhileEachServiceIsKilledInTurn() async throws {
        try await withPostgresServer { postgres in
            let databases = try await Self.databases(on: postgres)
            try await withCluster(
                dispatchDelay: "300ms", environment: Self.environment, serviceEnvironment: databases
            ) { cluster in
                async let placed = cluster.placeLoad(count: 60, interval: .milliseconds(80))
                for service in Cluster.services {
                    try await Task.sleep(for: .milliseconds(600))
                    try await cluster.stopServiceAsync(service, signal: SIGKILL)
                    try await Task.sleep(for: .milliseconds(300))
                    try cluster.start(service)
                }
                let ids = await placed
                #expect(ids.count == 60, "every order is eventually accepted (the client retries)")
                try await cluster.waitForAllFinal(ids, timeout: 120)
                // The stores are PostgreSQL's: the order service's events are in its database.
                let stored = try postgres.psql(
                    database: "order_store", "SELECT count(DISTINCT orderid) FROM orderevent")
                #expect(Int(stored) == ids.count)
                return ids
            }
        }
    }

    @Test func aRestartOfTheDatabaseUnderLoadLosesNothing() async throws {
        try await withPostgresServer { postgres in
            let databases = try await Self.databases(on: postgres)
            try await withCluster(
                dispatchDelay: "300ms", environment: Self.environment, serviceEnvironment: databases
            ) { cluster in
                async let placed = cluster.placeLoad(count: 50, interval: .milliseconds(80))
                try await Task.sleep(for: .seconds(1.5))
                // Every connection is ended; writes in flight fail, answer 503 or come back, and
                // the services connect again.
                try await Blocking.run { try postgres.restart() }
                try await Task.sleep(for: .seconds(1))
                try await Blocking.run { postgres.kill() }
                try await Task.sleep(for: .milliseconds(500))
                try await Blocking.run { try postgres.start() }
                let ids = await placed
                #expect(ids.count == 50, "every order is eventually accepted (the client retries)")
                try await cluster.waitForAllFinal(ids, timeout: 120)
                return ids
            }
        }
    }

    @Test func twoInstancesOfEveryServiceShareTheWorkAndSurviveLosingEitherUnderLoad() async throws {
        try await withPostgresServer { postgres in
            let databases = try await Self.databases(on: postgres)
            try await withCluster(
                dispatchDelay: "300ms", environment: Self.environment, serviceEnvironment: databases
            ) { cluster in
                // A second instance of every service on the same database and durable consumers.
                for service in Cluster.services { try cluster.start("\(service)-2") }
                for service in Cluster.services { try await cluster.waitUntilReady("\(service)-2") }
                async let placed = cluster.placeLoad(count: 80, interval: .milliseconds(60))
                // Both instances of every service take deliveries from the shared durable consumers.
                try await Task.sleep(for: .seconds(2.5))
                for service in Cluster.services {
                    for instance in [service, "\(service)-2"] {
                        let consumed = try await cluster.metric(
                            instance, "troupe_events_consumed_total", labels: ["outcome=\"ack\""])
                        #expect(consumed > 0, "\(instance) applied nothing")
                    }
                }
                // Kill one instance of each service in turn, the first and then the second, and
                // bring it back.
                for (round, instance) in ["", "-2"].enumerated() {
                    for service in Cluster.services {
                        try await Task.sleep(for: .milliseconds(round == 0 ? 400 : 250))
                        try await cluster.stopServiceAsync(service + instance, signal: SIGKILL)
                        try await Task.sleep(for: .milliseconds(200))
                        try cluster.start(service + instance)
                    }
                }
                let ids = await placed
                #expect(ids.count == 80, "every order is eventually accepted (the client retries)")
                try await cluster.waitForAllFinal(ids, timeout: 120)
                return ids
            }
        }
    }

    /// What `make cluster-up` runs, under load: three NATS nodes (replicas 3), PostgreSQL, two
    /// instances of every service. A node is lost and brought back, then a node together with an
    /// instance of every service, then the database restarts, then every instance is restarted in
    /// turn (SIGTERM, as an upgrade does); every order ends as planned and every guarantee holds.
    @Test func theScaledSuiteLosesNothingToNodesInstancesTheDatabaseOrARollingRestart() async throws {
        try await withPostgresServer { postgres in
            let databases = try await Self.databases(on: postgres)
            try await withCluster(
                dispatchDelay: "300ms", environment: Self.environment, natsNodes: 3, serviceEnvironment: databases
            ) { cluster in
                for service in Cluster.services { try cluster.start("\(service)-2") }
                for service in Cluster.services { try await cluster.waitUntilReady("\(service)-2") }
                // (As many orders as the cluster's seeded stock lets ship as planned.)
                async let placed = cluster.placeLoad(count: 100, interval: .milliseconds(70))
                // One node for two seconds.
                try await Task.sleep(for: .seconds(1))
                try await Blocking.run { cluster.natsNodes[1].kill() }
                try await Task.sleep(for: .seconds(2))
                try await Blocking.run { try cluster.natsNodes[1].start() }
                // The first node (every service's URL list names it first) and an instance of every
                // service at once.
                try await Task.sleep(for: .seconds(1))
                try await Blocking.run { cluster.natsNodes[0].kill() }
                for service in Cluster.services { try await cluster.stopServiceAsync(service, signal: SIGKILL) }
                try await Task.sleep(for: .seconds(2))
                try await Blocking.run { try cluster.natsNodes[0].start() }
                for service in Cluster.services { try cluster.start(service) }
                // The database restarts (every session ended).
                try await Task.sleep(for: .seconds(1))
                try await Blocking.run { try postgres.restart() }
                // A rolling restart: each instance stopped gracefully and started again, one at a time.
                for service in Cluster.services {
                    for instance in [service, "\(service)-2"] {
                        try await cluster.stopServiceAsync(instance, signal: SIGTERM)
                        try cluster.start(instance)
                        try await cluster.waitUntilReady(instance)
                    }
                }
                let ids = await placed
                #expect(ids.count == 100, "every order is eventually accepted (the client retries)")
                try await cluster.waitForAllFinal(ids, timeout: 150)
                return ids
            }
        }
    }

    @Test func aBadOrUnreachableDatabaseStopsTheServiceWithOneLine() async throws {
        let binary = ProcessRunner.productsDirectory().appendingPathComponent("payment-service")
        let port = try FreePort.find()
        for (url, expected) in [
            ("mysql://u:p@127.0.0.1/db", "TROUPE_DATABASE_URL"),
            (
                "postgres://troupe:s3cret@127.0.0.1:\(port)/payments",
                "cannot connect to postgres://troupe:***@127.0.0.1"
            ),
        ] {
            let output = try await Blocking.run {
                try ProcessRunner.run(
                    binary, [],
                    environment: [
                        "TROUPE_DATABASE_URL": url, "TROUPE_NATS_URL": "nats://127.0.0.1:\(port)",
                        "TROUPE_HTTP_PORT": "\(try FreePort.find())",
                    ],
                    timeout: .seconds(30))
            }
            #expect(output.status != 0)
            let lines = output.standardError.split(separator: "\n").filter { $0.contains("TROUPE_DATABASE_URL") }
            #expect(lines.count == 1, "\(output.standardError)")
            #expect(lines.first?.contains(expected) == true, "\(output.standardError)")
            #expect(!output.standardError.contains("s3cret"))
        }
    }

    /// One database per service, and the environment that gives each its own.
    static func databases(on postgres: PostgresServer) async throws -> [String: [String: String]] {
        try await Blocking.run {
            var environment: [String: [String: String]] = [:]
            for service in Cluster.services {
                environment[service] = ["TROUPE_DATABASE_URL": try postgres.createDatabase("\(service)_store")]
            }
            return environment
        }
    }
}
