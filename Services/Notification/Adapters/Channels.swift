import Crypto
import Foundation
import Logging
import Messaging
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where notifications go: a log line always, a JSON-lines file, an HTTP webhook.
struct Channels: Sendable {
    var file: String? { fileSink?.path }
    var webhook: URL?
    var webhookSecret: String?
    var webhookAttempts: Int
    let logger: Logger
    private let fileSink: AppendOnlyFile?

    init(file: String?, webhook: URL?, webhookSecret: String?, webhookAttempts: Int = 5, logger: Logger) {
        self.fileSink = file.map(AppendOnlyFile.init(path:))
        self.webhook = webhook
        self.webhookSecret = webhookSecret
        self.webhookAttempts = webhookAttempts
        self.logger = logger
    }

    var names: [String] { ["log"] + (file == nil ? [] : ["file"]) + (webhook == nil ? [] : ["webhook"]) }

    /// Delivers on every channel; returns the channels that failed, with why.
    func deliver(_ notification: [String: String]) async -> [String: String] {
        var failures: [String: String] = [:]
        logger.info(
            "notification",
            metadata: notification.mapValues { .string($0) }.merging(["channel": "log"]) { a, _ in a })
        let body = Data(JSONText.object(notification).utf8)
        if let fileSink {
            do { try fileSink.append(body) } catch { failures["file"] = "\(error)" }
        }
        if let webhook {
            if let failure = await post(body, to: webhook) { failures["webhook"] = failure }
        }
        return failures
    }

    /// POSTs with retries and back-off (200 ms doubling); signed with `Troupe-Signature` when a secret is set.
    private func post(_ body: Data, to url: URL) async -> String? {
        var request = URLRequest(url: url, timeoutInterval: 5)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let webhookSecret {
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(webhookSecret.utf8)))
            request.setValue(
                "sha256=" + mac.map { String(format: "%02x", $0) }.joined(), forHTTPHeaderField: "Troupe-Signature")
        }
        var last = "not attempted"
        var backoff = Backoff(maximum: .seconds(2))
        for attempt in 0..<webhookAttempts {
            if attempt > 0 { try? await Task.sleep(for: backoff.next()) }
            do {
                let (_, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return nil }
                last = "webhook answered \(status)"
            } catch {
                last = "webhook unreachable: \(error.localizedDescription)"
            }
        }
        return "\(last) after \(webhookAttempts) attempts"
    }
}
