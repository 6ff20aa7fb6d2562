// Drives the layer's consumer path through the situation that overflows the heap in nats.c 3.4.1's
// pull `Fetch` (issue 749): more than half a batch left over from an earlier request when the next
// one starts, plus messages arriving after their request expired. Run under valgrind by
// `FetchSafetyTests`: any invalid read or write fails the test. Exits 0 when every message was
// received exactly once, 1 otherwise.
import Foundation
import Logging
import Messaging

// A synchronous entry point: valgrind 3.19 crashes in libdispatch's main-queue handling of an
// `async` main, so the work runs in a detached task (top-level code is main-actor isolated) and
// the main thread waits for it.
guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: FetchSafetyProbe nats://127.0.0.1:PORT\n".utf8))
    exit(2)
}
let url = CommandLine.arguments[1]
let done = DispatchSemaphore(value: 0)
Task.detached {
    do {
        try await FetchSafetyProbe.run(url: url)
        print("fetch-safety-probe: ok")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("fetch-safety-probe: \(error)\n".utf8))
        exit(1)
    }
}
done.wait()

enum FetchSafetyProbe {
    static func run(url: String) async throws {
        var logger = Logger(label: "probe")
        logger.logLevel = .error
        let nats = try await NATSConnection.connect(
            NATSConfiguration(urls: [url], waitForServer: false), logger: logger)
        try await nats.ensureStream(StreamConfiguration(name: "PROBE", subjects: ["probe.>"], storage: .memory))
        try await nats.ensureConsumer(stream: "PROBE", ConsumerConfiguration(durable: "probe"))
        let total = 60
        for result in await nats.publish(
            (1...total).map {
                OutgoingMessage(subject: "probe.m.\($0)", payload: Array("m\($0)".utf8), messageId: "p\($0)")
            })
        {
            _ = try result.get()
        }

        // Batches of 10 with short expiries: requests run out while messages sit unread.
        let consumer = try PullConsumer.bind(
            connection: nats, stream: "PROBE", durable: "probe",
            options: PullOptions(batch: 10, bufferCapacity: 10, expires: .milliseconds(100)), logger: logger)
        let maintainer = Task { await consumer.maintain() }
        var seen = Set<UInt64>()
        var round = 0
        var roundsWithMoreThanHalfLeftOver = 0
        while seen.count < total {
            round += 1
            guard round < 200 else { throw ProbeError("only \(seen.count) of \(total) messages after 200 rounds") }
            if consumer.bufferedCount > 5 { roundsWithMoreThanHalfLeftOver += 1 }
            // Take fewer than half of what was asked for, so that more than half is left over ...
            for message in await consumer.nextBatch(max: 3) {
                guard seen.insert(message.metadata.streamSequence).inserted else {
                    throw ProbeError("stream sequence \(message.metadata.streamSequence) delivered twice")
                }
                try message.ack()
            }
            // ... let the request expire with it unread, and push stray, late messages onto the inbox,
            // as a reply to an expired request would arrive.
            for stray in 0..<12 { try nats.publishCore(subject: consumer.inbox, payload: Array("stray \(stray)".utf8)) }
            try await Task.sleep(for: .milliseconds(150))
        }
        // The probe must really have been in the situation it is about.
        guard roundsWithMoreThanHalfLeftOver > 0 else { throw ProbeError("never more than half a batch left over") }
        maintainer.cancel()
        _ = await maintainer.value
        consumer.stop()
        try await nats.flush()
        await nats.close()
    }
}

struct ProbeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
