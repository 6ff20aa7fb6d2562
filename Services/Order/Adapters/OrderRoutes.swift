import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// The order API of docs/http.md ("order (8081)").
struct OrderRoutes: Sendable {
    let service: ServiceContext
    /// Sheds new orders while too many accepted ones are pending.
    let admission: OrderAdmission
    /// Whether the HTTP server's door (`EarlyRefusal`) already admitted a request: then it is not
    /// decided twice.
    var admittedAtTheDoor: @Sendable (HTTPFields) -> Bool = { _ in false }

    func add(to router: Router<BasicRequestContext>) {
        let service = self.service
        let admission = self.admission
        let admittedAtTheDoor = self.admittedAtTheDoor
        router.post("/orders") { request, _ -> JSONResponse<OrderView> in
            // First, before any work: a refusal must be quick and change nothing.
            if !admittedAtTheDoor(request.headers) { try admission.admit() }
            let key = try Self.idempotencyKey(request)
            let body = try await JSONBody.decode(PlaceOrderRequest.self, from: request)
            if let (field, message) = body.violation() { throw APIError.validation(field, message) }
            let canonical = try Self.canonical(body)
            let orderId = ULID.make("ord_")
            let traceparent = Self.traceparent(request)
            let (state, replayed) = try await service.commitTogether { db in
                try OrderCommands.place(
                    body, orderId: orderId, canonical: canonical, idempotencyKey: key, traceparent: traceparent, in: db)
            }
            return JSONResponse(
                OrderView(state), status: replayed ? .ok : .accepted, location: "/orders/\(state.orderId)")
        }
        router.get("/orders/:orderId") { request, context -> JSONResponse<OrderView> in
            let orderId = context.parameters.get("orderId") ?? ""
            if let asOf = request.uri.queryParameters["asOf"] {
                guard let limit = Self.parseTime(String(asOf)) else {
                    throw APIError.validation("asOf", "must be an RFC 3339 time")
                }
                let limitText = Timestamp.string(limit)
                let history = try await service.read { db in
                    try OrderStore.history(orderId, upTo: limitText, in: db)
                }
                guard let state = OrderState.fold(history) else {
                    throw APIError(.notFound, "order \(orderId) did not exist at \(asOf)")
                }
                return JSONResponse(OrderView(state))
            }
            guard let state = try await service.read({ db in try OrderStore.view(orderId, in: db) }) else {
                throw APIError(.notFound, "no order \(orderId)")
            }
            return JSONResponse(OrderView(state))
        }
        router.get("/orders/:orderId/events") { _, context -> Response in
            let orderId = context.parameters.get("orderId") ?? ""
            let documents = try await service.read { db in try OrderStore.documents(orderId, in: db) }
            guard !documents.isEmpty else { throw APIError(.notFound, "no order \(orderId)") }
            var body = Data("{\"events\":[".utf8)
            for (index, document) in documents.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body.append(document)
            }
            body.append(contentsOf: Array("]}".utf8))
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/orders") { request, _ -> JSONResponse<PageResponse<OrderView>> in
            let page = try Page(request, cursors: service.store.cursors)
            let query = request.uri.queryParameters
            let customerId = query["customerId"].map(String.init)
            let status = query["status"].map(String.init)
            if let status, OrderState.Status(rawValue: status) == nil {
                throw APIError.validation("status", "must be PENDING, CONFIRMED, SHIPPED or CANCELLED")
            }
            let orders = try await service.read { db in
                try OrderStore.list(
                    customerId: customerId, status: status, before: page.after, limit: page.limit + 1, in: db)
            }
            return JSONResponse(
                PageResponse("orders", fetched: orders.map(OrderView.init), page: page) { $0.state.orderId })
        }
        router.post("/orders/:orderId/cancel") { request, context -> JSONResponse<OrderView> in
            let orderId = context.parameters.get("orderId") ?? ""
            let traceparent = Self.traceparent(request)
            let state = try await service.commitTogether { db in
                try OrderCommands.requestCancellation(orderId, traceparent: traceparent, in: db)
            }
            return JSONResponse(OrderView(state), status: .accepted)
        }
    }

    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = HTTPKit.header(request, "Idempotency-Key") else { return nil }
        guard (1...255).contains(key.count), key.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) else {
            throw APIError(
                .validationFailed, "Idempotency-Key must be 1-255 printable ASCII characters", field: "Idempotency-Key")
        }
        return key
    }

    static func canonical(_ body: PlaceOrderRequest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(body), as: UTF8.self)
    }

    /// The trace context of the order service's work on a request: a span of the request's trace
    /// when it carries a valid W3C one (lower-case hex, as every event's schema requires), or a new trace.
    static func traceparent(_ request: Request) -> String {
        if let given = HTTPKit.header(request, "traceparent"), TraceParent.isValid(given) {
            return TraceParent.child(of: given)
        }
        return TraceParent.new()
    }

    static func parseTime(_ text: String) -> Date? {
        if let date = Timestamp.date(text) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

/// An order as the API shows it.
struct OrderView: Encodable, Sendable {
    let state: OrderState

    init(_ state: OrderState) { self.state = state }

    enum CodingKeys: CodingKey {
        case orderId, customerId, status, cancellationReason, lines, total, currency, shipmentId, trackingNumber
        case cancellationRequestedAt, createdAt, updatedAt, version
    }

    struct LineView: Encodable {
        let sku: String
        let quantity: Int
        let unitPrice: Int64?

        enum CodingKeys: CodingKey { case sku, quantity, unitPrice }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(sku, forKey: .sku)
            try c.encode(quantity, forKey: .quantity)
            try c.encode(unitPrice, forKey: .unitPrice)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state.orderId, forKey: .orderId)
        try c.encode(state.customerId, forKey: .customerId)
        try c.encode(state.status.rawValue, forKey: .status)
        try c.encode(state.cancellationReason?.rawValue, forKey: .cancellationReason)
        try c.encode(
            state.lines.map { LineView(sku: $0.sku, quantity: $0.quantity, unitPrice: state.unitPrices?[$0.sku]) },
            forKey: .lines)
        try c.encode(state.total, forKey: .total)
        try c.encode(state.currency, forKey: .currency)
        try c.encode(state.shipmentId, forKey: .shipmentId)
        try c.encode(state.trackingNumber, forKey: .trackingNumber)
        try c.encode(state.cancellationRequestedAt, forKey: .cancellationRequestedAt)
        try c.encode(state.createdAt, forKey: .createdAt)
        try c.encode(state.updatedAt, forKey: .updatedAt)
        try c.encode(state.version, forKey: .version)
    }
}
