import Contracts
public import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Load shedding ahead of the router: a request that the service refuses anyway (docs/overload.md)
/// is answered with its 503 as soon as its head is decoded, on the connection's event loop, and its
/// body is dropped as it arrives. It never becomes a request task, never crosses the middleware,
/// the router or a JSON encoder: under several times the load the suite can take, the refusals
/// must cost the machine as little as possible, since they share it with the sagas.
///
/// The decision made here is final both ways: a request the door lets in (`.admit`) reaches its
/// route marked with `admittedHeader` and this process's `admittedToken`, and the route does not
/// decide again: when the two decided apart, a request let in here and refused by the route (near
/// the limit the door opens and closes all the time) had its refusal go through the request task,
/// the router and the error body's encoder. The marker is removed from every request as it
/// arrives, so that no client can send it.
///
/// Only a connection with nothing in flight is decided this way, so that a response can never
/// overtake an earlier one on a pipelining connection; other requests go on to the route, which
/// decides them itself.
public final class EarlyRefusal: Sendable {
    /// What to do with a request, from its head.
    public enum Verdict: Sendable {
        /// Not the door's business: the route as usual.
        case pass
        /// Answered here with this error.
        case refuse(APIError)
        /// Let in: the route takes it without deciding again (see `wasAdmitted`).
        case admit
    }
    public typealias Decide = @Sendable (HTTPRequest) -> Verdict
    /// The header that tells a route its request was admitted at the door.
    public static let admittedHeader = HTTPField.Name("Troupe-Admitted")!
    /// This process's value of `admittedHeader`: random, so that even a router reached some other
    /// way never takes a client's word for it.
    public let admittedToken: String = RandomBytes.make(16).map { String($0, radix: 16) }.joined()
    /// The closure sits in a box: a `Mutex` of a closure type itself re-wraps the closure in a
    /// reabstraction thunk on every `withLock`, and after some ten thousand requests the chain of
    /// thunks overflowed the stack (seen here, a segmentation fault under 5× load).
    private final class Box: Sendable {
        let decide: Decide
        init(_ decide: @escaping Decide) { self.decide = decide }
    }
    private let box = Mutex<Box?>(nil)

    public init() {}

    /// Decide each request's head with `decide`.
    public func set(_ decide: @escaping Decide) {
        let box = Box(decide)
        self.box.withLock { $0 = box }
    }

    func check(_ head: HTTPRequest) -> Verdict { box.withLock { $0 }?.decide(head) ?? .pass }

    /// Whether the door admitted the request with these header fields.
    public func wasAdmitted(_ fields: HTTPFields) -> Bool { fields[Self.admittedHeader] == admittedToken }

    /// One handler per connection, for Hummingbird's HTTP/1 channel.
    func handler() -> any RemovableChannelHandler { EarlyRefusalHandler(refusal: self) }
}

final class EarlyRefusalHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let refusal: EarlyRefusal
    /// Requests passed on whose response has not ended yet.
    private var inFlight = 0
    /// The rest of a refused request is being dropped.
    private var dropping = false

    init(refusal: EarlyRefusal) { self.refusal = refusal }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(var head):
            if head.headerFields[EarlyRefusal.admittedHeader] != nil {
                head.headerFields[EarlyRefusal.admittedHeader] = nil
            }
            let verdict = inFlight == 0 ? refusal.check(head) : .pass
            if case .refuse(let error) = verdict {
                dropping = true
                let body = error.body()
                var fields = error.headerFields
                fields[.contentLength] = "\(body.count)"
                context.write(
                    wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
                context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            if case .admit = verdict { head.headerFields[EarlyRefusal.admittedHeader] = refusal.admittedToken }
            inFlight += 1
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            if !dropping { context.fireChannelRead(data) }
        case .end:
            if dropping {
                dropping = false
            } else {
                context.fireChannelRead(data)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = max(0, inFlight - 1) }
        context.write(data, promise: promise)
    }
}
