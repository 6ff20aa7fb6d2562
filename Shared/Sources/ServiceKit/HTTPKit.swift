import Foundation
import HTTPTypes
public import Hummingbird

/// Readiness checks: each names a dependency and says whether it is ready now.
public struct HealthChecks: Sendable {
    public typealias Check = @Sendable () async -> Bool
    var checks: [(name: String, check: Check)] = []

    public init() {}

    public mutating func add(_ name: String, _ check: @escaping Check) {
        checks.append((name, check))
    }

    /// The names of what is not ready.
    public func notReady() async -> [String] {
        var failing: [String] = []
        for (name, check) in checks where !(await check()) { failing.append(name) }
        return failing
    }
}

/// The routes and middleware every service has.
public enum HTTPKit {
    /// A router with the JSON error middleware and `/health/live`, `/health/ready`.
    public static func router(health: HealthChecks) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        // HTTP requests by route and status; a no-op until Prometheus is bootstrapped (ServiceMain).
        router.add(middleware: MetricsMiddleware())
        router.get("/health/live") { _, _ in
            JSONResponse(["status": "live"])
        }
        router.get("/health/ready") { _, _ -> EditedResponse<JSONResponse<[String: AnyJSON]>> in
            let failing = await health.notReady()
            if failing.isEmpty {
                return EditedResponse(status: .ok, response: JSONResponse(["status": .string("ready")]))
            }
            return EditedResponse(
                status: .serviceUnavailable,
                response: JSONResponse([
                    "status": .string("unavailable"), "notReady": .array(failing.map { .string($0) }),
                ]))
        }
        return router
    }

    /// Throws `unauthorized` unless the request carries `Authorization: Bearer <token>` (the scheme
    /// in any case). With no
    /// token configured, admin endpoints are closed.
    public static func requireAdmin(_ request: Request, token: String?) throws {
        // The scheme is case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` count too.
        guard let token, let header = request.headers[.authorization],
            header.utf8.count > "Bearer ".utf8.count, header.prefix(7).lowercased() == "bearer "
        else {
            throw APIError(.unauthorized, "admin endpoint: Authorization: Bearer <token> required")
        }
        let given = Array(header.dropFirst("Bearer ".count).drop(while: { $0 == " " }).utf8)
        let expected = Array(token.utf8)
        // Constant-time comparison: the time taken says nothing about how much of the token matched.
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<min(given.count, expected.count) { difference |= given[index] ^ expected[index] }
        guard difference == 0 else { throw APIError(.unauthorized, "admin endpoint: wrong bearer token") }
    }
}

extension HTTPKit {
    /// Answers `405 method_not_allowed`, with `Allow`, for a method a route's path does not take
    /// (instead of the router's 404: the resource exists). Call it once every route is added.
    public static func answerOtherMethods(on router: Router<BasicRequestContext>) {
        var allowed: [String: (path: RouterPath, methods: Set<HTTPRequest.Method>)] = [:]
        for route in router.routes {
            allowed[route.path.description, default: (route.path, [])].methods.insert(route.method)
        }
        let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]
        for (_, entry) in allowed {
            let allow = methods.filter(entry.methods.contains).map(\.rawValue).joined(separator: ", ")
            for method in methods where !entry.methods.contains(method) {
                router.on(entry.path, method: method) { _, _ -> Response in
                    throw APIError(.methodNotAllowed, "\(method.rawValue) is not allowed here", allow: allow)
                }
            }
        }
    }

    /// A request header by name (for headers HTTPTypes has no constant for).
    public static func header(_ request: Request, _ name: String) -> String? {
        HTTPField.Name(name).flatMap { request.headers[$0] }
    }
}

/// A JSON body for any `Encodable` value, with a status and an optional `Location`.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator, Sendable {
    public let value: Value
    public let status: HTTPResponse.Status
    public let location: String?

    public init(_ value: Value, status: HTTPResponse.Status = .ok, location: String? = nil) {
        self.value = value
        self.status = status
        self.location = location
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A small JSON value, for ad-hoc bodies.
public enum AnyJSON: Encodable, Sendable, Hashable, ExpressibleByStringLiteral {
    case string(String), int(Int), bool(Bool), null, array([AnyJSON]), object([String: AnyJSON])

    public init(stringLiteral value: String) { self = .string(value) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
