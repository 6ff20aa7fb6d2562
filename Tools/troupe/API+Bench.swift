import ArgumentParser
import Contracts
import Foundation
import Histogram
import Logging
import Messaging
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The services' admin endpoints, for seeding.
extension API {
    func put(_ base: String, _ path: String, token: String, _ body: [String: Any]) async throws {
        guard let url = URL(string: base + path) else { throw CLIError("bad URL \(base + path)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = "PUT"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIError("PUT \(url): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 || status == 201 else {
            throw CLIError("PUT \(url): \(status) \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }
}
