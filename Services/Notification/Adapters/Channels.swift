import Crypto
import Foundation
import Logging
import ServiceKit

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where notifications go: a log line always, a JSON-lines file, an HTTP webhook.
struct Channels: Sendable {
    var file: String?
    var webhook: URL?
    var webhookSecret: String?
    var webhookAttempts = 5
    let logger: Logger

    var names: [String] { ["log"] + (file == nil ? [] : ["file"]) + (webhook == nil ? [] : ["webhook"]) }

    /// Delivers on every channel; returns the channels that failed, with why.
    func deliver(_ notification: [String: String]) async -> [String: String] {
        var failures: [String: String] = [:]
        logger.info(
            "notification",
            metadata: notification.mapValues { .string($0) }.merging(["channel": "log"]) { a, _ in a })
        let body = Data(JSONText.object(notification).utf8)
        if let file {
            do { try append(body, to: file) } catch { failures["file"] = "\(error)" }
        }
        if let webhook {
            if let failure = await post(body, to: webhook) { failures["webhook"] = failure }
        }
        return failures
    }

    private func append(_ line: Data, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission)
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line + Data([0x0A]))
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
        for attempt in 0..<webhookAttempts {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200 << (attempt - 1))) }
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
