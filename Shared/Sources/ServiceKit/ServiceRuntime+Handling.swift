public import Contracts
import Foundation
public import GRDB
public import Hummingbird
import Messaging

/// What one event does to a service's store, inside the transaction of its batch: writes its
/// effect and appends the events it causes to the outbox, and says how it went.
public typealias EventApply = @Sendable (AnyEvent, Database) throws -> HandlerOutcome

extension ServiceRuntime {
    /// Applies a batch of events in one store transaction, each at most once for `consumer`.
    ///
    /// Each event is decided on its own, in order, inside a savepoint: one already in the inbox is
    /// skipped; otherwise `apply` runs and, only when it answers `.done`, the event is recorded in
    /// the inbox with its writes (outbox rows included); `.notYet`, `.reject` or a thrown error undo
    /// that event's writes only. The transaction commits once for the batch; if it cannot (store
    /// busy, disk full), or an error broke it, every event fails and comes back. The outbox rows go
    /// to the relay as soon as the commit is done (see `OutboxHandoff`).
    ///
    /// Events for which `reactsTo` is false are done without touching the store (no inbox row: they
    /// have no effect to protect); a batch of only those opens no transaction.
    public func applyBatch(
        _ events: [AnyEvent], consumer: String, reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true },
        _ apply: @escaping EventApply
    ) async -> [Result<HandlerOutcome, any Error>] {
        guard events.contains(where: reactsTo) else { return events.map { _ in .success(.done) } }
        do {
            return try await store.writeAsync { db in
                try Self.applyEach(events, consumer: consumer, reactsTo: reactsTo, apply, in: db)
            }
        } catch {
            return events.map { _ in .failure(error) }
        }
    }

    private func applyDeliveries(
        _ deliveries: [Delivery<AnyEvent>], consumer: String, reactsTo: @escaping @Sendable (AnyEvent) -> Bool,
        _ apply: @escaping @Sendable (Delivery<AnyEvent>, Database) throws -> HandlerOutcome
    ) async -> [Result<HandlerOutcome, any Error>] {
        guard deliveries.contains(where: { reactsTo($0.event) }) else { return deliveries.map { _ in .success(.done) } }
        do {
            return try await store.writeAsync { db in
                try Self.applyEach(
                    deliveries, event: \.event, consumer: consumer, reactsTo: reactsTo, apply, in: db)
            }
        } catch {
            return deliveries.map { _ in .failure(error) }
        }
    }

    /// The body of a batch transaction: each event on its own, in a savepoint.
    private static func applyEach(
        _ events: [AnyEvent], consumer: String, reactsTo: (AnyEvent) -> Bool, _ apply: EventApply, in db: Database
    ) throws -> [Result<HandlerOutcome, any Error>] {
        try applyEach(
            events, event: { $0 }, consumer: consumer, reactsTo: reactsTo, { event, db in try apply(event, db) }, in: db
        )
    }

    private static func applyEach<Item>(
        _ items: [Item], event: (Item) -> AnyEvent, consumer: String, reactsTo: (AnyEvent) -> Bool,
        _ apply: (Item, Database) throws -> HandlerOutcome, in db: Database
    ) throws -> [Result<HandlerOutcome, any Error>] {
        // The test-only crash point `after-commit` fires once this transaction has committed an
        // effect, before any of the batch is acknowledged.
        var applied = 0
        defer {
            if applied > 0 {
                db.afterNextTransaction { [applied] _ in FaultSwitch.shared.pass(.afterCommit, count: applied) }
            }
        }
        var results: [Result<HandlerOutcome, any Error>] = []
        results.reserveCapacity(items.count)
        for item in items {
            let event = event(item)
            guard reactsTo(event) else {
                results.append(.success(.done))
                continue
            }
            do {
                var outcome = HandlerOutcome.done
                var seenBefore = false
                try db.inEventSavepoint {
                    // The inbox row first: when it is there already, the event was applied and
                    // nothing more is written; otherwise it is undone with the event's writes
                    // unless the event is done.
                    guard try Inbox.markProcessed(event.id, consumer: consumer, in: db) else {
                        seenBefore = true
                        return .commit
                    }
                    outcome = try apply(item, db)
                    return outcome == .done ? .commit : .rollback
                }
                if outcome == .done, !seenBefore { applied += 1 }
                results.append(.success(outcome))
            } catch {
                // The savepoint undid this event's writes; an error that ended the whole
                // transaction fails the batch.
                guard db.isInsideTransaction else { throw error }
                results.append(.failure(error))
            }
        }
        return results
    }

    /// Applies one event at most once for `consumer` (a batch of one).
    public func applyOnce(_ event: AnyEvent, consumer: String, _ apply: @escaping EventApply) async throws
        -> HandlerOutcome
    {
        try await applyBatch([event], consumer: consumer, apply)[0].get()
    }

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
        reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true }, apply: @escaping EventApply
    ) -> EventConsumer<AnyEvent> {
        consumer(of: stream, only: only, reactsTo: reactsTo, apply: apply) { delivery, db in
            try apply(delivery.event, db)
        }
    }

    /// Like `consumer(of:reactsTo:apply:)`, for a service that keeps the event's document as it
    /// arrived (the order's history): `applyDelivery` gets the message too. A replayed dead letter
    /// goes through `apply`.
    public func consumer(
        of stream: StreamDefinition, only: (any EventPayload.Type)? = nil,
        reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true }, apply: @escaping EventApply,
        applyDelivery: @escaping @Sendable (Delivery<AnyEvent>, Database) throws -> HandlerOutcome
    ) -> EventConsumer<AnyEvent> {
        let inboxKey = consumerName(of: stream)
        handlers[stream.name] = { deliveries in
            await self.applyBatch(deliveries.map(\.event), consumer: inboxKey, reactsTo: reactsTo, apply)
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
            prerequisiteTimeout: configuration.prerequisiteTimeout, logger: logger,
            decode: { decoder.decodeMessage($0) },
            handleBatch: { deliveries in
                await self.applyDeliveries(deliveries, consumer: inboxKey, reactsTo: reactsTo, applyDelivery)
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
            prerequisiteTimeout: configuration.prerequisiteTimeout, logger: logger,
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
    func load(for event: AnyEvent, in db: Database) throws -> State?
    /// What to make of `event` in `state`: no store, no clock, no randomness beyond what `load` gave.
    func decide(_ event: AnyEvent, _ state: State) -> Reaction<State>
    /// Writes the decided state.
    func save(_ state: State, for event: AnyEvent, in db: Database) throws
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
    public func apply(_ event: AnyEvent, in db: Database) throws -> HandlerOutcome {
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
        consumer(of: stream, only: only, reactsTo: { reactor.reacts(to: $0) }) { event, db in
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
