public import Contracts
import Foundation
public import GRDB
public import Hummingbird
public import Messaging

extension ServiceRuntime {
    /// Applies `event` at most once for `consumer`: in one transaction, skips it if the inbox
    /// already has it, runs `body`, and records it in the inbox with `body`'s writes (outbox rows
    /// included) only when `body` is `.done`; anything else rolls `body`'s writes back.
    public func applyOnce(
        _ event: AnyEvent, consumer: String, _ body: @escaping @Sendable (Database) throws -> HandlerOutcome
    ) async throws -> HandlerOutcome {
        try await write { db in
            if try Inbox.hasProcessed(event.id, consumer: consumer, in: db) { return .done }
            var outcome = HandlerOutcome.done
            try db.inSavepoint {
                outcome = try body(db)
                guard outcome == .done else { return .rollback }
                _ = try Inbox.markProcessed(event.id, consumer: consumer, in: db)
                return .commit
            }
            return outcome
        }
    }

    /// A consumer of `stream` for this service (durable `<service>-<stream>`), decoding with the
    /// contract and dead-lettering what breaks it.
    /// Dead letters of this stream that `troupe dlq replay` puts back go to the same `handle`.
    public func consumer(
        of stream: StreamDefinition, concurrency: Int = 4,
        handle: @escaping @Sendable (AnyEvent, JetStreamMessage) async throws -> HandlerOutcome
    ) -> EventConsumer<AnyEvent> {
        let decoder = EventDecoder()
        let durable = "\(descriptor.name)-\(stream.name.lowercased())"
        handlers[stream.name] = handle
        return EventConsumer(
            connection: connection, stream: stream.name,
            consumer: ConsumerConfiguration(
                durable: durable, ackWait: configuration.ackWait, maxAckPending: 20_000),
            deadLetters: deadLetters, pull: PullOptions(batch: 128), concurrency: concurrency,
            prerequisiteTimeout: configuration.prerequisiteTimeout, logger: logger,
            decode: { decoder.decodeMessage($0) }, handle: handle)
    }
}

/// Paging of list endpoints: `limit` 1–200 (default 50) and an opaque `after` cursor.
public struct Page: Sendable {
    public var limit: Int
    /// The decoded cursor: the last key of the previous page.
    public var after: String?

    /// Reads `limit` and `after` from the query; 400 for a bad limit or a cursor this service did not issue.
    public init(_ request: Request) throws {
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
            guard let decoded = Self.decode(String(cursor)) else {
                throw APIError(.validationFailed, "after is not a cursor this service issued", field: "after")
            }
            after = decoded
        }
    }

    /// The cursor to put in `next` after a page ending at `key`.
    public static func cursor(_ key: String) -> String {
        "c1." + Data(key.utf8).base64EncodedString()
    }

    static func decode(_ cursor: String) -> String? {
        guard cursor.hasPrefix("c1."), let data = Data(base64Encoded: String(cursor.dropFirst(3))) else { return nil }
        return String(data: data, encoding: .utf8)
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
    public init(_ key: String, fetched: [Item], limit: Int, cursor: (Item) -> String) {
        self.key = key
        self.items = Array(fetched.prefix(limit))
        self.next = fetched.count > limit ? items.last.map { Page.cursor(cursor($0)) } : nil
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
