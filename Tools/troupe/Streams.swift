import ArgumentParser
import Contracts
import Foundation
import Messaging

/// `troupe streams`: every stream of the contract and every consumer on it, with its lag.
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the streams and each consumer's lag.",
        discussion: """
            PENDING is what the stream holds that the consumer has not been given yet; ACK PENDING is \
            what it was given and has not acknowledged (in flight, or held by a process that died, \
            until the ack wait). Both at 0 everywhere: the suite is quiescent.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "One JSON object instead of tables.")
    var json = false

    struct Report: Encodable {
        struct Stream: Encodable {
            var name: String
            var exists: Bool
            var messages: UInt64
            var bytes: UInt64
            var lastSequence: UInt64
        }
        struct Consumer: Encodable {
            var stream: String
            var name: String
            var filterSubject: String?
            var pending: UInt64
            var ackPending: Int64
            var redelivered: Int64
            var waiting: Int64
        }
        var streams: [Stream] = []
        var consumers: [Consumer] = []
    }

    func run() async throws {
        let report = try await connection.withConnection { try await read($0) }
        if json {
            print(try jsonLine(report))
            return
        }
        printTable(
            header: ["STREAM", "MESSAGES", "BYTES", "LAST SEQ"],
            rows: report.streams.map { stream in
                stream.exists
                    ? [stream.name, String(stream.messages), Self.bytes(stream.bytes), String(stream.lastSequence)]
                    : [stream.name, "-", "-", "not created yet"]
            })
        print("")
        guard !report.consumers.isEmpty else {
            print("no consumers")
            return
        }
        printTable(
            header: ["CONSUMER", "STREAM", "FILTER", "PENDING", "ACK PENDING", "REDELIVERED", "WAITING"],
            rows: report.consumers.map { consumer in
                [
                    consumer.name, consumer.stream, consumer.filterSubject ?? "-", String(consumer.pending),
                    String(consumer.ackPending), String(consumer.redelivered), String(consumer.waiting),
                ]
            })
    }

    private func read(_ nats: NATSConnection) async throws -> Report {
        var report = Report()
        for definition in StreamDefinition.all {
            let state: StreamState
            do {
                state = try await nats.streamState(definition.name)
            } catch {
                guard error.isNotFound else {
                    throw CLIError("reading stream \(definition.name): \(error)")
                }
                report.streams.append(
                    .init(name: definition.name, exists: false, messages: 0, bytes: 0, lastSequence: 0))
                continue
            }
            report.streams.append(
                .init(
                    name: definition.name, exists: true, messages: state.messages, bytes: state.bytes,
                    lastSequence: state.lastSequence))
            for consumer in try await nats.consumers(of: definition.name) {
                report.consumers.append(
                    .init(
                        stream: definition.name, name: consumer.name, filterSubject: consumer.filterSubject,
                        pending: consumer.state.pending, ackPending: consumer.state.ackPending,
                        redelivered: consumer.state.redelivered, waiting: consumer.state.waiting))
            }
        }
        return report
    }

    static func bytes(_ count: UInt64) -> String {
        switch count {
        case ..<1024: "\(count) B"
        case ..<(1024 * 1024): String(format: "%.1f KiB", Double(count) / 1024)
        default: String(format: "%.1f MiB", Double(count) / 1_048_576)
        }
    }
}
