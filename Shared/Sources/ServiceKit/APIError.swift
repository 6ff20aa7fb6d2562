import Foundation
public import Hummingbird
import Logging
import Messaging

/// An HTTP error in the one shape of docs/http.md ("Errors"): `{"error": {"code", "message", "field"?}}`.
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The error codes of docs/http.md, each with its status.
    public struct Code: Sendable, Hashable {
        public let name: String
        public let status: HTTPResponse.Status

        public static let validationFailed = Code(name: "validation_failed", status: .badRequest)
        public static let malformedJSON = Code(name: "malformed_json", status: .badRequest)
        public static let unauthorized = Code(name: "unauthorized", status: .unauthorized)
        public static let notFound = Code(name: "not_found", status: .notFound)
        public static let conflict = Code(name: "conflict", status: .conflict)
        public static let idempotencyKeyReused = Code(name: "idempotency_key_reused", status: .unprocessableContent)
        public static let payloadTooLarge = Code(name: "payload_too_large", status: .contentTooLarge)
        public static let unsupportedMediaType = Code(name: "unsupported_media_type", status: .unsupportedMediaType)
        public static let methodNotAllowed = Code(name: "method_not_allowed", status: .methodNotAllowed)
        public static let unavailable = Code(name: "unavailable", status: .serviceUnavailable)
        public static let internalError = Code(name: "internal", status: .internalServerError)
    }

    public var code: Code
    public var message: String
    public var field: String?
    /// Seconds after which a retry may succeed (`Retry-After`), for `unavailable`.
    public var retryAfter: Int?
    /// The methods the resource answers (`Allow`), for `method_not_allowed`.
    public var allow: String?

    public init(_ code: Code, _ message: String, field: String? = nil, retryAfter: Int? = nil, allow: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
        self.allow = allow
    }

    public static func validation(_ field: String, _ message: String) -> APIError {
        APIError(.validationFailed, "\(field) \(message)", field: field)
    }

    public var status: HTTPResponse.Status { code.status }
    public var description: String { "\(code.name): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headerFields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body())))
    }

    /// `Content-Type`, and `Retry-After` and `Allow` when there are.
    public var headerFields: HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { fields[.retryAfter] = "\(retryAfter)" }
        if let allow { fields[.allow] = allow }
        return fields
    }

    /// The JSON body. Written by hand: an overloaded order service answers thousands of refusals a
    /// second, and this is a fraction of JSONEncoder's cost for the same bytes.
    public func body() -> [UInt8] {
        var text = "{\"error\":{\"code\":"
        JSONText.appendQuoted(code.name, to: &text)
        text += ",\"message\":"
        JSONText.appendQuoted(message, to: &text)
        if let field {
            text += ",\"field\":"
            JSONText.appendQuoted(field, to: &text)
        }
        text += "}}"
        return Array(text.utf8)
    }
}

/// Turns every error into the JSON shape of docs/http.md, so that no request ever gets another body.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as any HTTPResponseError {
            throw APIError.from(status: error.status)
        } catch {
            if let fault = StorageFault(error) {
                // Nothing of the request was kept (SQLite rolled it back): the client may retry.
                context.logger.warning("request refused", metadata: [LogKey.error: "\(fault)"])
                throw APIError(.unavailable, "\(fault); nothing was changed, retry later", retryAfter: 1)
            }
            context.logger.error("request failed", metadata: [LogKey.error: "\(error)"])
            throw APIError(.internalError, "internal error")
        }
    }
}

extension APIError {
    static func from(status: HTTPResponse.Status) -> APIError {
        switch status {
        case .notFound: APIError(.notFound, "no such resource")
        case .methodNotAllowed: APIError(.methodNotAllowed, "method not allowed")
        case .contentTooLarge: APIError(.payloadTooLarge, "request body over 64 KiB")
        case .unsupportedMediaType: APIError(.unsupportedMediaType, "expected application/json")
        case .badRequest: APIError(.malformedJSON, "malformed request")
        case .unauthorized: APIError(.unauthorized, "missing or wrong bearer token")
        default: APIError(Code(name: status.code >= 500 ? "internal" : "error", status: status), status.reasonPhrase)
        }
    }
}
