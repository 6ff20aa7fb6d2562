import Foundation
import Logging
import Messaging
import Synchronization
import TestSupport
import Testing

/// A consumer that makes no progress says so, and says which side holds the messages: the
/// handler (a batch taken and not finished), the reader (deliveries buffered and not taken), or
/// the pulling (no request sent).
@Suite("Pull consumer stall warnings", .serialized, .timeLimit(.minutes(1)))
struct StallWarningTests {
    let options = PullOptions(batch: 8, expires: .seconds(1), stallWarning: .milliseconds(600))

    @Test func aBatchHeldByItsHandlerIsReported() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "held"))
                _ = await nats.publish([message("test.placed.o1", "one", id: "e1")])
                let lines = RecordedLines()
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "held", options: options, logger: lines.logger())
                defer { consumer.stop() }
                let batch = await consumer.nextBatch(max: 8)
                #expect(batch.count == 1)
                // The batch stays out (its "handler" runs) while `maintain` watches.
                let maintainer = Task { await consumer.maintain() }
                defer { maintainer.cancel() }
                #expect(await eventually(timeout: .seconds(5)) { lines.contains("the handler has held its batch") })
                #expect(!lines.contains("nobody takes them"))
                // Once the reader comes back for more, the handler no longer holds anything.
                for message in batch { try message.ack() }
                let next = Task { await consumer.nextBatch(max: 8) }
                try await Task.sleep(for: .milliseconds(100))
                let warnings = lines.count
                try await Task.sleep(for: .milliseconds(1500))
                #expect(lines.count == warnings, "no warning while the reader waits on an idle stream")
                consumer.stop()
                _ = await next.value
            }
        }
    }

    @Test func deliveriesNobodyTakesAreReported() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "untaken"))
                let lines = RecordedLines()
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "untaken", options: options, logger: lines.logger())
                defer { consumer.stop() }
                _ = await nats.publish([message("test.placed.o1", "one", id: "e1")])
                #expect(await eventually { consumer.bufferedCount == 1 })
                // Nobody reads: the delivery waits in the buffer.
                let maintainer = Task { await consumer.maintain() }
                defer { maintainer.cancel() }
                #expect(await eventually(timeout: .seconds(5)) { lines.contains("nobody takes them") })
                #expect(lines.contains("1 buffered"))
                #expect(!lines.contains("the handler has held its batch"))
            }
        }
    }
}

/// Log lines kept in memory (message and level), for tests that check what a component said.
final class RecordedLines: Sendable {
    private let lines = Mutex<[String]>([])

    func logger() -> Logger {
        Logger(label: "recorded") { _ in Handler(lines: self) }
    }

    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
    var count: Int { lines.withLock { $0.count } }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let lines: RecordedLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.append("\(event.level): \(event.message)")
        }
    }
}
