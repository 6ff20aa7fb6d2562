import Foundation
public import Logging

extension NATSConnection {
    /// Durable names of the consumers `readStream` creates start with this.
    public static let readerConsumerPrefix = "troupe-read-"

    /// Every message of `stream` stored now whose subject matches `filter`, in stream order: a
    /// snapshot for tools (`troupe check`, `troupe trace`). The server filters, and messages come in
    /// pulled batches through a consumer of the tool's own (`troupe-read-…`), deleted afterwards
    /// and, should the tool die, by the server after `inactiveThreshold` without pulls. Messages
    /// stored after the call began are not included.
    public func readStream(
        _ stream: String, filter: String? = nil, inactiveThreshold: Duration = .seconds(30), logger: Logger
    ) async throws(NATSError) -> [JetStreamMessage] {
        let durable = Self.readerConsumerPrefix + UUID().uuidString.prefix(12).lowercased()
        try await ensureConsumer(
            stream: stream,
            ConsumerConfiguration(
                durable: durable, filterSubject: filter, maxAckPending: 100_000, inactiveThreshold: inactiveThreshold))
        do {
            let messages = try await read(stream: stream, durable: durable, logger: logger)
            try? await deleteConsumer(stream: stream, durable: durable)
            return messages
        } catch {
            try? await deleteConsumer(stream: stream, durable: durable)
            throw error
        }
    }

    private func read(stream: String, durable: String, logger: Logger) async throws(NATSError) -> [JetStreamMessage] {
        // What matched when the consumer was created: the snapshot's size.
        let expected = try await consumerState(stream: stream, durable: durable).pending
        guard expected > 0 else { return [] }
        let consumer = try PullConsumer.bind(
            connection: self, stream: stream, durable: durable, options: PullOptions(batch: 512), logger: logger)
        defer { _ = consumer.stop() }
        let maintainer = Task { await consumer.maintain() }
        defer { maintainer.cancel() }
        var messages: [JetStreamMessage] = []
        var seen = Set<UInt64>()
        while UInt64(messages.count) < expected {
            // A stall (the server gone) ends the read with an error instead of hanging the tool.
            let batch = await withTaskGroup(of: [JetStreamMessage]?.self) { group in
                group.addTask { await consumer.nextBatch(max: 512) }
                group.addTask {
                    try? await Task.sleep(for: .seconds(10))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let batch, !batch.isEmpty else {
                throw NATSError(
                    code: .timeout,
                    message: "reading \(stream): \(messages.count) of \(expected) messages, then nothing for 10 s")
            }
            for message in batch {
                try? message.ack()
                // A redelivery (the ack wait passed) is the same stored message again.
                if seen.insert(message.metadata.streamSequence).inserted { messages.append(message) }
            }
        }
        return Array(messages.prefix(Int(expected)))
    }
}
