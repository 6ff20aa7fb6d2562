public import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Load shedding ahead of the router: a request that the service refuses anyway (docs/overload.md)
/// is answered with its 503 as soon as its head is decoded, on the connection's event loop, and its
/// body is dropped as it arrives. It never becomes a request task, never crosses the middleware,
/// the router or a JSON encoder: under several times the load the suite can take, the refusals
/// must cost the machine as little as possible, since they share it with the sagas. The route
/// keeps its own check, the one that counts admissions.
///
/// Only a connection with nothing in flight is answered this way, so that a response can never
/// overtake an earlier one on a pipelining connection; other requests go on to the route as usual.
public final class EarlyRefusal: Sendable {
    public typealias Decide = @Sendable (HTTPRequest) -> APIError?
    /// The closure sits in a box: a `Mutex` of a closure type itself re-wraps the closure in a
    /// reabstraction thunk on every `withLock`, and after some ten thousand requests the chain of
    /// thunks overflowed the stack (seen here, a segmentation fault under 5× load).
    private final class Box: Sendable {
        let decide: Decide
        init(_ decide: @escaping Decide) { self.decide = decide }
    }
    private let box = Mutex<Box?>(nil)

    public init() {}

    /// Refuse what `decide` answers an error for (nil: let the request through).
    public func set(_ decide: @escaping Decide) {
        let box = Box(decide)
        self.box.withLock { $0 = box }
    }

    func check(_ head: HTTPRequest) -> APIError? { box.withLock { $0 }?.decide(head) }

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
        case .head(let head):
            if inFlight == 0, let error = refusal.check(head) {
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
            inFlight += 1
            context.fireChannelRead(data)
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
