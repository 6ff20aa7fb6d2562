import Foundation
import Logging
import Messaging
import Synchronization
import TestSupport

/// A stream of its own for one test, on subjects `<prefix>.>`.
func testStream(_ name: String = "TEST", prefix: String = "test", duplicateWindow: Duration = .seconds(120))
    -> StreamConfiguration
{
    StreamConfiguration(name: name, subjects: ["\(prefix).>"], duplicateWindow: duplicateWindow)
}

func message(_ subject: String, _ text: String, id: String? = nil, headers: [String: String] = [:]) -> OutgoingMessage {
    OutgoingMessage(subject: subject, payload: Array(text.utf8), headers: headers, messageId: id)
}

func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

extension JetStreamMessage {
    var text: String { String(decoding: payload, as: UTF8.self) }
}

/// Reads from `consumer` (keeping its pull requests going) until `count` messages have arrived
/// or `timeout` passes, and returns what arrived.
func receive(_ count: Int, from consumer: PullConsumer, timeout: Duration = .seconds(10)) async -> [JetStreamMessage] {
    enum Outcome: Sendable {
        case messages([JetStreamMessage])
        case timedOut
        case maintainerDone
    }
    return await withTaskGroup(of: Outcome.self) { group in
        group.addTask {
            var received: [JetStreamMessage] = []
            while received.count < count {
                let batch = await consumer.nextBatch(max: count - received.count)
                if batch.isEmpty { break }
                received += batch
            }
            return .messages(received)
        }
        group.addTask {
            await consumer.maintain()
            return .maintainerDone
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return .timedOut
        }
        var result: [JetStreamMessage] = []
        for await outcome in group {
            switch outcome {
            case .messages(let messages):
                result = messages
                group.cancelAll()
            case .timedOut:
                group.cancelAll()
            case .maintainerDone:
                break
            }
        }
        return result
    }
}

/// Reads nothing for `period` and returns what arrived meanwhile (to prove that nothing does).
func receiveNothing(from consumer: PullConsumer, for period: Duration) async -> [JetStreamMessage] {
    await receive(Int.max, from: consumer, timeout: period)
}

/// Waits until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
