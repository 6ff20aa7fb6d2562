public import Foundation

/// Any Troupe event, decoded: what a consumer switches on.
public enum AnyEvent: Sendable, Hashable {
    case orderPlaced(CloudEvent<OrderPlaced>)
    case orderCancellationRequested(CloudEvent<OrderCancellationRequested>)
    case orderConfirmed(CloudEvent<OrderConfirmed>)
    case orderCancelled(CloudEvent<OrderCancelled>)
    case orderShipped(CloudEvent<OrderShipped>)
    case inventoryReserved(CloudEvent<InventoryReserved>)
    case inventoryRejected(CloudEvent<InventoryRejected>)
    case inventoryReleased(CloudEvent<InventoryReleased>)
    case inventoryCommitted(CloudEvent<InventoryCommitted>)
    case paymentAuthorized(CloudEvent<PaymentAuthorized>)
    case paymentDeclined(CloudEvent<PaymentDeclined>)
    case paymentVoided(CloudEvent<PaymentVoided>)
    case paymentCaptured(CloudEvent<PaymentCaptured>)
    case shippingScheduled(CloudEvent<ShippingScheduled>)
    case shippingFailed(CloudEvent<ShippingFailed>)
    case shippingCancelled(CloudEvent<ShippingCancelled>)
    case shippingCancellationRejected(CloudEvent<ShippingCancellationRejected>)
    case shippingDispatched(CloudEvent<ShippingDispatched>)
    case notificationSent(CloudEvent<NotificationSent>)
    case notificationFailed(CloudEvent<NotificationFailed>)

    /// Every event type of the catalogue, by its CloudEvents `type`.
    public static let payloadTypes: [any EventPayload.Type] = [
        OrderPlaced.self,
        OrderCancellationRequested.self,
        OrderConfirmed.self,
        OrderCancelled.self,
        OrderShipped.self,
        InventoryReserved.self,
        InventoryRejected.self,
        InventoryReleased.self,
        InventoryCommitted.self,
        PaymentAuthorized.self,
        PaymentDeclined.self,
        PaymentVoided.self,
        PaymentCaptured.self,
        ShippingScheduled.self,
        ShippingFailed.self,
        ShippingCancelled.self,
        ShippingCancellationRejected.self,
        ShippingDispatched.self,
        NotificationSent.self,
        NotificationFailed.self,
    ]

    /// Wraps a typed event.
    public init<Payload>(_ event: CloudEvent<Payload>) {
        switch event {
        case let e as CloudEvent<OrderPlaced>: self = .orderPlaced(e)
        case let e as CloudEvent<OrderCancellationRequested>: self = .orderCancellationRequested(e)
        case let e as CloudEvent<OrderConfirmed>: self = .orderConfirmed(e)
        case let e as CloudEvent<OrderCancelled>: self = .orderCancelled(e)
        case let e as CloudEvent<OrderShipped>: self = .orderShipped(e)
        case let e as CloudEvent<InventoryReserved>: self = .inventoryReserved(e)
        case let e as CloudEvent<InventoryRejected>: self = .inventoryRejected(e)
        case let e as CloudEvent<InventoryReleased>: self = .inventoryReleased(e)
        case let e as CloudEvent<InventoryCommitted>: self = .inventoryCommitted(e)
        case let e as CloudEvent<PaymentAuthorized>: self = .paymentAuthorized(e)
        case let e as CloudEvent<PaymentDeclined>: self = .paymentDeclined(e)
        case let e as CloudEvent<PaymentVoided>: self = .paymentVoided(e)
        case let e as CloudEvent<PaymentCaptured>: self = .paymentCaptured(e)
        case let e as CloudEvent<ShippingScheduled>: self = .shippingScheduled(e)
        case let e as CloudEvent<ShippingFailed>: self = .shippingFailed(e)
        case let e as CloudEvent<ShippingCancelled>: self = .shippingCancelled(e)
        case let e as CloudEvent<ShippingCancellationRejected>: self = .shippingCancellationRejected(e)
        case let e as CloudEvent<ShippingDispatched>: self = .shippingDispatched(e)
        case let e as CloudEvent<NotificationSent>: self = .notificationSent(e)
        case let e as CloudEvent<NotificationFailed>: self = .notificationFailed(e)
        default: fatalError("\(Payload.type) is not in AnyEvent")
        }
    }

