import Foundation
import Messaging
import Testing

@Suite("Message metadata and configuration parsing")
struct MessageMetadataTests {
    @Test func parsesTheOriginalAckSubject() throws {
        let metadata = try #require(
            MessageMetadata(ackSubject: "$JS.ACK.ORDERS.inventory-orders.3.1042.17.1732270000123456789.5"))
        #expect(metadata.stream == "ORDERS")
        #expect(metadata.consumer == "inventory-orders")
        #expect(metadata.deliveryCount == 3)
        #expect(metadata.streamSequence == 1042)
        #expect(metadata.consumerSequence == 17)
        #expect(metadata.timestampNanoseconds == 1_732_270_000_123_456_789)
        #expect(metadata.pending == 5)
    }

    @Test func parsesTheFormWithDomainAndAccountHash() throws {
        let metadata = try #require(
            MessageMetadata(
                ackSubject: "$JS.ACK.hub.ACCHASH.PAYMENTS.shipping-payments.1.9.8.1732270000000000000.0.tok"))
        #expect(metadata.stream == "PAYMENTS")
        #expect(metadata.consumer == "shipping-payments")
        #expect(metadata.deliveryCount == 1)
        #expect(metadata.streamSequence == 9)
    }

    /// Issue 10.3: numbers a server never sends (19 digits beyond Int64, a delivery count of 0) are
    /// refused, not trapped on: a crafted reply subject must not kill the process.
    @Test(arguments: [
        "$JS.ACK.ORDERS.c.9999999999999999999.1.1.1.1", "$JS.ACK.ORDERS.c.1.1.1.9999999999999999999.1",
        "$JS.ACK.ORDERS.c.0.1.1.1.1", "$JS.ACK.hub.ACC.ORDERS.c.9223372036854775808.1.1.1.1.tok",
    ])
    func refusesNumbersOutOfRange(_ subject: String) {
        #expect(MessageMetadata(ackSubject: subject) == nil)
    }

    @Test func acceptsTheLargestNumbersAServerCouldSend() throws {
        let metadata = try #require(
            MessageMetadata(ackSubject: "$JS.ACK.S.c.9223372036854775807.18446744073709551.1.9223372036854775807.0"))
        #expect(metadata.deliveryCount == Int.max)
        #expect(metadata.timestampNanoseconds == Int64.max)
    }

    @Test(arguments: [
        "", "_INBOX.abc", "$JS.ACK.ORDERS.c.x.1.1.1.1", "$JS.ACK.ORDERS.c.1.1.1.1", "$JS.NAK.S.c.1.1.1.1.1",
    ])
    func rejectsWhatIsNotAnAckSubject(_ subject: String) {
        #expect(MessageMetadata(ackSubject: subject) == nil)
    }

    @Test func parsesCommaSeparatedURLs() throws {
        #expect(
            try NATSConfiguration.parseURLs("nats://127.0.0.1:4222, nats://127.0.0.1:4223")
                == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"])
    }

    @Test(arguments: ["", "127.0.0.1:4222", "http://127.0.0.1:4222", "nats://", "nats://a:1,,"])
    func rejectsBadURLsNamingThem(_ list: String) {
        #expect(throws: NATSError.self) { try NATSConfiguration.parseURLs(list) }
    }

    @Test func credentialsFileIsReadAndMasked() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"user":"inventory","password":"s3cret"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let credentials = try NATSCredentials.load(from: path)
        #expect(credentials == NATSCredentials(user: "inventory", password: "s3cret"))
        #expect(!credentials.description.contains("s3cret"))
    }

    @Test func badCredentialsFileNamesTheFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("not json".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: NATSError.self) { try NATSCredentials.load(from: path) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains(path))
        let missing = try #require(throws: NATSError.self) { try NATSCredentials.load(from: path + ".missing") }
        #expect(missing.message.contains(path + ".missing"))
    }
}
