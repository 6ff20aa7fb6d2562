/// A stream of the contract: its name and subjects, and the settings every stream shares.
public struct StreamDefinition: Sendable, Hashable {
    public var name: String
    public var subjects: [String]
    /// Limits-based retention: messages are kept this long.
    public var maxAge: Duration
    /// Repeated `Nats-Msg-Id`s within this window are recognised as duplicates.
    public var duplicateWindow: Duration
    /// 1 by default, 3 on a cluster (`TROUPE_STREAM_REPLICAS`).
    public var replicas: Int

    public init(
        name: String, subjects: [String], maxAge: Duration = .seconds(7 * 24 * 3600),
        duplicateWindow: Duration = .seconds(120), replicas: Int = 1
    ) {
        self.name = name
        self.subjects = subjects
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.replicas = replicas
    }

    public static let orders = StreamDefinition(name: "ORDERS", subjects: ["orders.>"])
    public static let inventory = StreamDefinition(name: "INVENTORY", subjects: ["inventory.>"])
    public static let payments = StreamDefinition(name: "PAYMENTS", subjects: ["payments.>"])
    public static let shipping = StreamDefinition(name: "SHIPPING", subjects: ["shipping.>"])
    public static let notifications = StreamDefinition(name: "NOTIFICATIONS", subjects: ["notifications.>"])
    public static let deadLetter = StreamDefinition(name: "DEADLETTER", subjects: ["deadletter.>"])

    public static let all: [StreamDefinition] = [
        .orders, .inventory, .payments, .shipping, .notifications, .deadLetter,
    ]

    /// The durable consumer of `service` on this stream: `inventory-orders` for inventory reading ORDERS.
    /// The one spelling of it: it also keys the service's inbox (a redelivered event is recognised
    /// by it), so it must never change. (`deploy/local/troupe.sh` grants each identity these names;
    /// a service whose name differed could not bind, which the deployment tests would show.)
    public func consumerName(for service: Producer) -> String { consumerName(forService: service.rawValue) }

    /// The same, for a service named `service`.
    public func consumerName(forService service: String) -> String { "\(service)-\(name.lowercased())" }

    /// The durable consumer of `service` on this stream that is delivered `only` one kind of event
    /// (the server filters on its subjects): `payment-orders-cancelled`. It keys no inbox: the
    /// service's inbox key on the stream stays `consumerName(forService:)`.
    public func consumerName(forService service: String, only: any EventPayload.Type) -> String {
        "\(consumerName(forService: service))-\(only.subjectPrefix.split(separator: ".").last ?? "")"
    }
}

/// Header names and values on every event message.
public enum EventHeaders {
    public static let contentType = "Content-Type"
    public static let cloudEventsJSON = "application/cloudevents+json"
    public static let traceparent = "traceparent"
}
