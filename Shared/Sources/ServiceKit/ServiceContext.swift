public import Contracts
import Foundation
public import GRDB
public import Logging
public import Postgres

/// What a service's handlers and routes work with: its descriptor, settings, logger and store
/// (outbox and inbox included), with the ways to write to it. No NATS connection: the events a
/// write appends to the outbox are published by the runtime that owns the context
/// (`ServiceRuntime`), so handlers and routes can be built and tested on a store alone.
public final class ServiceContext: Sendable {
    public let descriptor: ServiceDescriptor
    public let configuration: ServiceConfiguration
    public let settings: Settings
    public let logger: Logger
    public let store: ServiceStore
    /// Commits concurrent request writes together (`commitTogether`).
    let groupCommit: GroupCommit
    /// Where events that came before their prerequisite wait for the commit that applies it.
    public let waitingRoom = WaitingRoom()

    /// Reads the settings (throwing every problem at once) and opens the store in the configured
    /// data directory.
    public init(
        descriptor: ServiceDescriptor, settings: Settings, logger: Logger,
        migrations: (inout DatabaseMigrator) -> Void, postgresMigrations: (inout PGMigrator) -> Void = { _ in }
    ) throws {
        var reader = SettingsReader(settings)
        let configuration = ServiceConfiguration.read(&reader, service: descriptor.name)
        try reader.finish()
        self.descriptor = descriptor
        self.settings = settings
        self.configuration = configuration
        self.logger = logger
        if let url = configuration.databaseURL {
            do {
                store = try ServiceStore.open(postgres: url, name: descriptor.name, migrations: postgresMigrations)
            } catch {
                throw SettingsError(problems: ["TROUPE_DATABASE_URL: cannot open the store: \(error)"])
            }
        } else {
            do {
                store = try ServiceStore.open(
                    directory: configuration.dataDirectory, name: descriptor.name,
                    busyTimeout: configuration.storeBusyTimeout,
                    migrations: migrations)
            } catch {
                throw SettingsError(problems: ["TROUPE_DATA_DIR: cannot open the store: \(error)"])
            }
        }
        groupCommit = GroupCommit(store: store)
    }

    /// Commits a state change with the events it causes; the relay publishes them right after.
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        try await store.write(body)
    }

    /// Reads a consistent snapshot of the store, off the writer (routes that only look).
    public func read<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        try await store.read(body)
    }

    /// Like `write`, for writes that arrive concurrently (HTTP requests): under load they are
    /// committed together, each in a savepoint of its own, one transaction for many (`GroupCommit`).
    public func commitTogether<T: Sendable>(_ body: @escaping @Sendable (StoreSession) throws -> T) async throws -> T {
        try await groupCommit.write(body)
    }
}

extension ServiceContext {
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
    ///
    /// Before any event is applied, the batch takes the locks `lockKeys` names for its events (by
    /// default each event's order), all at once and in one order, so that two instances sharing a
    /// PostgreSQL store serialise their decisions about an order without deadlocking over it
    /// (`StoreSession.lock`; nothing in SQLite).
    public func applyBatch(
        _ events: [AnyEvent], consumer: String, reactsTo: @escaping @Sendable (AnyEvent) -> Bool = { _ in true },
        lockKeys: @escaping @Sendable (AnyEvent) -> [String] = ServiceContext.orderLock,
        _ apply: @escaping EventApply
    ) async -> [Result<HandlerOutcome, any Error>] {
        guard events.contains(where: reactsTo) else { return events.map { _ in .success(.done) } }
        let room = waitingRoom
        do {
            return try await store.write { db in
                try db.lock(events.filter(reactsTo).flatMap(lockKeys))
                return try Self.applyEach(
                    events, consumer: consumer, reactsTo: reactsTo, apply, in: db, room: room)
            }
        } catch {
            return events.map { _ in .failure(error) }
        }
    }

    func applyDeliveries(
        _ deliveries: [Delivery<AnyEvent>], consumer: String, reactsTo: @escaping @Sendable (AnyEvent) -> Bool,
        lockKeys: @escaping @Sendable (AnyEvent) -> [String] = ServiceContext.orderLock,
        _ apply: @escaping @Sendable (Delivery<AnyEvent>, StoreSession) throws -> HandlerOutcome
    ) async -> [Result<HandlerOutcome, any Error>] {
        guard deliveries.contains(where: { reactsTo($0.event) }) else { return deliveries.map { _ in .success(.done) } }
        let room = waitingRoom
        do {
            return try await store.write { db in
                try db.lock(deliveries.map(\.event).filter(reactsTo).flatMap(lockKeys))
                return try Self.applyEach(
                    deliveries, event: \.event, consumer: consumer, reactsTo: reactsTo, apply, in: db,
                    room: room)
            }
        } catch {
            return deliveries.map { _ in .failure(error) }
        }
    }

    /// The body of a batch transaction: each event on its own, in a savepoint.
    private static func applyEach(
        _ events: [AnyEvent], consumer: String, reactsTo: (AnyEvent) -> Bool, _ apply: EventApply, in db: StoreSession,
        room: WaitingRoom
    ) throws -> [Result<HandlerOutcome, any Error>] {
        try applyEach(
            events, event: { $0 }, consumer: consumer, reactsTo: reactsTo, { event, db in try apply(event, db) },
            in: db,
            room: room)
    }

    private static func applyEach<Item>(
        _ items: [Item], event: (Item) -> AnyEvent, consumer: String, reactsTo: (AnyEvent) -> Bool,
        _ apply: (Item, StoreSession) throws -> HandlerOutcome, in db: StoreSession, room: WaitingRoom
    ) throws -> [Result<HandlerOutcome, any Error>] {
        // The test-only crash point `after-commit` fires once this transaction has committed an
        // effect, before any of the batch is acknowledged. Once committed, the orders of the
        // applied events release the events of theirs that wait in the process (`WaitingRoom`).
        var applied: [String] = []
        defer {
            if !applied.isEmpty {
                db.afterTransaction { [applied] committed in
                    guard committed else { return }
                    room.arrived(applied)
                    FaultSwitch.shared.pass(.afterCommit, count: applied.count)
                }
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
                if outcome == .done, !seenBefore { applied.append(event.orderId) }
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

    /// The lock of the order an event is about: what every service decides per order.
    public static let orderLock: @Sendable (AnyEvent) -> [String] = { [LockKey.order($0.orderId)] }

    /// Applies one event at most once for `consumer` (a batch of one).
    public func applyOnce(_ event: AnyEvent, consumer: String, _ apply: @escaping EventApply) async throws
        -> HandlerOutcome
    {
        try await applyBatch([event], consumer: consumer, apply)[0].get()
    }
}
