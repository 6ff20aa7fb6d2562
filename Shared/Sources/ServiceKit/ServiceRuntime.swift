public import Contracts
import Foundation
public import GRDB
public import Hummingbird
public import Logging
public import Messaging
public import Postgres
public import Prometheus
public import ServiceLifecycle
import Synchronization
import UnixSignals

/// The parts every service runs on: settings, logger, NATS connection, store, outbox relay, dead
/// letters and readiness. A service's `buildApplication` asks for one, adds its routes and
/// consumers, and runs it.
public final class ServiceRuntime: Sendable {
    /// What handlers and routes get: settings, logger and store, without the connection.
    public let context: ServiceContext
    public var descriptor: ServiceDescriptor { context.descriptor }
    public var configuration: ServiceConfiguration { context.configuration }
    public var settings: Settings { context.settings }
    public var logger: Logger { context.logger }
    public var store: ServiceStore { context.store }
    public let connection: NATSConnection
    public let deadLetters: DeadLetters
    let streamsReady = ReadyFlag()
    /// The handler of each stream the service reads, by stream name, for replayed dead letters.
    let handlers = HandlerRegistry()
    /// Reads the dead letters `troupe dlq replay` puts back for this service and hands each to the
    /// handler of the stream it first came from.
    public let replay: EventConsumer<AnyEvent>
    /// Requests to answer with an error before they reach the router (load shedding).
    public let earlyRefusal = EarlyRefusal()
    /// Where `/metrics` reads from; nil in tests that build a runtime without Prometheus.
    let metrics: PrometheusCollectorRegistry?

    /// Reads the settings (throwing every problem at once), connects to NATS (in the background if
    /// it is not up yet) and opens the store.
    public init(
        descriptor: ServiceDescriptor, settings: Settings, logger: Logger,
        migrations: (inout DatabaseMigrator) -> Void, postgresMigrations: (inout PGMigrator) -> Void = { _ in },
        metrics: PrometheusCollectorRegistry? = nil
    ) async throws {
        let context = try ServiceContext(
            descriptor: descriptor, settings: settings, logger: logger, migrations: migrations,
            postgresMigrations: postgresMigrations)
        let configuration = context.configuration
        let store = context.store
        _ = try FaultSwitch(ProcessInfo.processInfo.environment[FaultSwitch.variable])
        self.context = context
        self.metrics = metrics
        for (name, value) in settings.summary {
            logger.info("setting", metadata: ["setting": "\(name)", "value": "\(value)"])
        }
        connection = try await NATSConnection.connect(configuration.nats, logger: logger)
        store.outbox.setPublisher(Self.publisher(connection))
        let deadLetters = DeadLetters(connection: connection, service: descriptor.name, logger: logger)
        self.deadLetters = deadLetters
        let decoder = EventDecoder()
        let handlers = self.handlers
        let name = descriptor.name
        replay = EventConsumer(
            connection: connection, stream: DeadLetter.stream,
            consumer: ConsumerConfiguration(
                durable: descriptor.replayConsumer, filterSubject: "\(DeadLetter.replayPrefix(service: name))>",
                ackWait: configuration.ackWait, maxAckPending: 1000),
            deadLetters: deadLetters, prerequisiteTimeout: configuration.prerequisiteTimeout, logger: logger,
            decode: { decoder.decodeMessage($0, subjectPrefix: DeadLetter.replayPrefix(service: name)) },
            handle: { event, message in
                let stream = message.header(DeadLetter.originalStreamHeader) ?? "?"
                guard let handle = handlers[stream] else {
                    return .reject("replayed from stream \(stream), which \(name) does not read")
                }
                // The header is the replayer's word; the event must be one that stream carries, so a
                // replay cannot pass, say, an order's event off as a shipment's to the shipping handler.
                guard Self.stream(stream, carries: event) else {
                    return .reject("replayed from stream \(stream), which never carries a \(event.type) event")
                }
                return try await handle([Delivery(event: event, message: message)])[0].get()
            })
        if let point = FaultSwitch.shared.point {
            logger.warning(
                "test-only crash point armed", metadata: ["fault": "\(point.rawValue)@\(FaultSwitch.shared.occurrence)"]
            )
        }
    }

    /// Whether `stream` (by name) holds events like `event`: its subject is under one of the stream's.
    static func stream(_ stream: String, carries event: AnyEvent) -> Bool {
        StreamDefinition.all.first { $0.name == stream }?.holds(event.natsSubject) ?? false
    }

    /// How committed outbox rows are published at commit (see `OutboxHandoff`).
    static func publisher(_ connection: NATSConnection) -> OutboxHandoff.Publisher {
        { entry, done in
            connection.publishNow(entry.message) { result in
                switch result {
                case .success:
                    ServiceMetrics.published(subjectPrefix: OutboxRelay.eventName(entry.subject), count: 1)
                    FaultSwitch.shared.pass(.afterPublish)
                    done(true)
                case .failure:
                    // Also a wrong last sequence (the subject already holds an event that occurs once): the relay
                    // takes the row and checks whether that event is this one.
                    done(false)
                }
            }
        }
    }

    /// Readiness: NATS connected, streams ensured, every consumer bound, store answering.
    public func healthChecks(consumers: [String: @Sendable () -> Bool]) -> HealthChecks {
        var consumers = consumers
        let replay = self.replay
        consumers[descriptor.replayConsumer] = { replay.isBound }
        var checks = HealthChecks()
        let connection = self.connection
        let streamsReady = self.streamsReady
        let store = self.store
        checks.add("nats") { connection.isConnected }
        checks.add("streams") { streamsReady.value }
        for (name, bound) in consumers.sorted(by: { $0.key < $1.key }) { checks.add("consumer \(name)") { bound() } }
        checks.add("store") { (try? await store.read { db in try db.value(Int.self, "SELECT 1") }) == 1 }
        return checks
    }

    /// Runs the HTTP server, the relay, the stream keeper and `services` until SIGTERM or SIGINT,
    /// then shuts them down gracefully (HTTP first, the relay last) and closes the connection.
    public func run(router: Router<BasicRequestContext>, services: [any Service]) async throws {
        if let metrics { ServiceMetrics.add(to: router, registry: metrics) }
        HTTPKit.answerOtherMethods(on: router)
        let relay = OutboxRelay(store: store, connection: connection, signal: store.outbox.signal, logger: logger)
        let keeper = StreamKeeper(
            connection: connection, service: descriptor.name, streams: descriptor.streams,
            replicas: configuration.streamReplicas,
            ready: streamsReady, logger: logger)
        let earlyRefusal = self.earlyRefusal
        let app = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [earlyRefusal.handler()])),
            configuration: .init(
                address: .hostname(configuration.httpHost, port: configuration.httpPort),
                serverName: "\(descriptor.name)-service"),
            services: [keeper, relay, replay, StorePruner(store: store, logger: logger)] + services,
            logger: logger)
        logger.info(
            "starting", metadata: ["http.address": "\(configuration.httpHost):\(configuration.httpPort)"])
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        await connection.close()
        logger.info("stopped")
    }
}
