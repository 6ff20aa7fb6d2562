import Contracts
import Foundation
import Messaging

/// One dead letter as the tool shows it: where it came from, why, and whether it was replayed.
struct DeadLetterRecord: Encodable {
    var sequence: UInt64
    var time: String
    var service: String
    var subject: String
    var originalStream: String?
    var originalSequence: UInt64?
    var reason: String
    var deliveries: Int?
    /// From the payload when it is a CloudEvent at all.
    var type: String?
    var eventId: String?
    var orderId: String?
    /// `DEADLETTER` sequences of its replays, oldest first.
    var replays: [UInt64]

    /// Nil for a message of `DEADLETTER` that is not a dead letter (a replay, or a stranger).
    init?(_ message: StoredMessage, replays: [UInt64]) {
        guard let (service, subject) = DeadLetter.parse(subject: message.subject) else { return nil }
        sequence = message.sequence
        time = Timestamp.string(message.time)
        self.service = service
        self.subject = subject
        originalStream = message.headers[DeadLetter.originalStreamHeader]
        originalSequence = message.headers[DeadLetter.originalSequenceHeader].flatMap { UInt64($0) }
        reason = message.headers[DeadLetter.reasonHeader] ?? "?"
        deliveries = message.headers[DeadLetter.deliveriesHeader].flatMap { Int($0) }
        let envelope = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any]
        type = envelope?["type"] as? String
        eventId = envelope?["id"] as? String
        orderId = envelope?["subject"] as? String
        self.replays = replays
    }
}

/// Reads `DEADLETTER`: the dead letters and which of them were replayed.
struct DeadLetterReader {
    let connection: NATSConnection

    /// Every dead letter (optionally of one service), oldest first, with the raw messages by sequence.
    func read(service: String? = nil) async throws -> [(record: DeadLetterRecord, message: StoredMessage)] {
        let messages: [StoredMessage]
        do {
            messages = try await connection.storedMessages(stream: DeadLetter.stream)
        } catch {
            // No DEADLETTER stream: nothing was ever dead-lettered.
            if error.apiErrorCode == JetStreamErrorCode.streamNotFound { return [] }
            throw error
        }
        var replays: [UInt64: [UInt64]] = [:]
        for message in messages where message.subject.hasPrefix("deadletter.replay.") {
            if let of = message.headers[DeadLetter.replayOfHeader].flatMap({ UInt64($0) }) {
                replays[of, default: []].append(message.sequence)
            }
        }
        return messages.compactMap { message in
            guard let record = DeadLetterRecord(message, replays: replays[message.sequence] ?? []),
                service.map({ $0 == record.service }) ?? true
            else { return nil }
            return (record, message)
        }
    }
}
