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
        refusal.set { head in head.path == "/orders" ? .refuse(APIError(.unavailable, "full", retryAfter: 1)) : .pass }
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
        guard case .refuse(let error) = refusal.check(Self.orders) else {
            Issue.record("not refused")
            return
        }
        #expect(error.retryAfter == 1)
        guard case .pass = refusal.check(Self.health) else {
            Issue.record("health decided by the door")
            return
        }
    }

    /// A request the door admits reaches the route marked with this process's token, and the route
    /// takes the door's word for it; a client's own marker is removed, admitted or not.
    @Test func anAdmittedRequestCarriesTheDoorsTokenAndAClientCannotForgeIt() throws {
        let door = EarlyRefusal()
        door.set { head in head.path == "/orders" ? .admit : .pass }
        let channel = EmbeddedChannel(handler: EarlyRefusalHandler(refusal: door))
        var forged = Self.health
        forged.headerFields[EarlyRefusal.admittedHeader] = door.admittedToken
        try channel.writeInbound(HTTPRequestPart.head(forged))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        guard case .head(let passed) = try #require(try channel.readInbound(as: HTTPRequestPart.self)) else {
            Issue.record("no head")
            return
        }
        #expect(passed.headerFields[EarlyRefusal.admittedHeader] == nil)
        #expect(!door.wasAdmitted(passed.headerFields))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .end(nil))
        _ = try channel.writeOutbound(HTTPResponsePart.end(nil))
        var order = Self.orders
        order.headerFields[EarlyRefusal.admittedHeader] = "a client's guess"
        try channel.writeInbound(HTTPRequestPart.head(order))
        guard case .head(let admitted) = try #require(try channel.readInbound(as: HTTPRequestPart.self)) else {
            Issue.record("no head")
            return
        }
        #expect(door.wasAdmitted(admitted.headerFields))
        #expect(!EarlyRefusal().wasAdmitted(admitted.headerFields), "another process's token is another")
        _ = try channel.finish()
    }
}
