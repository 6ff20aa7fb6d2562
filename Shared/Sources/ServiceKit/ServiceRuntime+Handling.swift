public import Contracts
import Foundation
import GRDB
public import Hummingbird
import Messaging

/// What one event does to a service's store, inside the transaction of its batch: writes its
/// effect and appends the events it causes to the outbox, and says how it went.
public typealias EventApply = @Sendable (AnyEvent, StoreSession) throws -> HandlerOutcome

extension ServiceRuntime {
    /// The durable consumer name of this service on `stream`: `<service>-<stream>`. It also keys
    /// the inbox, so it must never change.
    public func consumerName(of stream: StreamDefinition) -> String {
        stream.consumerName(forService: descriptor.name)
    }

    /// A consumer of `stream` for this service (durable `<service>-<stream>`) that applies each
    /// pulled batch in one transaction with `apply`, decoding with the contract and dead-lettering
    /// what breaks it. Dead letters of this stream that `troupe dlq replay` puts back go the same way.
    ///
    /// Events for which `reactsTo` is false are acknowledged without touching the store.
    ///
    /// With `only`, the service reacts to that one kind of event on the stream, and the server
    /// delivers it nothing else (a third of a saga's deliveries were events their reader ignored):
    /// durable `<service>-<stream>-<event>` filtered on its subjects, which takes over from the
    /// unfiltered durable of earlier versions (`ConsumerConfiguration.replaces`: it starts after
    /// that one's acknowledgement floor; the inbox, still keyed `<service>-<stream>`, recognises
    /// whatever comes twice). A filter cannot change on an existing durable, hence the new name.
    public func consumer(
        of stream: StreamDefinition, only: (any EventPayload.Type)? = nil,
        reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true },
        lockKeys: @escaping @Sendable (AnyEvent) -> [String] = ServiceContext.orderLock, apply: @escaping EventApply
    ) -> EventConsumer<AnyEvent> {
        consumer(of: stream, only: only, reactsTo: reactsTo, lockKeys: lockKeys, apply: apply) { delivery, db in
            try apply(delivery.event, db)
        }
    }

    /// Like `consumer(of:reactsTo:apply:)`, for a service that keeps the event's document as it
    /// arrived (the order's history): `applyDelivery` gets the message too. A replayed dead letter
    /// goes through `apply`.
    public func consumer(
        of stream: StreamDefinition, only: (any EventPayload.Type)? = nil,
        reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true },
        lockKeys: @escaping @Sendable (AnyEvent) -> [String] = ServiceContext.orderLock, apply: @escaping EventApply,
        applyDelivery: @escaping @Sendable (Delivery<AnyEvent>, StoreSession) throws -> HandlerOutcome
    ) -> EventConsumer<AnyEvent> {
        let inboxKey = consumerName(of: stream)
        let context = self.context
        handlers[stream.name] = { deliveries in
            await context.applyBatch(
                deliveries.map(\.event), consumer: inboxKey, reactsTo: reactsTo, lockKeys: lockKeys, apply)
        }
        let decoder = EventDecoder()
        var consumer = ConsumerConfiguration(durable: inboxKey, ackWait: configuration.ackWait, maxAckPending: 20_000)
        if let only {
            consumer.durable = stream.consumerName(forService: descriptor.name, only: only)
            consumer.filterSubject = only.filterSubject
            consumer.replaces = inboxKey
        }
        return EventConsumer(
            connection: connection, stream: stream.name, consumer: consumer,
            deadLetters: deadLetters, pull: PullOptions(batch: Self.pullBatch), maxBatch: Self.batchSize,
            prerequisiteTimeout: configuration.prerequisiteTimeout, waitingRoom: context.waitingRoom, logger: logger,
            decode: { decoder.decodeMessage($0) },
            handleBatch: { deliveries in
                await context.applyDeliveries(
                    deliveries, consumer: inboxKey, reactsTo: reactsTo, lockKeys: lockKeys, applyDelivery)
            })
    }

    /// A consumer of `stream` whose handler gets each pulled batch whole (for a service that must do
    /// something outside its store, like sending a notification, before it commits).
    public func consumer(
        of stream: StreamDefinition, handleBatch: @escaping EventConsumer<AnyEvent>.HandleBatch
    ) -> EventConsumer<AnyEvent> {
        let decoder = EventDecoder()
        handlers[stream.name] = handleBatch
        return EventConsumer(
            connection: connection, stream: stream.name,
            consumer: ConsumerConfiguration(
                durable: consumerName(of: stream), ackWait: configuration.ackWait, maxAckPending: 20_000),
            deadLetters: deadLetters, pull: PullOptions(batch: Self.pullBatch), maxBatch: Self.batchSize,
            prerequisiteTimeout: configuration.prerequisiteTimeout, waitingRoom: context.waitingRoom, logger: logger,
            decode: { decoder.decodeMessage($0) }, handleBatch: handleBatch)
    }

    /// Events applied in one transaction at most. Large enough that a backlog drains in few
    /// transactions; small enough that the store's one writer is never held long (a request's
    /// write waits behind at most a few batches, each a few milliseconds) and that a batch is
    /// handled well within the ack wait.
    static let batchSize = 64
    /// Messages asked for in one pull request (up to twice that are buffered).
    static let pullBatch = 256
}

