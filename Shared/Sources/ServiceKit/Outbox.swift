public import Foundation
public import GRDB

/// An event waiting in the outbox to be published.
public struct OutboxEntry: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "outbox"

    public var seq: Int64?
    /// The CloudEvents id, also the JetStream `Nats-Msg-Id`.
    public var eventId: String
    public var subject: String
    public var payload: Data
    /// NATS headers as a JSON object.
    public var headers: String
    /// True for event types that occur at most once per order subject: the relay then publishes
    /// with `Nats-Expected-Last-Subject-Sequence: 0`, which stops a second copy even long after the
    /// broker's de-duplication window.
    public var oncePerSubject: Bool
    public var createdAt: Date
    /// The headers as given, kept in memory for publishing at commit (not a column).
    var headerFields: [String: String]?

    enum CodingKeys: String, CodingKey {
        case seq, eventId, subject, payload, headers, oncePerSubject, createdAt
    }

    public init(
        eventId: String, subject: String, payload: Data, headers: [String: String], oncePerSubject: Bool,
        createdAt: Date = Date()
    ) {
        self.eventId = eventId
        self.subject = subject
        self.payload = payload
        self.headers = Self.headerJSON(headers)
        self.headerFields = headers
        self.oncePerSubject = oncePerSubject
        self.createdAt = createdAt
    }

    public var headerValues: [String: String] {
        if let headerFields { return headerFields }
        let object = try? JSONSerialization.jsonObject(with: Data(headers.utf8))
        return (object as? [String: String]) ?? [:]
    }

    /// The headers as a JSON object, keys sorted, written directly: a JSONEncoder per event costs
    /// more than the whole store write of the row.
    static func headerJSON(_ headers: [String: String]) -> String {
        JSONText.object(headers)
    }
}

/// The transactional outbox: events are written in the same transaction as the state change that
/// causes them, and the `OutboxRelay` publishes them afterwards.
public enum Outbox {
    /// Adds an event to the outbox inside the caller's transaction. The same event id twice is a no-op.
    ///
    /// Once the transaction commits, the row also goes straight to the relay (`OutboxHandoff`), which
    /// publishes it without reading it back; a rolled-back transaction or savepoint hands nothing over.
    ///
    /// Times are stored as seconds since 1970 (GRDB reads them back as `Date`): formatting a date
    /// as text costs more than the insert.
    public static func append(_ entry: OutboxEntry, in db: StoreSession) throws {
        _ = try db.insertOutbox(entry)
    }

    /// Events not yet published, oldest first.
    ///
    /// In PostgreSQL, where instances share the outbox, the rows are claimed: those this instance
    /// committed, and those whose claim ran out (their instance died before the broker confirmed
    /// them), skipping rows another relay is claiming right now; the claim lasts
    /// `PostgresStore.claim`, so that no other relay publishes them meanwhile. Must then be called
    /// in a write.
    public static func pending(limit: Int, in db: StoreSession) throws -> [OutboxEntry] {
        let columns = "seq, eventId, subject, payload, headers, oncePerSubject, createdAt"
        let rows: [StoreRow]
        if let instance = db.instance {
            let now = Date().timeIntervalSince1970
            rows = try db.rows(
                "UPDATE outbox SET claimedBy = ?, claimedUntil = ? WHERE seq IN (SELECT seq FROM outbox "
                    + "WHERE claimedBy = ? OR claimedUntil < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) "
                    + "RETURNING \(columns)",
                [instance, now + PostgresStore.claim, instance, now, limit]
            ).sorted { ($0[0] as Int64) < ($1[0] as Int64) }
        } else {
            rows = try db.rows("SELECT \(columns) FROM outbox ORDER BY seq LIMIT ?", [limit])
        }
        return rows.map { row in
            var entry = OutboxEntry(
                eventId: row[1], subject: row[2], payload: row[3], headers: [:], oncePerSubject: row[5],
                createdAt: Date(timeIntervalSince1970: row[6]))
            entry.seq = row[0]
            entry.headers = row[4]
            entry.headerFields = nil
            return entry
        }
    }

    /// How many events wait, and the creation time of the oldest.
    public static func backlog(in db: StoreSession) throws -> (count: Int, oldest: Date?) {
        guard let row = try db.row("SELECT COUNT(*), MIN(createdAt) FROM outbox") else { return (0, nil) }
        let oldest: Double? = row[1]
        return (row[0], oldest.map(Date.init(timeIntervalSince1970:)))
    }

    /// Whether rows wait that no living relay will publish: in PostgreSQL, rows of another instance
    /// whose claim ran out (it died, or restarted under a new identity). Never in SQLite, whose one
    /// instance reads its whole outbox when it starts.
    static func hasOrphans(in db: StoreSession) throws -> Bool {
        guard let instance = db.instance else { return false }
        return try db.row(
            "SELECT 1 FROM outbox WHERE claimedBy <> ? AND claimedUntil < ? LIMIT 1",
            [instance, Date().timeIntervalSince1970]) != nil
    }

    /// Deletes the rows the broker has stored.
    static func remove(_ seqs: [Int64], in db: StoreSession) throws {
        guard !seqs.isEmpty else { return }
        // One statement, prepared once, whatever the number of rows: the list goes in as one
        // parameter (a statement per list length would fill the statement caches).
        let list = seqs.map(String.init).joined(separator: ",")
        switch db.dialect {
        case .sqlite:
            try db.execute("DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))", ["[\(list)]"])
        case .postgres:
            try db.execute("DELETE FROM outbox WHERE seq = ANY (?::bigint[])", ["{\(list)}"])
        }
    }
}

/// The idempotent inbox: ids of consumed events, recorded in the same transaction as their effect.
public enum Inbox {
    /// Records that `consumer` has processed `eventId`; false when it already had (the caller then
    /// applies nothing, so a redelivery has no second effect).
    public static func markProcessed(_ eventId: String, consumer: String, in db: StoreSession) throws -> Bool {
        try db.execute(
            "INSERT INTO inbox (consumer, eventId, processedAt) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [consumer, eventId, Date().timeIntervalSince1970]) == 1
    }

    /// Whether `consumer` has processed `eventId`.
    public static func hasProcessed(_ eventId: String, consumer: String, in db: StoreSession) throws -> Bool {
        try db.row("SELECT 1 FROM inbox WHERE consumer = ? AND eventId = ?", [consumer, eventId]) != nil
    }
}
