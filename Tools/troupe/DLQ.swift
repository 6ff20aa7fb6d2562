import ArgumentParser
import Contracts
import Foundation
import Messaging

/// `troupe dlq list | show | replay`: the dead-letter stream.
struct DLQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect dead letters and put them back after a fix.",
        discussion: """
            A service dead-letters a message it can never process (undecodable, not CloudEvents, unknown \
            type or version, invalid data, a prerequisite that never arrived) to \
            deadletter.<service>.<original subject>. `replay` hands it back to that service only \
            (deadletter.replay.<service>.<original subject>, read by its <service>-replay consumer), \
            which processes it like the original; its inbox makes a second replay harmless.
            """,
        subcommands: [List.self, Show.self, Replay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, oldest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only those of this service (order, inventory, payment, shipping, notification).")
        var service: String?
        @Flag(help: "One JSON object per line instead of a table.")
        var json = false

        func run() async throws {
            let entries = try await connection.withConnection { nats in
                try await DeadLetterReader(connection: nats).read(service: service)
            }
            if json {
                for entry in entries { print(try jsonLine(entry.record)) }
                return
            }
            guard !entries.isEmpty else {
                print("no dead letters\(service.map { " for \($0)" } ?? "")")
                return
            }
            let rows = entries.map { entry -> [String] in
                let record = entry.record
                return [
                    String(record.sequence), record.time, record.service, record.subject, record.type ?? "-",
                    record.replays.isEmpty ? "-" : record.replays.map(String.init).joined(separator: ","),
                    String(record.reason.prefix(80)),
                ]
            }
            printTable(header: ["SEQ", "TIME", "SERVICE", "SUBJECT", "TYPE", "REPLAYED", "REASON"], rows: rows)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter: headers and payload.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Its sequence in DEADLETTER (the SEQ column of `list`).")
        var sequence: UInt64

        func run() async throws {
            let entries = try await connection.withConnection { try await DeadLetterReader(connection: $0).read() }
            guard let entry = entries.first(where: { $0.record.sequence == sequence }) else {
                throw CLIError("no dead letter with sequence \(sequence)")
            }
            let record = entry.record
            print("sequence:  \(record.sequence)")
            print("stored:    \(record.time)")
            print("service:   \(record.service)")
            print("subject:   \(record.subject)")
            print("from:      \(record.originalStream ?? "?") #\(record.originalSequence.map(String.init) ?? "?")")
            print("reason:    \(record.reason)")
            print(
                "replays:   \(record.replays.isEmpty ? "none" : record.replays.map(String.init).joined(separator: ", "))"
            )
            print("headers:")
            for (name, value) in entry.message.headers.sorted(by: { $0.key < $1.key }) { print("  \(name): \(value)") }
            print("payload (\(entry.message.payload.count) bytes):")
            let data = Data(entry.message.payload)
            if let object = try? JSONSerialization.jsonObject(with: data),
                let pretty = try? JSONSerialization.data(
                    withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            {
                print(String(decoding: pretty, as: UTF8.self))
            } else {
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand dead letters back to the service that dead-lettered them.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Sequences in DEADLETTER to replay.")
        var sequences: [UInt64] = []
        @Flag(help: "Every dead letter not replayed yet (with --service: of that service).")
        var all = false
        @Option(help: "With --all: only those of this service.")
        var service: String?
        @Flag(help: "Also those already replayed once.")
        var again = false
        @Flag(help: "Say what would be replayed, replay nothing.")
        var dryRun = false

        func validate() throws {
            if sequences.isEmpty == !all { throw ValidationError("give sequences or --all, not both") }
            if service != nil && !all { throw ValidationError("--service goes with --all") }
        }

        func run() async throws {
            try await connection.withConnection { try await replay(on: $0) }
        }

        private func replay(on nats: NATSConnection) async throws {
            let entries = try await DeadLetterReader(connection: nats).read(service: service)
            var chosen: [(record: DeadLetterRecord, message: StoredMessage)]
            if all {
                chosen = entries.filter { again || $0.record.replays.isEmpty }
            } else {
                chosen = []
                for sequence in sequences {
                    guard let entry = entries.first(where: { $0.record.sequence == sequence }) else {
                        throw CLIError("no dead letter with sequence \(sequence)")
                    }
                    if !entry.record.replays.isEmpty && !again {
                        throw CLIError(
                            "dead letter \(sequence) was replayed already (as \(entry.record.replays.map(String.init).joined(separator: ", "))); add --again to replay it once more"
                        )
                    }
                    chosen.append(entry)
                }
            }
            for (record, message) in chosen {
                let replay = Self.replayMessage(record, message)
                if dryRun {
                    print("would replay \(record.sequence) to \(record.service) on \(replay.subject)")
                    continue
                }
                let ack = try await nats.publish(replay)
                print(
                    "replayed \(record.sequence) to \(record.service) as \(ack.sequence)\(ack.duplicate ? " (already queued)" : "")"
                )
            }
            if chosen.isEmpty { print("nothing to replay") }
        }

        /// The original payload and headers, without the dead-letter reason, on the service's replay subject.
        static func replayMessage(_ record: DeadLetterRecord, _ message: StoredMessage) -> OutgoingMessage {
            var headers = NATSHeader.withoutExpectations(message.headers)
            headers.removeValue(forKey: NATSHeader.messageId)
            headers.removeValue(forKey: DeadLetter.reasonHeader)
            headers.removeValue(forKey: DeadLetter.deliveriesHeader)
            headers[DeadLetter.replayOfHeader] = String(record.sequence)
            // Replaying the same dead letter twice within the window stores it once.
            let messageId = "replay.\(record.sequence).\(record.replays.count)"
            return OutgoingMessage(
                subject: DeadLetter.replaySubject(service: record.service, originalSubject: record.subject),
                payload: message.payload, headers: headers, messageId: messageId)
        }
    }
}
