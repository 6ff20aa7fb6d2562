import Contracts
import Foundation
import GRDB
import ServiceKit

/// What the order API does to the store, one function per command, each inside the transaction the
/// route gives it (`ServiceRuntime.commitTogether`): the routes parse and answer, and never touch
/// storage themselves.
enum OrderCommands {
    /// `POST /orders`: the order placed (its first event appended and published), or, for an
    /// `Idempotency-Key` seen before with the same request, the order it placed then (`replayed`).
    static func place(
        _ request: PlaceOrderRequest, orderId: String, canonical: String, idempotencyKey key: String?,
        traceparent: String, in db: StoreSession
    ) throws -> (state: OrderState, replayed: Bool) {
        if let key {
            // Two requests with one key, at two instances at once: the second waits, then finds it.
            try db.lock([LockKey.idempotencyKey(key)])
            if let earlier = try IdempotencyKeys.find(key, in: db) {
                guard earlier.requestHash == canonical else {
                    throw APIError(.idempotencyKeyReused, "Idempotency-Key was used with a different request")
                }
                guard let state = try OrderStore.view(earlier.orderId, in: db) else {
                    throw APIError(.internalError, "idempotent order missing")
                }
                return (state, true)
            }
            try IdempotencyKeys.record(key, requestHash: canonical, orderId: orderId, in: db)
        }
        let placed = AnyEvent(
            CloudEvent(
                data: request.placed(orderId: orderId, at: Timestamp.string(Date())), causationid: nil,
                traceparent: traceparent))
        let state = try OrderStore.append([placed], publishing: [placed], to: nil, in: db)!
        return (state, false)
    }

    /// `POST /orders/<id>/cancel`: the cancellation requested once (asking again changes nothing);
    /// refused for an order that is already final.
    static func requestCancellation(_ orderId: String, traceparent: String, in db: StoreSession) throws -> OrderState {
        try db.lock([LockKey.order(orderId)])
        guard let state = try OrderStore.view(orderId, in: db) else {
            throw APIError(.notFound, "no order \(orderId)")
        }
        guard !state.isFinal else {
            throw APIError(.conflict, "order \(orderId) is \(state.status.rawValue) and can no longer be cancelled")
        }
        guard state.cancellationRequestedAt == nil else { return state }
        let requested = AnyEvent(
            CloudEvent(
                data: OrderCancellationRequested(orderId: orderId, requestedAt: Timestamp.string(Date())),
                causationid: nil, traceparent: traceparent))
        return try OrderStore.append([requested], publishing: [requested], to: state, in: db)!
    }
}
