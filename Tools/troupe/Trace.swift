import ArgumentParser
import Contracts
import Foundation
import Messaging

/// `troupe trace <orderId>`: one order's whole saga across the streams, as a timeline, a causation
/// tree, a Mermaid sequence diagram or JSON.
struct Trace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one order's saga across all streams.",
        discussion: """
            Reads the order's events from ORDERS, INVENTORY, PAYMENTS, SHIPPING and NOTIFICATIONS and its \
            dead letters from DEADLETTER (the server filters them by subject), and prints them by time: when, which service, which event, how long after \
            its cause; then the causation tree. --format mermaid prints a sequence diagram instead.
            """)
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, mermaid, json
    }

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The order id (ord_…).")
    var orderId: String
    @Option(help: "text, mermaid or json.")
    var format: Format = .text

    /// One event of the order, as the trace shows it.
    struct Step: Encodable {
        var id: String
        var time: String
        var service: String
        var event: String
        var type: String
        var causationId: String?
        var cause: String?
        var causeService: String?
        /// Milliseconds from the cause's time to this event's; nil for what starts the saga.
        var afterCauseMs: Int64?
        var stream: String
        var sequence: UInt64
    }

    struct DeadLettered: Encodable {
        var time: String
        var service: String
        var subject: String
        var reason: String
        var sequence: UInt64
    }

    struct Report: Encodable {
        var orderId: String
        var events: [Step]
        var deadLetters: [DeadLettered]
    }

    func validate() throws {
        guard orderId.range(of: #"^ord_[0-9A-Z]{26}$"#, options: .regularExpression) != nil else {
            throw ValidationError("'\(orderId)' is not an order id (ord_ and 26 characters)")
        }
    }

    func run() async throws {
        let report = try await connection.withConnection { try await read($0) }
        guard !report.events.isEmpty || !report.deadLetters.isEmpty else {
            throw CLIError("no events for \(orderId)")
        }
        switch format {
        case .json: print(try jsonLine(report))
        case .mermaid: print(Self.mermaid(report))
        case .text: print(Self.text(report))
        }
    }

    private func read(_ nats: NATSConnection) async throws -> Report {
        let decoder = EventDecoder()
        var decoded: [(event: AnyEvent, message: JetStreamMessage)] = []
        for producer in Producer.allCases {
            let messages: [JetStreamMessage]
            do {
                // The server picks the order's messages out of the stream.
                // (A filter must lie within the stream's subjects: `orders.*.<id>`, not `*.*.<id>`.)
                messages = try await nats.readStream(
                    producer.stream.name, filter: "\(producer.domain).*.\(orderId)", logger: toolLogger())
            } catch {
                if error.isNotFound { continue }
                throw CLIError("reading \(producer.stream.name): \(error)")
            }
            for message in messages {
                // A message that does not decode is not part of the saga; `troupe check` names it.
                if let event = try? decoder.decode(message.payload) { decoded.append((event, message)) }
            }
        }
        var seen = Set<String>()
        decoded = decoded.filter { seen.insert($0.event.id).inserted }
        let byId = Dictionary(decoded.map { ($0.event.id, $0.event) }, uniquingKeysWith: { first, _ in first })
        let steps = decoded.map { event, message -> Step in
            let cause = event.causationid.flatMap { byId[$0] }
            var after: Int64?
            if let cause, let start = Timestamp.date(cause.time), let end = Timestamp.date(event.time) {
                after = Self.milliseconds(from: start, to: end)
            }
            return Step(
                id: event.id, time: event.time, service: Self.service(of: event), event: Self.name(of: event),
                type: event.type, causationId: event.causationid, cause: cause.map(Self.name(of:)),
                causeService: cause.map(Self.service(of:)), afterCauseMs: after, stream: message.metadata.stream,
                sequence: message.metadata.streamSequence)
        }.sorted { ($0.time, $0.stream, $0.sequence) < ($1.time, $1.stream, $1.sequence) }

        var deadLetters: [DeadLettered] = []
        do {
            // deadletter.<service>.<domain>.<event>.<orderId> (replays have one token more).
            let filter = "deadletter.*.*.*.\(orderId)"
            for message in try await nats.readStream(DeadLetter.stream, filter: filter, logger: toolLogger()) {
                let service = message.subject.split(separator: ".").dropFirst().first.map(String.init) ?? "?"
                let stored = Date(timeIntervalSince1970: Double(message.metadata.timestampNanoseconds) / 1e9)
                deadLetters.append(
                    DeadLettered(
                        time: Timestamp.string(stored), service: service, subject: message.subject,
                        reason: message.headers[DeadLetter.reasonHeader] ?? "?",
                        sequence: message.metadata.streamSequence))
            }
        } catch {
            if !error.isNotFound { throw CLIError("reading \(DeadLetter.stream): \(error)") }
        }
        return Report(orderId: orderId, events: steps, deadLetters: deadLetters)
    }

    /// `inventory.reserved`: the subject without the order id; with the template for notifications
    /// (`notifications.sent:order_confirmed`).
    static func name(of event: AnyEvent) -> String {
        let name = event.natsSubject.split(separator: ".").prefix(2).joined(separator: ".")
        switch event {
        case .notificationSent(let e): return "\(name):\(e.data.template.rawValue)"
        case .notificationFailed(let e): return "\(name):\(e.data.template.rawValue)"
        default: return name
        }
    }

    static func service(of event: AnyEvent) -> String {
        let domain = event.natsSubject.prefix { $0 != "." }
        return Producer.allCases.first { $0.domain == domain }?.rawValue ?? String(domain)
    }

    static func milliseconds(from start: Date, to end: Date) -> Int64 {
        Int64((end.timeIntervalSince(start) * 1000).rounded())
    }

    static func milliseconds(_ value: Int64) -> String {
        value < 10_000 ? "\(value) ms" : String(format: "%.1f s", Double(value) / 1000)
    }

    static func text(_ report: Report) -> String {
        var lines: [String] = []
        let start = report.events.first.flatMap { Timestamp.date($0.time) }
        let last = report.events.last.flatMap { Timestamp.date($0.time) }
        let span = start.flatMap { s in last.map { milliseconds(from: s, to: $0) } } ?? 0
        lines.append(
            "\(report.orderId): \(report.events.count) events, \(report.deadLetters.count) dead letters, "
                + "\(milliseconds(span)) from the first event to the last")
        lines.append("")
        var rows: [[String]] = []
        for step in report.events {
            let elapsed = start.flatMap { s in
                Timestamp.date(step.time).map { milliseconds(milliseconds(from: s, to: $0)) }
            }
            let after =
                switch (step.cause, step.afterCauseMs) {
                case (let cause?, let ms?): "\(milliseconds(ms)) after \(cause)"
                case (nil, _) where step.causationId != nil: "cause \(step.causationId!) not found"
                default: "-"
                }
            rows.append([step.time, "+" + (elapsed ?? "?"), step.service, step.event, after])
        }
        lines.append(contentsOf: table(header: ["TIME", "ELAPSED", "SERVICE", "EVENT", "AFTER ITS CAUSE"], rows: rows))
        if !report.deadLetters.isEmpty {
            lines.append("")
            lines.append("Dead letters (troupe dlq show <SEQ>):")
            lines.append(
                contentsOf: table(
                    header: ["TIME", "SERVICE", "SEQ", "EVENT", "REASON"],
                    rows: report.deadLetters.map { letter in
                        // deadletter.<service>.<domain>.<event>.<orderId>
                        let event = letter.subject.split(separator: ".").dropFirst(2).prefix(2).joined(separator: ".")
                        return [letter.time, letter.service, "\(letter.sequence)", event, letter.reason]
                    }
                ).map { "  " + $0 })
        }
        lines.append("")
        lines.append("Causation:")
        let children = Dictionary(grouping: report.events.filter { $0.cause != nil }, by: { $0.causationId! })
        func walk(_ step: Step, prefix: String, isLast: Bool, isRoot: Bool) {
            let label =
                "\(step.event) (\(step.service)\(step.afterCauseMs.map { ", +\(milliseconds($0))" } ?? ""))"
            lines.append(isRoot ? label : prefix + (isLast ? "└── " : "├── ") + label)
            let next = children[step.id] ?? []
            let childPrefix = isRoot ? "" : prefix + (isLast ? "    " : "│   ")
            for (index, child) in next.enumerated() {
                walk(child, prefix: childPrefix, isLast: index == next.count - 1, isRoot: false)
            }
        }
        for root in report.events where root.cause == nil { walk(root, prefix: "", isLast: true, isRoot: true) }
        return lines.joined(separator: "\n")
    }

    static func mermaid(_ report: Report) -> String {
        var lines = ["sequenceDiagram"]
        for producer in Producer.allCases { lines.append("    participant \(producer.rawValue)") }
        for step in report.events {
            if let cause = step.cause, let from = step.causeService {
                let after = step.afterCauseMs.map { " (+\(milliseconds($0)))" } ?? ""
                lines.append("    \(from)->>\(step.service): \(cause) → \(step.event)\(after)")
            } else {
                lines.append("    Note over \(step.service): \(step.event)")
            }
        }
        for letter in report.deadLetters {
            let reason = letter.reason.prefix(60).replacingOccurrences(of: ";", with: ",")
            lines.append("    Note over \(letter.service): dead-lettered: \(reason)")
        }
        return lines.joined(separator: "\n")
    }
}
