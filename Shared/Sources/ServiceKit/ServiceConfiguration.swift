import Foundation
public import Logging
public import Messaging
public import Postgres

/// The settings every service has (docs/operations.md, "Configuration").
public struct ServiceConfiguration: Sendable {
    public var service: String
    public var nats: NATSConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var dataDirectory: String
    /// The PostgreSQL database that keeps the store instead of SQLite under `dataDirectory`.
    public var databaseURL: PGURL?
    public var streamReplicas: Int
    public var adminToken: String?
    public var currency: String
    public var logLevel: Logger.Level
    public var logFormat: String
    /// How long NATS waits for a handler's acknowledgement before it delivers the message again
    /// (also after a crash: what was in flight comes back after this).
    public var ackWait: Duration
    /// How long an event whose prerequisite has not arrived is asked for again before it is dead-lettered.
    public var prerequisiteTimeout: Duration
    /// How long a write waits for the store while another process holds its lock, before the
    /// request answers 503 or the event is retried.
    public var storeBusyTimeout: Duration

    /// The common settings of `service`, with its default HTTP port.
    public static func specs(service: String, defaultPort: Int) -> [SettingSpec] {
        [
            SettingSpec(
                "nats-url", env: "TROUPE_NATS_URL", default: "nats://127.0.0.1:4222", help: "comma-separated NATS URLs"),
            SettingSpec(
                "nats-credentials", env: "TROUPE_NATS_CREDENTIALS", help: "identity file {\"user\",\"password\"}"),
            SettingSpec("nats-tls-ca", env: "TROUPE_NATS_TLS_CA", help: "CA file: connect with TLS"),
            SettingSpec("http-host", env: "TROUPE_HTTP_HOST", default: "127.0.0.1", help: "HTTP listener address"),
            SettingSpec("http-port", env: "TROUPE_HTTP_PORT", default: "\(defaultPort)", help: "HTTP listener port"),
            SettingSpec(
                "data-dir", env: "TROUPE_DATA_DIR", default: ".troupe/data/\(service)", help: "the service's store"),
            SettingSpec(
                "database-url", env: "TROUPE_DATABASE_URL",
                help: "postgres://user:password@host:port/db: the store in PostgreSQL instead of SQLite"),
            SettingSpec(
                "stream-replicas", env: "TROUPE_STREAM_REPLICAS", default: "1", help: "replicas of created streams"),
            SettingSpec(
                "admin-token", env: "TROUPE_ADMIN_TOKEN", secret: true, help: "bearer token of admin endpoints"),
            SettingSpec("currency", env: "TROUPE_CURRENCY", default: "USD", help: "the deployment's one currency"),
            SettingSpec(
                "log-level", env: "TROUPE_LOG_LEVEL", default: "info", help: "trace, debug, info, warning, error"),
            SettingSpec("log-format", env: "TROUPE_LOG_FORMAT", default: "json", help: "json or text"),
            SettingSpec(
                "ack-wait", env: "TROUPE_ACK_WAIT", default: "30s",
                help: "redelivery of an unacknowledged event (1s-10m)"),
            SettingSpec(
                "prerequisite-timeout", env: "TROUPE_PREREQUISITE_TIMEOUT", default: "60s",
                help: "wait for an out-of-order event's prerequisite before dead-lettering it"),
            SettingSpec(
                "store-busy-timeout", env: "TROUPE_STORE_BUSY_TIMEOUT", default: "5s",
                help: "wait for a store locked by another process (100ms-60s)"),
        ]
    }

    /// Reads the common settings, recording every problem in `reader`.
    public static func read(_ reader: inout SettingsReader, service: String) -> ServiceConfiguration {
        var urls: [String] = []
        do {
            urls = try NATSConfiguration.parseURLs(reader.required("nats-url"))
        } catch {
            reader.fail("nats-url", error.message)
        }
        var credentials: NATSCredentials?
        if let path = reader.string("nats-credentials") {
            do { credentials = try NATSCredentials.load(from: path) } catch {
                reader.fail("nats-credentials", error.message)
            }
        }
        let tlsCA = reader.string("nats-tls-ca")
        if let tlsCA, !FileManager.default.isReadableFile(atPath: tlsCA) {
            reader.fail("nats-tls-ca", "cannot read \(tlsCA)")
        }
        var databaseURL: PGURL?
        if let url = reader.string("database-url") {
            do { databaseURL = try PGURL(url) } catch { reader.fail("database-url", error.description) }
        }
        let port = reader.integer("http-port", in: 1...65535)
        let replicas = reader.integer("stream-replicas", in: 1...5)
        let currency = reader.required("currency")
        if currency.count != 3 || !currency.allSatisfy({ $0.isASCII && $0.isUppercase }) {
            reader.fail("currency", "'\(currency)' is not an ISO 4217 code like USD")
        }
        let token = reader.string("admin-token")
        if let token, token.count < 16 {
            reader.fail("admin-token", "must be at least 16 characters")
        }
        let level = reader.oneOf("log-level", ["info", "trace", "debug", "notice", "warning", "error", "critical"])
        let format = reader.oneOf("log-format", ["json", "text"])
        let ackWait = reader.duration("ack-wait") ?? .seconds(30)
        if ackWait < .seconds(1) || ackWait > .seconds(600) {
            reader.fail("ack-wait", "must be between 1s and 10m")
        }
        let prerequisiteTimeout = reader.duration("prerequisite-timeout") ?? .seconds(60)
        if prerequisiteTimeout < .milliseconds(100) {
            reader.fail("prerequisite-timeout", "must be at least 100ms")
        }
        let storeBusyTimeout = reader.duration("store-busy-timeout") ?? .seconds(5)
        if storeBusyTimeout < .milliseconds(100) || storeBusyTimeout > .seconds(60) {
            reader.fail("store-busy-timeout", "must be between 100ms and 60s")
        }
        return ServiceConfiguration(
            service: service,
            nats: NATSConfiguration(
                urls: urls, name: "\(service)-service", credentials: credentials, tlsCAFile: tlsCA,
                inboxPrefix: NATSConfiguration.inboxPrefix(service: service)),
            httpHost: reader.required("http-host"), httpPort: port, dataDirectory: reader.required("data-dir"),
            databaseURL: databaseURL, streamReplicas: replicas, adminToken: token, currency: currency,
            logLevel: Logger.Level(rawValue: level) ?? .info, logFormat: format, ackWait: ackWait,
            prerequisiteTimeout: prerequisiteTimeout, storeBusyTimeout: storeBusyTimeout)
    }
}
