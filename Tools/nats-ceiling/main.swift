// The JetStream layer's ceiling benchmark: publish and consume+ack throughput of the layer against
// plain nats.c doing the same work, in one run, on one freshly started nats-server (file storage).
// `make bench-nats` builds both and runs this. Not a test: it measures, prints and records.
import ArgumentParser
import Foundation
import LocalProcesses
import Logging
import Messaging

@main
struct NATSCeiling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nats-ceiling", abstract: "Throughput of the JetStream layer against plain nats.c.")

    @Option(help: "Messages per measurement.") var count = 200_000
    @Option(help: "Payload bytes per message (a CloudEvent is about 500).") var payload = 512
    @Option(help: "Measured rounds, after one warm-up round; the median of each figure is reported.") var rounds = 5
    @Option(help: "The compiled Tools/nats-ceiling-c/ceiling.c.") var cBinary = ".build/nats-ceiling-c"
    @Option(help: "Folder for the JSON results.") var results = "bench/results"

    struct Figures: Codable {
        var cPublish: [Double] = []
        var layerPublish: [Double] = []
        var cConsume: [Double] = []
        var layerConsume: [Double] = []
    }

    func run() async throws {
        var logger = Logger(label: "nats-ceiling")
        logger.logLevel = .error
        let server = try NATSServer()
        defer { server.stop() }
        let nats = try await server.connect(name: "nats-ceiling")
        var figures = Figures()
        print(
            "nats-ceiling: \(count) messages of \(payload) bytes, \(rounds) rounds, nats-server pid \(server.pid ?? 0)")
        for round in 0...rounds {
            let cStream = "CEIL_C_\(round)"
            let layerStream = "CEIL_L_\(round)"
            try await nats.ensureStream(StreamConfiguration(name: cStream, subjects: ["ceilc\(round).>"], maxAge: nil))
            try await nats.ensureStream(
                StreamConfiguration(name: layerStream, subjects: ["ceill\(round).>"], maxAge: nil))

            // Alternate who goes first, so that neither always meets a fresher server.
            var r = Figures()
            if round % 2 == 0 {
                r.cPublish.append(try runC("publish", stream: cStream, subject: "ceilc\(round).x", server: server))
                r.layerPublish.append(try await layerPublish(nats, subject: "ceill\(round).x", stream: layerStream))
                r.cConsume.append(try runC("consume", stream: cStream, subject: "ceilc\(round).x", server: server))
                r.layerConsume.append(try await layerConsume(nats, stream: layerStream, logger: logger))
            } else {
                r.layerPublish.append(try await layerPublish(nats, subject: "ceill\(round).x", stream: layerStream))
                r.cPublish.append(try runC("publish", stream: cStream, subject: "ceilc\(round).x", server: server))
                r.layerConsume.append(try await layerConsume(nats, stream: layerStream, logger: logger))
                r.cConsume.append(try runC("consume", stream: cStream, subject: "ceilc\(round).x", server: server))
            }
            try await nats.deleteStream(cStream)
            try await nats.deleteStream(layerStream)
            guard round > 0 else {
                print("  warm-up round done")
                continue
            }
            figures.cPublish += r.cPublish
            figures.layerPublish += r.layerPublish
            figures.cConsume += r.cConsume
            figures.layerConsume += r.layerConsume
            print(
                String(
                    format: "  round %d: publish C %.0f, layer %.0f msg/s; consume+ack C %.0f, layer %.0f msg/s", round,
                    figures.cPublish.last!, figures.layerPublish.last!, figures.cConsume.last!,
                    figures.layerConsume.last!))
        }
        await nats.close()
        report(figures)
    }

    private func runC(_ mode: String, stream: String, subject: String, server: NATSServer) throws -> Double {
        let output = try ProcessRunner.run(
            URL(fileURLWithPath: cBinary),
            [
                "--url", server.url, "--mode", mode, "--count", "\(count)", "--payload", "\(payload)", "--stream",
                stream, "--subject", subject,
            ], timeout: .seconds(600))
        guard output.status == 0,
            let line = output.standardOutput.split(separator: "\n").last,
            let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let rate = json["rate"] as? Double
        else {
            throw LocalProcessError("ceiling \(mode) failed (\(output.status)): \(output.standardError)")
        }
        return rate
    }

    /// Every message pipelined in one call; timed from the first publish to the last acknowledgement.
    private func layerPublish(_ nats: NATSConnection, subject: String, stream: String) async throws -> Double {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: payload)
        let messages = (0..<count).map {
            OutgoingMessage(subject: subject, payload: body, messageId: "l-\(stream)-\($0)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let results = await nats.publish(messages, timeout: .seconds(60))
        let elapsed = clock.now - start
        let failures = results.filter { if case .failure = $0 { true } else { false } }.count
        guard failures == 0 else { throw LocalProcessError("\(failures) layer publishes failed") }
        let stored = try await nats.streamState(stream).messages
        guard stored == UInt64(count) else { throw LocalProcessError("stream holds \(stored), not \(count)") }
        return Double(count) / elapsed.seconds
    }

    /// Pulls and acknowledges everything; timed until the last acknowledgement is flushed.
    private func layerConsume(_ nats: NATSConnection, stream: String, logger: Logger) async throws -> Double {
        try await nats.ensureConsumer(stream: stream, ConsumerConfiguration(durable: "ceiling-layer"))
        let consumer = try PullConsumer.bind(
            connection: nats, stream: stream, durable: "ceiling-layer",
            options: PullOptions(batch: 256, bufferCapacity: 1024), logger: logger)
        let maintainer = Task { await consumer.maintain() }
        let clock = ContinuousClock()
        let start = clock.now
        var received = 0
        while received < count {
            let batch = await consumer.nextBatch(max: 256)
            for message in batch { try message.ack() }
            received += batch.count
        }
        try await nats.flush()
        let elapsed = clock.now - start
        maintainer.cancel()
        consumer.stop()
        // The server applies acknowledgements asynchronously, a moment after the flush.
        var state = try await nats.consumerState(stream: stream, durable: "ceiling-layer")
        for _ in 0..<100 where state.ackPending > 0 {
            try await Task.sleep(for: .milliseconds(20))
            state = try await nats.consumerState(stream: stream, durable: "ceiling-layer")
        }
        guard state.ackPending == 0, state.pending == 0 else {
            throw LocalProcessError("consumer left \(state.ackPending) unacknowledged, \(state.pending) pending")
        }
        return Double(count) / elapsed.seconds
    }

    private func report(_ figures: Figures) {
        let rows = [
            ("publish (acknowledged)", median(figures.cPublish), median(figures.layerPublish)),
            ("consume + ack", median(figures.cConsume), median(figures.layerConsume)),
        ]
        print("\nmedian of \(rounds) rounds:")
        print("| mode | plain nats.c (msg/s) | layer (msg/s) | layer / C | target 80% |")
        print("| --- | ---: | ---: | ---: | --- |")
        for (mode, c, layer) in rows {
            print(
                String(
                    format: "| %@ | %.0f | %.0f | %.0f%% | %@ |", mode, c, layer, 100 * layer / c,
                    layer >= 0.8 * c ? "met" : "NOT met"))
        }
        let date = ISO8601DateFormatter().string(from: Date())
        let record: [String: Any] = [
            "date": date, "count": count, "payloadBytes": payload, "rounds": rounds,
            "command": "make bench-nats",
            "median": [
                "cPublish": rows[0].1, "layerPublish": rows[0].2, "cConsume": rows[1].1, "layerConsume": rows[1].2,
            ],
            "all": [
                "cPublish": figures.cPublish, "layerPublish": figures.layerPublish, "cConsume": figures.cConsume,
                "layerConsume": figures.layerConsume,
            ],
        ]
        let file = URL(fileURLWithPath: results).appendingPathComponent("nats-ceiling-\(date.prefix(10)).json")
        if let data = try? JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]) {
            try? FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
            try? data.write(to: file)
            print("\nrecorded in \(file.path)")
        }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
