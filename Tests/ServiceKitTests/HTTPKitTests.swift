import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing

private struct OrderRequest: Decodable, Sendable {
    struct Line: Decodable, Sendable {
        let sku: String
        let quantity: Int
    }
    let customerId: String
    let lines: [Line]
}

private func app(ready: Bool = true) -> some ApplicationProtocol {
    var health = HealthChecks()
    health.add("nats") { ready }
    health.add("store") { true }
    let router = HTTPKit.router(health: health)
    router.post("/orders") { request, _ -> JSONResponse<[String: Int]> in
        let order = try await JSONBody.decode(OrderRequest.self, from: request)
        return JSONResponse(["lines": order.lines.count])
    }
    router.put("/admin") { request, _ -> JSONResponse<[String: Bool]> in
        try HTTPKit.requireAdmin(request, token: "0123456789abcdef")
        return JSONResponse(["ok": true])
    }
    router.get("/things/{id}") { _, context -> JSONResponse<[String: String]> in
        JSONResponse(["id": context.parameters.get("id") ?? ""])
    }
    router.delete("/things/{id}") { _, _ -> JSONResponse<[String: Bool]> in JSONResponse(["deleted": true]) }
    HTTPKit.answerOtherMethods(on: router)
    return Application(router: router)
}

private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
}

private func errorCode(_ buffer: ByteBuffer) throws -> (code: String?, field: String?) {
    let error = try json(buffer)["error"] as? [String: Any]
    return (error?["code"] as? String, error?["field"] as? String)
}

@Suite("HTTP kit: errors in one JSON shape, body cap, health, admin token")
struct HTTPKitTests {
    @Test func healthReportsWhatIsNotReady() async throws {
        try await app(ready: false).test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health/ready", method: .get) { (response) throws in
                #expect(response.status == .serviceUnavailable)
                #expect(try json(response.body)["notReady"] as? [String] == ["nats"])
            }
        }
        try await app(ready: true).test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func badBodiesGetPreciseErrors() async throws {
        try await app().test(.router) { client in
            let cases: [(String, HTTPResponse.Status, String, String?)] = [
                ("{not json", .badRequest, "malformed_json", nil),
                (
                    #"{"customerId": "c", "lines": [{"sku": "A", "quantity": "2"}]}"#, .badRequest, "validation_failed",
                    "lines[0].quantity"
                ),
                (#"{"customerId": "c"}"#, .badRequest, "validation_failed", "lines"),
                (#"{"customerId": "c", "lines": null}"#, .badRequest, "validation_failed", "lines"),
                ("[1, 2]", .badRequest, "validation_failed", "body"),
            ]
            for (body, status, code, field) in cases {
                try await client.execute(
                    uri: "/orders", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { (response) throws in
                    #expect(response.status == status, "\(body)")
                    let error = try errorCode(response.body)
                    #expect(error.code == code, "\(body)")
                    #expect(error.field == field, "\(body)")
                }
            }
            var invalidUTF8 = ByteBuffer(string: #"{"customerId": ""#)
            invalidUTF8.writeBytes([0xff, 0xfe])
            invalidUTF8.writeString(#"", "lines": []}"#)
            try await client.execute(uri: "/orders", method: .post, body: invalidUTF8) { (response) throws in
                #expect(response.status == .badRequest)
                #expect(try errorCode(response.body).code == "malformed_json")
            }
        }
    }

    @Test func oversizedBodiesAndWrongMediaTypesAreRefused() async throws {
        try await app().test(.router) { client in
            let big = ByteBuffer(
                string: #"{"customerId": "\#(String(repeating: "x", count: 70 * 1024))", "lines": []}"#)
            try await client.execute(uri: "/orders", method: .post, body: big) { (response) throws in
                #expect(response.status == .contentTooLarge)
                #expect(try errorCode(response.body).code == "payload_too_large")
            }
            try await client.execute(
                uri: "/orders", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "{}")
            ) { (response) throws in
                #expect(response.status == .unsupportedMediaType)
                #expect(try errorCode(response.body).code == "unsupported_media_type")
            }
            try await client.execute(uri: "/nowhere", method: .get) { (response) throws in
                #expect(response.status == .notFound)
                #expect(try errorCode(response.body).code == "not_found")
            }
        }
    }

    @Test func adminEndpointsNeedTheBearerToken() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/admin", method: .put) { (response) throws in
                #expect(response.status == .unauthorized)
                #expect(try errorCode(response.body).code == "unauthorized")
            }
            try await client.execute(uri: "/admin", method: .put, headers: [.authorization: "Bearer wrong"]) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/admin", method: .put, headers: [.authorization: "Bearer 0123456789abcdef"]
            ) { #expect($0.status == .ok) }
            // The scheme is case-insensitive (issue 10, low); the token is not.
            for header in ["bearer 0123456789abcdef", "BEARER 0123456789abcdef"] {
                try await client.execute(uri: "/admin", method: .put, headers: [.authorization: header]) {
                    #expect($0.status == .ok, "\(header)")
                }
            }
            for header in ["Bearer 0123456789ABCDEF", "Basic 0123456789abcdef", "Bearer", "Bearer0123456789abcdef"] {
                try await client.execute(uri: "/admin", method: .put, headers: [.authorization: header]) {
                    #expect($0.status == .unauthorized, "\(header)")
                }
            }
        }
    }

    /// docs/http.md, "Errors": a method the resource does not take is 405 `method_not_allowed` with
    /// `Allow`, not 404; an unknown path is still 404.
    @Test func aWrongMethodIs405WithAllowAndAnUnknownPathStays404() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/things/7", method: .put) { (response) throws in
                #expect(response.status == .methodNotAllowed)
                #expect(try errorCode(response.body).code == "method_not_allowed")
                #expect(response.headers[.allow] == "GET, DELETE")
            }
            try await client.execute(uri: "/orders", method: .get) { (response) throws in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
            try await client.execute(uri: "/things/7", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/things/7", method: .delete) { #expect($0.status == .ok) }
            try await client.execute(uri: "/nowhere", method: .put) { (response) throws in
                #expect(response.status == .notFound)
                #expect(try errorCode(response.body).code == "not_found")
            }
        }
    }
}