/// A service's reaction to the events it reads, written once: load the state the event is decided
/// on, decide (pure, in the service's domain), save the new state and append the events the
/// decision publishes to the outbox — all inside the batch's transaction.
public protocol EventReactor: Sendable {
    associatedtype State
    /// Whether the service reacts to `event` at all: the others are acknowledged without a store
    /// transaction. Must be true for every event `load` answers a state for.
    func reacts(to event: AnyEvent) -> Bool
    /// The state `event` is decided on; nil for an event this service does not react to.
    func load(for event: AnyEvent, in db: StoreSession) throws -> State?
    /// What to make of `event` in `state`: no store, no clock, no randomness beyond what `load` gave.
    func decide(_ event: AnyEvent, _ state: State) -> Reaction<State>
    /// Writes the decided state.
    func save(_ state: State, for event: AnyEvent, in db: StoreSession) throws
    /// The locks a batch takes up front for `event` (`ServiceContext.applyBatch`): its order, and
    /// what else the event names that the decision touches (an account, products). Locks `load`
    /// takes later, for what only the store says, are the ones that can still meet another
    /// instance's in the other order.
    func lockKeys(for event: AnyEvent) -> [String]
}

extension EventReactor {
    public func lockKeys(for event: AnyEvent) -> [String] { ServiceContext.orderLock(event) }
}

/// A decision about one event.
public enum Reaction<State> {
    /// Save `state` and publish `events`.
    case apply(State, publish: [AnyEvent])
    /// What the event needs has not arrived yet.
    case notYet(String)
    /// The event can never be applied.
    case reject(String)
}

extension EventReactor {
    /// Load, decide, save, append to the outbox.
    public func apply(_ event: AnyEvent, in db: StoreSession) throws -> HandlerOutcome {
        guard let state = try load(for: event, in: db) else { return .done }
        switch decide(event, state) {
        case .apply(let next, let events):
            try save(next, for: event, in: db)
            try Outbox.append(events, in: db)
            return .done
        case .notYet(let reason):
            return .notYet(reason)
        case .reject(let reason):
            return .reject(reason)
        }
    }
}

extension ServiceRuntime {
    /// One consumer per stream the service reads (`descriptor.reads`), each applying with
    /// `reactor` (and delivered only the kind of event paired with its stream, when there is one),
    /// with the readiness checks that wait for every one of them to be bound.
    public func consumers<Reactor: EventReactor>(
        reactor: Reactor
    ) -> (consumers: [EventConsumer<AnyEvent>], health: HealthChecks) {
        var bound: [String: @Sendable () -> Bool] = [:]
        let consumers = descriptor.reads.map { stream, only in
            let consumer = consumer(of: stream, only: only, reactor: reactor)
            bound[consumerName(of: stream)] = { consumer.isBound }
            return consumer
        }
        return (consumers, healthChecks(consumers: bound))
    }

    /// A consumer of `stream` that applies each event with `reactor` (delivered `only` one kind of
    /// event when given: see `consumer(of:only:reactsTo:apply:)`).
    public func consumer<Reactor: EventReactor>(
        of stream: StreamDefinition, only: (any EventPayload.Type)? = nil, reactor: Reactor
    ) -> EventConsumer<AnyEvent> {
        consumer(
            of: stream, only: only, reactsTo: { reactor.reacts(to: $0) }, lockKeys: { reactor.lockKeys(for: $0) }
        ) { event, db in
            try reactor.apply(event, in: db)
        }
    }
}

/// Paging of list endpoints: `limit` 1–200 (default 50) and an opaque `after` cursor, signed by the
/// service (`CursorSigner`).
public struct Page: Sendable {
    public var limit: Int
    /// The decoded cursor: the last key of the previous page.
    public var after: String?
    /// Signs the next page's cursor.
    let cursors: CursorSigner

    /// Reads `limit` and `after` from the query; 400 for a bad limit or a cursor this service did not issue.
    public init(_ request: Request, cursors: CursorSigner) throws {
        self.cursors = cursors
        let query = request.uri.queryParameters
        if let text = query["limit"] {
            guard let value = Int(String(text)), (1...200).contains(value) else {
                throw APIError.validation("limit", "must be a whole number between 1 and 200")
            }
            limit = value
        } else {
            limit = 50
        }
        if let cursor = query["after"] {
            guard let decoded = cursors.value(of: String(cursor)) else {
                throw APIError(.validationFailed, "after is not a cursor this service issued", field: "after")
            }
            after = decoded
        }
    }
}

/// A page of a list endpoint: `{"<key>": [...], "next": "…" | null}`.
public struct PageResponse<Item: Encodable & Sendable>: Encodable, Sendable {
    public let key: String
    public let items: [Item]
    /// null on the last page (present, not absent).
    public let next: String?

    /// A page from `fetched`, which holds up to `limit + 1` rows: one more than the page means
    /// there is a next page, whose cursor comes from the page's last item.
    public init(_ key: String, fetched: [Item], page: Page, cursor: (Item) -> String) {
        self.key = key
        self.items = Array(fetched.prefix(page.limit))
        self.next = fetched.count > page.limit ? items.last.map { page.cursors.cursor(cursor($0)) } : nil
    }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: key))
        try container.encode(next, forKey: Key(stringValue: "next"))
    }
}