    /// Whether an order has at most one event of this kind.
    public var oncePerOrder: Bool { envelope.payload.oncePerOrder }

    /// The envelope fields every case shares.
    public var id: String { envelope.id }
    public var type: String { envelope.type }
    public var orderId: String { envelope.subject }
    public var causationid: String? { envelope.causationid }
    public var traceparent: String? { envelope.traceparent }
    public var time: String { envelope.time }
    public var specversion: String { envelope.specversion }
    public var source: String { envelope.source }

    /// The NATS subject it belongs on.
    public var natsSubject: String {
        let envelope = self.envelope
        return "\(envelope.payload.subjectPrefix).\(envelope.dataOrderId)"
    }

    private var envelope:
        (
            id: String, type: String, subject: String, causationid: String?, traceparent: String?, time: String,
            payload: any EventPayload.Type, dataOrderId: String, specversion: String, source: String
        )
    {
        switch self {
        case .orderPlaced(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .orderCancellationRequested(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .orderConfirmed(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .orderCancelled(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .orderShipped(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .inventoryReserved(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .inventoryRejected(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .inventoryReleased(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .inventoryCommitted(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .paymentAuthorized(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .paymentDeclined(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .paymentVoided(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .paymentCaptured(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .shippingScheduled(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .shippingFailed(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .shippingCancelled(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .shippingCancellationRejected(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .shippingDispatched(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .notificationSent(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        case .notificationFailed(let e):
            (
                e.id, e.type, e.subject, e.causationid, e.traceparent, e.time, Swift.type(of: e.data), e.data.orderId,
                e.specversion, e.source
            )
        }
    }

    /// The event re-encoded as structured-mode JSON.
    public func encoded() throws -> Data {
        Data(try encodedBytes())
    }

    /// The wrapped CloudEvent, for a coder of any type (tests compare coders with it).
    var cloudEvent: any Encodable & Sendable {
        switch self {
        case .orderPlaced(let e): e
        case .orderCancellationRequested(let e): e
        case .orderConfirmed(let e): e
        case .orderCancelled(let e): e
        case .orderShipped(let e): e
        case .inventoryReserved(let e): e
        case .inventoryRejected(let e): e
        case .inventoryReleased(let e): e
        case .inventoryCommitted(let e): e
        case .paymentAuthorized(let e): e
        case .paymentDeclined(let e): e
        case .paymentVoided(let e): e
        case .paymentCaptured(let e): e
        case .shippingScheduled(let e): e
        case .shippingFailed(let e): e
        case .shippingCancelled(let e): e
        case .shippingCancellationRejected(let e): e
        case .shippingDispatched(let e): e
        case .notificationSent(let e): e
        case .notificationFailed(let e): e
        }
    }

    /// The event as structured-mode JSON bytes (those of `encoded()`, without a copy into `Data`).
    public func encodedBytes() throws -> [UInt8] {
        switch self {
        case .orderPlaced(let e): try e.encodedBytes()
        case .orderCancellationRequested(let e): try e.encodedBytes()
        case .orderConfirmed(let e): try e.encodedBytes()
        case .orderCancelled(let e): try e.encodedBytes()
        case .orderShipped(let e): try e.encodedBytes()
        case .inventoryReserved(let e): try e.encodedBytes()
        case .inventoryRejected(let e): try e.encodedBytes()
        case .inventoryReleased(let e): try e.encodedBytes()
        case .inventoryCommitted(let e): try e.encodedBytes()
        case .paymentAuthorized(let e): try e.encodedBytes()
        case .paymentDeclined(let e): try e.encodedBytes()
        case .paymentVoided(let e): try e.encodedBytes()
        case .paymentCaptured(let e): try e.encodedBytes()
        case .shippingScheduled(let e): try e.encodedBytes()
        case .shippingFailed(let e): try e.encodedBytes()
        case .shippingCancelled(let e): try e.encodedBytes()
        case .shippingCancellationRejected(let e): try e.encodedBytes()
        case .shippingDispatched(let e): try e.encodedBytes()
        case .notificationSent(let e): try e.encodedBytes()
        case .notificationFailed(let e): try e.encodedBytes()
        }
    }

    static func decode(_ type: String, with decoder: some EventBytesDecoder) throws -> AnyEvent? {
        switch type {
        case OrderPlaced.type: .orderPlaced(try decoder.decode(CloudEvent<OrderPlaced>.self))
        case OrderCancellationRequested.type:
            .orderCancellationRequested(try decoder.decode(CloudEvent<OrderCancellationRequested>.self))
        case OrderConfirmed.type: .orderConfirmed(try decoder.decode(CloudEvent<OrderConfirmed>.self))
        case OrderCancelled.type: .orderCancelled(try decoder.decode(CloudEvent<OrderCancelled>.self))
        case OrderShipped.type: .orderShipped(try decoder.decode(CloudEvent<OrderShipped>.self))
        case InventoryReserved.type: .inventoryReserved(try decoder.decode(CloudEvent<InventoryReserved>.self))
        case InventoryRejected.type: .inventoryRejected(try decoder.decode(CloudEvent<InventoryRejected>.self))
        case InventoryReleased.type: .inventoryReleased(try decoder.decode(CloudEvent<InventoryReleased>.self))
        case InventoryCommitted.type: .inventoryCommitted(try decoder.decode(CloudEvent<InventoryCommitted>.self))
        case PaymentAuthorized.type: .paymentAuthorized(try decoder.decode(CloudEvent<PaymentAuthorized>.self))
        case PaymentDeclined.type: .paymentDeclined(try decoder.decode(CloudEvent<PaymentDeclined>.self))
        case PaymentVoided.type: .paymentVoided(try decoder.decode(CloudEvent<PaymentVoided>.self))
        case PaymentCaptured.type: .paymentCaptured(try decoder.decode(CloudEvent<PaymentCaptured>.self))
        case ShippingScheduled.type: .shippingScheduled(try decoder.decode(CloudEvent<ShippingScheduled>.self))
        case ShippingFailed.type: .shippingFailed(try decoder.decode(CloudEvent<ShippingFailed>.self))
        case ShippingCancelled.type: .shippingCancelled(try decoder.decode(CloudEvent<ShippingCancelled>.self))
        case ShippingCancellationRejected.type:
            .shippingCancellationRejected(try decoder.decode(CloudEvent<ShippingCancellationRejected>.self))
        case ShippingDispatched.type: .shippingDispatched(try decoder.decode(CloudEvent<ShippingDispatched>.self))
        case NotificationSent.type: .notificationSent(try decoder.decode(CloudEvent<NotificationSent>.self))
        case NotificationFailed.type: .notificationFailed(try decoder.decode(CloudEvent<NotificationFailed>.self))
        default: nil
        }
    }

    func validate() throws(ContractError) {
        switch self {
        case .orderPlaced(let e): try e.validate()
        case .orderCancellationRequested(let e): try e.validate()
        case .orderConfirmed(let e): try e.validate()
        case .orderCancelled(let e): try e.validate()
        case .orderShipped(let e): try e.validate()
        case .inventoryReserved(let e): try e.validate()
        case .inventoryRejected(let e): try e.validate()
        case .inventoryReleased(let e): try e.validate()
        case .inventoryCommitted(let e): try e.validate()
        case .paymentAuthorized(let e): try e.validate()
        case .paymentDeclined(let e): try e.validate()
        case .paymentVoided(let e): try e.validate()
        case .paymentCaptured(let e): try e.validate()
        case .shippingScheduled(let e): try e.validate()
        case .shippingFailed(let e): try e.validate()
        case .shippingCancelled(let e): try e.validate()
        case .shippingCancellationRejected(let e): try e.validate()
        case .shippingDispatched(let e): try e.validate()
        case .notificationSent(let e): try e.validate()
        case .notificationFailed(let e): try e.validate()
        }
    }
}

/// Decodes one event document as a given type: Foundation's `JSONDecoder` (the checking path) or
/// `EventJSON` (the common case).
protocol EventBytesDecoder {
    func decode<T: Decodable>(_ type: T.Type) throws -> T
}

struct FoundationEventDecoder: EventBytesDecoder {
    let decoder: JSONDecoder
    let data: Data
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type, from: data) }
}

struct LeanEventDecoder: EventBytesDecoder {
    let document: EventJSON.Document
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try EventJSON.decode(type, from: document) }
}
