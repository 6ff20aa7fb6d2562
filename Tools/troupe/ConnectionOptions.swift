import ArgumentParser
import Foundation
import Logging
import Messaging

/// How the tool reaches NATS: the same variables as the services, and by default the operator
/// identity that `make up` generates.
struct ConnectionOptions: ParsableArguments {
    static let defaultCredentials = ".troupe/secrets/admin.nats.json"

    @Option(help: "Comma-separated NATS URLs (env TROUPE_NATS_URL).")
    var natsURL: String = ProcessInfo.processInfo.environment["TROUPE_NATS_URL"] ?? "nats://127.0.0.1:4222"

    @Option(
        help: ArgumentHelp(
            "NATS identity file {\"user\",\"password\"} (env TROUPE_NATS_CREDENTIALS).",
            discussion: "Defaults to \(defaultCredentials) when that file exists."))
    var credentials: String?

    @Option(
        help: ArgumentHelp(
            "CA file: connect with TLS (env TROUPE_NATS_TLS_CA).",
            discussion: "Defaults to the CA of a server started by `make up TLS=1` (named in \(tlsMarker))."))
    var tlsCA: String?

    /// Written by `make up TLS=1` while its server runs: the path of the CA to trust.
    static let tlsMarker = ".troupe/run/nats.tls"

    static func markedCA() -> String? {
        (try? String(contentsOfFile: tlsMarker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The identity to connect with: --credentials, TROUPE_NATS_CREDENTIALS, else `make up`'s operator file if any.
    func identity() throws -> NATSCredentials? {
        let path =
            credentials ?? ProcessInfo.processInfo.environment["TROUPE_NATS_CREDENTIALS"]
            ?? (FileManager.default.fileExists(atPath: Self.defaultCredentials) ? Self.defaultCredentials : nil)
        guard let path else { return nil }
        do { return try NATSCredentials.load(from: path) } catch {
            throw ValidationError("--credentials: \(error.message)")
        }
    }

    /// The CA to trust (TLS): --tls-ca, TROUPE_NATS_TLS_CA, else the one `make up TLS=1` names.
    func caFile() -> String? {
        tlsCA ?? ProcessInfo.processInfo.environment["TROUPE_NATS_TLS_CA"] ?? Self.markedCA()
    }

    /// Connects, failing at once (with the reason) when no server answers.
    func connect() async throws -> NATSConnection {
        let urls: [String]
        do { urls = try NATSConfiguration.parseURLs(natsURL) } catch {
            throw ValidationError("--nats-url: \(error.message)")
        }
        let identity = try self.identity()
        var logger = Logger(label: "troupe")
        logger.logLevel = .error
        let configuration = NATSConfiguration(
            urls: urls, name: "troupe-cli", credentials: identity, tlsCAFile: caFile(), waitForServer: false)
        do {
            return try await NATSConnection.connect(configuration, logger: logger)
        } catch {
            throw CLIError("cannot connect to NATS at \(natsURL): \(error)")
        }
    }
}

extension ConnectionOptions {
    /// Connects, runs `body`, and closes the connection whatever `body` did.
    func withConnection<T>(_ body: (NATSConnection) async throws -> T) async throws -> T {
        let nats = try await connect()
        do {
            let result = try await body(nats)
            await nats.close()
            return result
        } catch {
            await nats.close()
            throw error
        }
    }
}

/// The tool's own consumers (`troupe-read-…`, `troupe-bench-…`): `check` does not wait for them.
let toolConsumerPrefix = "troupe-"

/// The layer's logger for the tool: errors only.
func toolLogger() -> Logger {
    var logger = Logger(label: "troupe")
    logger.logLevel = .error
    return logger
}

/// A failure the tool reports in one line, exiting with status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
