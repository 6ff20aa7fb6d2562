import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import NotificationService

/// A webhook receiver on a free loopback port: answers 503 to the first `failures` requests, then 200.
private final class Receiver: Sendable {
    let requests = Mutex<[(body: Data, signature: String?)]>([])
    let failures: Int

    init(failures: Int) { self.failures = failures }

    func run(port: Int) async throws {
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let count = self.requests.withLock { requests -> Int in
                requests.append((Data(body.readableBytesView), request.headers[HTTPField.Name("Troupe-Signature")!]))
                return requests.count
            }
            return count <= self.failures ? .serviceUnavailable : .ok
        }
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}

@Suite("Notification webhook: signed, retried with back-off", .serialized, .timeLimit(.minutes(1)))
struct WebhookChannelTests {
    func deliver(failures: Int, attempts: Int) async throws -> ([String: String], [(body: Data, signature: String?)]) {
        let port = try FreePort.find()
        let receiver = Receiver(failures: failures)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let channels = Channels(
            file: nil, webhook: URL(string: "http://127.0.0.1:\(port)/hook")!, webhookSecret: "s3cret",
            webhookAttempts: attempts, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await receiver.run(port: port) }
            defer { group.cancelAll() }
            while !FreePort.isListening(port) { try await Task.sleep(for: .milliseconds(20)) }
            let result = await channels.deliver(["orderId": "ord_1", "template": "order_shipped"])
            return (result, receiver.requests.withLock { $0 })
        }
    }

    @Test func deliversSignedAfterTransientFailures() async throws {
        let (failures, requests) = try await deliver(failures: 2, attempts: 5)
        #expect(failures.isEmpty)
        #expect(requests.count == 3)
        let body = try #require(requests.last?.body)
        let expected = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data("s3cret".utf8)))
        #expect(requests.last?.signature == "sha256=" + expected.map { String(format: "%02x", $0) }.joined())
        let json = try JSONSerialization.jsonObject(with: body) as? [String: String]
        #expect(json?["orderId"] == "ord_1")
    }

    @Test func reportsTheWebhookAsFailedAfterItsAttempts() async throws {
        let (failures, requests) = try await deliver(failures: 10, attempts: 3)
        #expect(requests.count == 3)
        #expect(failures["webhook"]?.contains("503") == true)
        #expect(failures["webhook"]?.contains("3 attempts") == true)
    }
}
