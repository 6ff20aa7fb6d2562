import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import ServiceKit

/// Load shed ahead of the router (docs/overload.md): the handler answers a refused request itself
/// and drops its body; anything else, and anything on a connection with a response pending, goes on.
@Suite("Early refusal: 503 before the router")
struct EarlyRefusalTests {
    static let orders = HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/orders")
    static let health = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/health/live")

    static func refusingOrders() -> EarlyRefusal {
        let refusal = EarlyRefusal()
        refusal.set { head in head.path == "/orders" ? APIError(.unavailable, "full", retryAfter: 1) : nil }
        return refusal
    }

    @Test func aRefusedRequestIsAnsweredAtOnceAndItsBodyDropped() throws {
        let channel = EmbeddedChannel(handler: EarlyRefusalHandler(refusal: Self.refusingOrders()))
        try channel.writeInbound(HTTPRequestPart.head(Self.orders))
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "{\"lines\": []}")))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil, "nothing of it reaches the router")
        guard case .head(let head) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else {
            Issue.record("no response head")
            return
        }
        #expect(head.status == .serviceUnavailable)
        #expect(head.headerFields[.retryAfter] == "1")
        guard case .body(let body) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else {
            Issue.record("no response body")
            return
        }
        #expect(String(buffer: body) == #"{"error":{"code":"unavailable","message":"full"}}"#)
        #expect(head.headerFields[.contentLength] == "\(body.readableBytes)")
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .end(nil))
        // The connection goes on: the next request (not refused) reaches the router whole.
        try channel.writeInbound(HTTPRequestPart.head(Self.health))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .head(Self.health))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .end(nil))
        _ = try channel.finish()
    }

    @Test func aResponsePendingOnTheConnectionLetsTheNextRequestThroughToKeepTheOrder() throws {
        let channel = EmbeddedChannel(handler: EarlyRefusalHandler(refusal: Self.refusingOrders()))
        try channel.writeInbound(HTTPRequestPart.head(Self.health))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        // Pipelined behind it, before its response: the route must answer it, in order.
        try channel.writeInbound(HTTPRequestPart.head(Self.orders))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .head(Self.health))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .head(Self.orders))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
        _ = try channel.finish()
    }

    /// Seen under 5× load: the decision closure, kept in a `Mutex` of its own type, gained a
    /// reabstraction thunk at every request until the stack overflowed.
    @Test func decidingAMillionRequestsIsAsCheapAsTheFirst() {
        let refusal = Self.refusingOrders()
        for _ in 0..<1_000_000 { _ = refusal.check(Self.orders) }
        #expect(refusal.check(Self.orders)?.retryAfter == 1)
        #expect(refusal.check(Self.health) == nil)
    }
}
