import Foundation
public import GRDB
public import HTTPTypes
public import Hummingbird
public import HummingbirdTesting
import NIOCore
public import ServiceKit

/// A service's routes in process, as the route tests of every service drive them: real routes on a
/// real store through Hummingbird's test client (`.router`: no socket), no NATS server.
public enum RouteTesting {
    public static let token = "in-process-admin-token-0123"

    /// A bench whose admin token is `token`.
    public static func bench(_ descriptor: ServiceDescriptor, _ migrations: (inout DatabaseMigrator) -> Void)
        async throws -> HandlerBench
    {
        try await HandlerBench(descriptor, migrations: migrations, environment: ["TROUPE_ADMIN_TOKEN": token])
    }

    /// An application with the kit's routes (health) and those `add` adds, answering other methods
    /// as the services do.
    public static func app(_ add: (Router<BasicRequestContext>) throws -> Void) rethrows -> some ApplicationProtocol {
        let router = HTTPKit.router(health: HealthChecks())
        try add(router)
        HTTPKit.answerOtherMethods(on: router)
        return Application(router: router)
    }

    public static func put(
        _ client: some TestClientProtocol, _ uri: String, _ body: String, admin: Bool = true
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if admin { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .put, headers: headers, body: ByteBuffer(string: body)) {
            answer($0)
        }
    }

    public static func get(_ client: some TestClientProtocol, _ uri: String) async throws -> (
        HTTPResponse.Status, [String: Any]
    ) {
        try await client.execute(uri: uri, method: .get) { answer($0) }
    }

    /// A response's status and JSON body (empty when it has none).
    public static func answer(_ response: TestResponse) -> (HTTPResponse.Status, [String: Any]) {
        let body = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
        return (response.status, body as? [String: Any] ?? [:])
    }
}
