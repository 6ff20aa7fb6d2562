import Contracts
import Foundation
import GRDB
import Postgres
import ServiceKit

/// The order's event store (its source of truth) and the projection the queries read.
enum OrderStore {
    static func migrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("order-v1") { db in
            try db.create(table: "orderEvent") { t in
                t.column("orderId", .text).notNull()
                t.column("seq", .integer).notNull()
                t.column("eventId", .text).notNull().unique()
                t.column("time", .text).notNull()
                t.column("document", .blob).notNull()
                t.primaryKey(["orderId", "seq"])
            }
            // `document`: the order as `OrderViewCodec` encodes it (JSON in stores written before it).
            try db.create(table: "orderView") { t in
                t.primaryKey("orderId", .text)
                t.column("customerId", .text).notNull()
                t.column("status", .text).notNull()
                t.column("document", .text).notNull()
            }
            try db.create(index: "orderViewCustomer", on: "orderView", columns: ["customerId", "orderId"])
            try db.create(index: "orderViewStatus", on: "orderView", columns: ["status", "orderId"])
            try db.create(table: "idempotencyKey") { t in
                t.primaryKey("key", .text)
                t.column("requestHash", .text).notNull()
                t.column("orderId", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("order-v2-idempotency-key-age") { db in
            try db.create(index: "idempotencyKeyCreated", on: "idempotencyKey", columns: ["createdAt"])
        }
    }

    /// The same tables in PostgreSQL (`TROUPE_DATABASE_URL`); the kit makes the outbox and inbox.
    static func postgresMigrations(_ migrator: inout PGMigrator) {
        migrator.register("order-v1") { db in
            try db.run(
                """
                CREATE TABLE orderEvent (
                    orderId text NOT NULL, seq bigint NOT NULL, eventId text NOT NULL UNIQUE, time text NOT NULL,
                    document bytea NOT NULL, PRIMARY KEY (orderId, seq)
                );
                CREATE TABLE orderView (
                    orderId text PRIMARY KEY, customerId text NOT NULL, status text NOT NULL, document bytea NOT NULL
                );
                CREATE INDEX orderViewCustomer ON orderView (customerId, orderId);
                CREATE INDEX orderViewStatus ON orderView (status, orderId);
                CREATE TABLE idempotencyKey (
                    key text PRIMARY KEY, requestHash text NOT NULL, orderId text NOT NULL,
                    createdAt double precision NOT NULL
                );
                CREATE INDEX idempotencyKeyCreated ON idempotencyKey (createdAt);
                """)
        }
    }

    /// The order's events as they arrived (JSON documents), oldest first; empty for no such order.
    static func documents(_ orderId: String, in db: StoreSession) throws -> [Data] {
        try db.values(Data.self, "SELECT document FROM orderEvent WHERE orderId = ? ORDER BY seq", [orderId])
    }

    /// The order's history, oldest first; `upTo` keeps only events at or before that time.
    static func history(_ orderId: String, upTo: String? = nil, in db: StoreSession) throws -> [AnyEvent] {
        let decoder = EventDecoder()
        return try documents(orderId, in: db).compactMap { document in
            let event = try decoder.decode(document)
            if let upTo, let time = Timestamp.date(event.time), let limit = Timestamp.date(upTo), time > limit {
                return nil
            }
            return event
        }
    }

    /// Appends events to the history, publishes those the order produced, and updates the projection.
    /// `documents` holds events already encoded (an incoming event as it arrived), by id.
    static func append(
        _ events: [AnyEvent], publishing: [AnyEvent], to state: OrderState?, documents given: [String: Data] = [:],
        in db: StoreSession
    ) throws -> OrderState? {
        guard let first = events.first else { return state }
        var next = state
        var seq = try db.value(Int.self, "SELECT MAX(seq) FROM orderEvent WHERE orderId = ?", [first.orderId]) ?? 0
        // Each event is encoded once: the same document goes to the history and, when the order
        // publishes it, to the outbox.
        var documents = given
        for event in events {
            seq += 1
            let document = try documents[event.id] ?? event.encoded()
            documents[event.id] = document
            try db.execute(
                "INSERT INTO orderEvent (orderId, seq, eventId, time, document) VALUES (?, ?, ?, ?, ?)",
                [event.orderId, seq, event.id, event.time, document])
            next = OrderState.evolve(next, event)
        }
        for event in publishing {
            try Outbox.append(OutboxEntry(event, encoded: documents[event.id] ?? event.encoded()), in: db)
        }
        for event in publishing {
            switch event {
            // Counted once stored: an event whose writes are undone, or a batch that fails to
            // commit, counts nothing.
            case .orderConfirmed: db.afterCommit { ServiceMetrics.sagaOutcome("confirmed") }
            case .orderShipped: db.afterCommit { ServiceMetrics.sagaOutcome("shipped") }
            case .orderCancelled(let e):
                let reason = e.data.reason.rawValue
                db.afterCommit { ServiceMetrics.sagaOutcome("cancelled", reason: reason) }
            default: break
            }
        }
        if let next { try saveView(next, in: db) }
        return next
    }

    static func saveView(_ state: OrderState, in db: StoreSession) throws {
        // An upsert, not INSERT OR REPLACE: a replace deletes and re-inserts the row, rewriting
        // both indexes even when neither customerId nor status changed (most events).
        try db.execute(
            "INSERT INTO orderView (orderId, customerId, status, document) VALUES (?, ?, ?, ?) "
                + "ON CONFLICT (orderId) DO UPDATE SET customerId = excluded.customerId, "
                + "status = excluded.status, document = excluded.document",
            [state.orderId, state.customerId, state.status.rawValue, OrderViewCodec.encode(state)])
    }

    static func view(_ orderId: String, in db: StoreSession) throws -> OrderState? {
        try db.value(Data.self, "SELECT document FROM orderView WHERE orderId = ?", [orderId])
            .map(OrderViewCodec.decode)
    }

    static func list(customerId: String?, status: String?, before: String?, limit: Int, in db: StoreSession) throws
        -> [OrderState]
    {
        var sql = "SELECT document FROM orderView WHERE orderId < ?"
        var arguments: [any StoreValue] = [before ?? "ord_~"]
        if let customerId {
            sql += " AND customerId = ?"
            arguments.append(customerId)
        }
        if let status {
            sql += " AND status = ?"
            arguments.append(status)
        }
        sql += " ORDER BY orderId DESC LIMIT ?"
        arguments.append(limit)
        return try db.values(Data.self, sql, arguments).map(OrderViewCodec.decode)
    }

    /// Rebuilds the whole projection from the events (`--rebuild-projection`).
    static func rebuildProjection(in db: StoreSession) throws -> Int {
        try db.execute("DELETE FROM orderView")
        let ids = try db.values(String.self, "SELECT DISTINCT orderId FROM orderEvent")
        for id in ids {
            if let state = OrderState.fold(try history(id, in: db)) { try saveView(state, in: db) }
        }
        return ids.count
    }
}
