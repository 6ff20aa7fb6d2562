import Logging
import Messaging
import ServiceKit
import Testing

@Suite("Settings: flags, environment fallbacks, one clear line per bad setting")
struct SettingsTests {
    let specs = ServiceConfiguration.specs(service: "inventory", defaultPort: 8082)

    @Test func flagsWinOverTheEnvironmentWhichWinsOverDefaults() throws {
        let settings = try Settings(
            specs: specs, arguments: ["--http-port", "9000", "--log-level=debug"],
            environment: ["TROUPE_HTTP_PORT": "9100", "TROUPE_CURRENCY": "EUR"])
        var reader = SettingsReader(settings)
        let configuration = ServiceConfiguration.read(&reader, service: "inventory")
        try reader.finish()
        #expect(configuration.httpPort == 9000)
        #expect(configuration.currency == "EUR")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.dataDirectory == ".troupe/data/inventory")
        #expect(configuration.ackWait == .seconds(30))
        #expect(configuration.prerequisiteTimeout == .seconds(60))
        #expect(configuration.storeBusyTimeout == .seconds(5))
        #expect(configuration.nats.urls == ["nats://127.0.0.1:4222"])
        #expect(configuration.nats.name == "inventory-service")
    }

    @Test func everyBadSettingIsNamedOnItsOwnLine() throws {
        let settings = try Settings(
            specs: specs, arguments: [],
            environment: [
                "TROUPE_HTTP_PORT": "http", "TROUPE_NATS_URL": "localhost:4222", "TROUPE_CURRENCY": "usd",
                "TROUPE_LOG_LEVEL": "loud", "TROUPE_ADMIN_TOKEN": "short", "TROUPE_ACK_WAIT": "500ms",
                "TROUPE_PREREQUISITE_TIMEOUT": "10ms", "TROUPE_STORE_BUSY_TIMEOUT": "2m",
            ])
        var reader = SettingsReader(settings)
        _ = ServiceConfiguration.read(&reader, service: "inventory")
        let error = try #require(throws: SettingsError.self) { try reader.finish() }
        #expect(error.problems.count == 8)
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_HTTP_PORT: 'http'") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_NATS_URL:") && $0.contains("localhost:4222") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_CURRENCY: 'usd'") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_LOG_LEVEL: 'loud'") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_ADMIN_TOKEN:") && !$0.contains("short") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_ACK_WAIT:") && $0.contains("between 1s and 10m") })
        #expect(error.problems.contains { $0.hasPrefix("TROUPE_PREREQUISITE_TIMEOUT:") })
        #expect(
            error.problems.contains { $0.hasPrefix("TROUPE_STORE_BUSY_TIMEOUT:") && $0.contains("100ms and 60s") })
    }

    @Test func unknownFlagsAndMissingValuesAreErrors() {
        let error = #expect(throws: SettingsError.self) {
            _ = try Settings(specs: specs, arguments: ["--nope", "1", "--http-port"], environment: [:])
        }
        #expect(error?.problems == ["unknown flag --nope", "unexpected argument '1'", "--http-port needs a value"])
    }

    @Test func secretsAreMaskedInTheSummary() throws {
        let settings = try Settings(
            specs: specs, arguments: ["--admin-token", "0123456789abcdef-secret"], environment: [:])
        let line = try #require(settings.summary.first { $0.0 == "TROUPE_ADMIN_TOKEN" })
        #expect(line.1 == "**** [flag]")
    }

    @Test(arguments: [
        ("250ms", 250), ("2s", 2000), ("1m", 60000), ("1h", 3_600_000), ("9200000000s", 9_200_000_000_000),
    ])
    func durationsParse(_ text: String, _ milliseconds: Int64) {
        #expect(SettingsReader.parseDuration(text) == .milliseconds(milliseconds))
    }

    // The last ones are longer than 64-bit nanoseconds can count: refused, not a trap later.
    @Test(arguments: ["", "2", "s", "-1s", "2 s", "1d", "9223372036854775807h", "9300000000s", "3000000000000000s"])
    func badDurationsDoNot(_ text: String) {
        #expect(SettingsReader.parseDuration(text) == nil)
    }
}
