import Foundation

/// How to reach NATS: servers, identity, TLS, and reconnection behaviour.
public struct NATSConfiguration: Sendable {
    /// Server URLs (`nats://host:port`); the client picks one and fails over to the others.
    public var urls: [String]
    /// The connection name the server shows in its monitoring (for example `inventory-service`).
    public var name: String
    /// User and password, when the server requires them.
    public var credentials: NATSCredentials?
    /// A CA certificate file (PEM): connect with TLS and verify the server against it.
    public var tlsCAFile: String?
    /// How long one connection attempt may take.
    public var connectTimeout: Duration
    /// The pause between two reconnection attempts to the same server.
    public var reconnectWait: Duration
    /// Bytes kept while disconnected (publishes and acknowledgements), replayed on reconnect.
    public var reconnectBufferBytes: Int
    /// How long JetStream API requests (stream and consumer management) may take.
    public var apiTimeout: Duration
    /// When true (the default), `connect` returns at once even if no server is reachable yet and the
    /// connection is made in the background; `state` tells when it is up.
    public var waitForServer: Bool
    /// The prefix of every inbox this connection receives replies and deliveries on (nats.c's
    /// default is `_INBOX`). A service uses `_INBOX_<service>`, so that the server can let each
    /// identity subscribe to its own inboxes only: no service reads or forges another's
    /// deliveries and replies. A valid subject without wildcards.
    public var inboxPrefix: String

    public init(
        urls: [String] = ["nats://127.0.0.1:4222"],
        name: String = "troupe",
        credentials: NATSCredentials? = nil,
        tlsCAFile: String? = nil,
        connectTimeout: Duration = .seconds(2),
        reconnectWait: Duration = .milliseconds(250),
        reconnectBufferBytes: Int = 32 * 1024 * 1024,
        apiTimeout: Duration = .seconds(5),
        waitForServer: Bool = true,
        inboxPrefix: String = "_INBOX"
    ) {
        self.urls = urls
        self.name = name
        self.credentials = credentials
        self.tlsCAFile = tlsCAFile
        self.connectTimeout = connectTimeout
        self.reconnectWait = reconnectWait
        self.reconnectBufferBytes = reconnectBufferBytes
        self.apiTimeout = apiTimeout
        self.waitForServer = waitForServer
        self.inboxPrefix = inboxPrefix
    }

    /// The inbox prefix of a service's connection: `_INBOX_<service>`.
    public static func inboxPrefix(service: String) -> String { "_INBOX_\(service)" }

    /// Splits a comma-separated list of URLs (the form of `TROUPE_NATS_URL`), rejecting empty or
    /// non-NATS entries with an error that names the offending entry.
    public static func parseURLs(_ list: String) throws(NATSError) -> [String] {
        let urls = list.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !urls.isEmpty else {
            throw NATSError(code: .invalidConfiguration, message: "no NATS server URL given")
        }
        for url in urls {
            guard let parsed = URLComponents(string: url), let scheme = parsed.scheme,
                ["nats", "tls"].contains(scheme), let host = parsed.host, !host.isEmpty
            else {
                throw NATSError(
                    code: .invalidConfiguration,
                    message: "'\(url)' is not a NATS URL (expected nats://host:port or tls://host:port)")
            }
        }
        return urls
    }
}

/// A NATS identity: the JSON file `{"user": "…", "password": "…"}` that `make up` generates per service.
public struct NATSCredentials: Sendable, Hashable, Codable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Reads an identity file; the error names the file and what is wrong with it.
    public static func load(from path: String) throws(NATSError) -> NATSCredentials {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw NATSError(code: .invalidConfiguration, message: "cannot read NATS credentials file \(path): \(error)")
        }
        do {
            let credentials = try JSONDecoder().decode(NATSCredentials.self, from: data)
            guard !credentials.user.isEmpty else {
                throw NATSError(code: .invalidConfiguration, message: "NATS credentials file \(path) has an empty user")
            }
            return credentials
        } catch let error as NATSError {
            throw error
        } catch {
            throw NATSError(
                code: .invalidConfiguration,
                message: "NATS credentials file \(path) is not {\"user\": …, \"password\": …}")
        }
    }

    /// Masks the password, so that configuration can be printed at start.
    public var description: String { "\(user):****" }
}

extension Duration {
    /// Whole milliseconds, the unit of nats.c call timeouts.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, the unit of durations inside nats.c and JetStream configurations.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
