public import Foundation
public import GRDB
public import Hummingbird
import Logging
import Messaging
import Metrics
public import Postgres
import Prometheus
public import ServiceLifecycle

/// The body of every service's thin `main`: settings (flags, then `TROUPE_*`), logging, runtime,
/// the service's own routes and consumers, run until SIGTERM.
public enum ServiceMain {
    public typealias Build =
        @Sendable (ServiceRuntime) async throws -> (router: Router<BasicRequestContext>, services: [any Service])

    public static func run(
        _ descriptor: ServiceDescriptor, arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        migrations: @escaping (inout DatabaseMigrator) -> Void,
        postgresMigrations: @escaping (inout PGMigrator) -> Void = { _ in }, build: Build
    ) async {
        let program = "\(descriptor.name)-service"
        if arguments.contains("--describe") {
            print(descriptor.topology, terminator: "")
            return
        }
        if arguments.contains("--environment-example") {
            print(environmentExample(descriptor), terminator: "")
            return
        }
        if arguments.contains("--help") {
            print("usage: \(program) [--flag value]...  (each flag also read from its TROUPE_* variable)")
            print("       \(program) --environment-example  (an environment file naming every setting)")
            print("       \(program) --describe  (its streams, consumers and inbox, for deployment scripts)")
            for spec in ServiceConfiguration.specs(service: descriptor.name, defaultPort: descriptor.defaultPort)
                + descriptor.settings
            {
                print(
                    "  --\(spec.flag) (\(spec.environment))\(spec.defaultValue.map { " default \($0)" } ?? ""): \(spec.help)"
                )
            }
            return
        }
        do {
            let specs =
                ServiceConfiguration.specs(service: descriptor.name, defaultPort: descriptor.defaultPort)
                + descriptor.settings
            let settings = try Settings(specs: specs, arguments: arguments, environment: environment)
            var reader = SettingsReader(settings)
            let configuration = ServiceConfiguration.read(&reader, service: descriptor.name)
            try reader.finish()
            Logger.bootstrap(service: descriptor.name, format: configuration.logFormat, level: configuration.logLevel)
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let logger = Logger(label: program)
            let runtime = try await ServiceRuntime(
                descriptor: descriptor, settings: settings, logger: logger, migrations: migrations,
                postgresMigrations: postgresMigrations, metrics: registry)
            let (router, services) = try await build(runtime)
            try await runtime.run(router: router, services: services)
        } catch let error as SettingsError {
            for problem in error.problems { FileHandle.standardError.write(Data("\(program): \(problem)\n".utf8)) }
            exit(2)
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            await NATSLibrary.closeAndWait()
            exit(1)
        }
        // The runtime and its connection are released by now: nats.c goes before the exit's
        // clean-up does (a connection over TLS still closing could crash it).
        let start = ContinuousClock.now
        let released = await NATSLibrary.closeAndWait()
        Logger(label: program).log(
            level: released ? .debug : .warning,
            released ? "nats.c released" : "nats.c still in use at exit",
            metadata: ["duration": "\(ContinuousClock.now - start)"])
    }

    /// An environment file (systemd's `EnvironmentFile=`, compose's `env_file:`) naming every setting
    /// the service accepts, each with what it means and its default, commented out: uncommenting a
    /// line is the only edit an operator makes. The release archive carries it (docs/deployment.md).
    public static func environmentExample(_ descriptor: ServiceDescriptor) -> String {
        let specs =
            ServiceConfiguration.specs(service: descriptor.name, defaultPort: descriptor.defaultPort)
            + descriptor.settings
        var text = """
            # \(descriptor.name)-service: every setting it accepts, commented out at its default.
            # A flag (--name value) wins over its variable. Settings marked (secret) make this
            # file a secret too: keep it readable by root only (mode 0600).

            """
        for spec in specs {
            text += "\n# \(spec.help)\(spec.secret ? " (secret)" : "")\n"
            text += "#\(spec.environment)=\(spec.defaultValue ?? "")\n"
        }
        return text
    }
}
