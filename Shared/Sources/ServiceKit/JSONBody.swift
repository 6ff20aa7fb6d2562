import Contracts
import Foundation
public import Hummingbird
import NIOCore

/// Request-body handling shared by every endpoint: a 64 KiB cap, JSON only, precise errors.
public enum JSONBody {
    public static let limit = 64 * 1024

    /// Reads and decodes the body. 415 for a non-JSON content type, 413 over 64 KiB, 400
    /// `malformed_json` for bytes that are not JSON (invalid UTF-8, bad syntax, too deep), 400
    /// `validation_failed` naming the field for JSON of the wrong shape.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        if let contentType = request.headers[.contentType],
            !contentType.lowercased().hasPrefix("application/json")
        {
            throw APIError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.payloadTooLarge, "request body over \(limit / 1024) KiB")
        }
        let data = Data(buffer.readableBytesView)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw APIError(.malformedJSON, "request body is not valid JSON")
        } catch let DecodingError.keyNotFound(key, context) {
            let path = fieldPath(context.codingPath + [key])
            throw APIError.validation(path, "is required")
        } catch let DecodingError.typeMismatch(expected, context) {
            let path = fieldPath(context.codingPath)
            throw APIError.validation(path.isEmpty ? "body" : path, "must be \(describe(expected))")
        } catch let DecodingError.valueNotFound(expected, context) {
            let path = fieldPath(context.codingPath)
            throw APIError.validation(path.isEmpty ? "body" : path, "must be \(describe(expected)), not null")
        } catch let DecodingError.dataCorrupted(context) {
            throw APIError.validation(fieldPath(context.codingPath), "is invalid")
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.malformedJSON, "request body is not valid JSON")
        }
    }

    /// `lines[0].quantity` from a coding path.
    static func fieldPath(_ path: [any CodingKey]) -> String { FieldPath.text(path) }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "a whole number"
        case is Bool.Type: "true or false"
        default: type is any Collection.Type ? "an array" : "an object"
        }
    }
}
