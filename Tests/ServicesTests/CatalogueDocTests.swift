import Contracts
import Foundation
import ServiceKit
import ServiceTestSupport
import TestSupport
import Testing

@testable import InventoryService
@testable import NotificationService
@testable import OrderService
@testable import PaymentService
@testable import ShippingService

/// The catalogue of docs/events.md is what a newcomer reads to learn who reacts to what: it must say
/// what the contract and the services' handlers say, row by row, or it quietly teaches the wrong
/// choreography after the next change.
@Suite("The docs' catalogue (events.md) and flow diagram (architecture.md) agree with the contract and the handlers")
struct CatalogueDocTests {
    struct Row {
        var type: String
        var subject: String
        var stream: String
        var producer: String
        /// Service name → the durables the row names for it.
        var reactions: [String: [String]]
    }

    /// The rows of the "Catalogue" table: `| type | subject | stream | producer | consumers that react |`.
    static func catalogue() throws -> [Row] {
        let text = try String(
            contentsOf: Repository.root.appendingPathComponent("docs/events.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Catalogue\n").dropFirst().first)
        let lines = section.components(separatedBy: "\n").prefix { !$0.hasPrefix("## ") }
        let unquoted = { (cell: String) in
            cell.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
        }
        return lines.filter { $0.hasPrefix("| `troupe.") }.map { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            var reactions: [String: [String]] = [:]
            for part in cells[5].components(separatedBy: ";") {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                guard trimmed != "none", let service = trimmed.split(separator: " ").first else { continue }
                // The durables are the backquoted names in the parentheses after the service.
                let durables =
                    trimmed.split(separator: "(").dropFirst().first?.split(separator: ")").first
                    .map { $0.split(separator: ",").map { unquoted(String($0)) } } ?? []
                reactions[String(service), default: []] += durables
            }
            return Row(
                type: unquoted(cells[1]), subject: unquoted(cells[2]), stream: unquoted(cells[3]),
                producer: cells[4].trimmingCharacters(in: .whitespaces), reactions: reactions)
        }
    }

    /// Every service's own answer to "do you react to this event?", with the reads its durables
    /// come from; payment, inventory and shipping answer through handlers on stores of their own,
    /// made once for all the events a test asks about.
    struct Reactors {
        let benches: [HandlerBench]
        let services: [(name: String, reads: [ServiceDescriptor.Read], reacts: (AnyEvent) -> Bool)]

        static func make() async throws -> Reactors {
            let payment = try await HandlerBench(PaymentApp.descriptor, migrations: PaymentStore.migrations)
            let inventory = try await HandlerBench(InventoryApp.descriptor, migrations: InventoryStore.migrations)
            let shipping = try await HandlerBench(ShippingApp.descriptor, migrations: ShippingStore.migrations)
            let policy = try ShippingApp.policy(shipping.context.settings)
            return Reactors(
                benches: [payment, inventory, shipping],
                services: [
                    ("order", OrderApp.reads, OrderHandlers.reacts(to:)),
                    ("notification", NotificationApp.reads, { NotificationDecisions.request(for: $0) != nil }),
                    ("payment", PaymentApp.reads, PaymentHandlers(service: payment.context).reacts(to:)),
                    ("inventory", InventoryApp.reads, InventoryHandlers(service: inventory.context).reacts(to:)),
                    (
                        "shipping", ShippingApp.reads,
                        ShippingHandlers(service: shipping.context, policy: policy).reacts(to:)
                    ),
                ])
        }

        /// Which services react to `event`, and through which durable.
        func reactions(to event: AnyEvent) throws -> [String: [String]] {
            let stream = try #require(StreamDefinition.all.first { $0.holds(event) })
            var found: [String: [String]] = [:]
            for (service, reads, reacts) in services where reacts(event) {
                for (read, only) in reads where read.name == stream.name {
                    if let only {
                        if only.type == event.type {
                            found[service, default: []].append(read.consumerName(forService: service, only: only))
                        }
                    } else {
                        found[service, default: []].append(read.consumerName(forService: service))
                    }
                }
            }
            return found
        }
    }

    @Test func everyEventTypeHasOneRowThatSaysWhatTheCodeDoes() async throws {
        let reactors = try await Reactors.make()
        let benches = reactors.benches
        defer { Task { for bench in benches { await bench.close() } } }
        let rows = try Self.catalogue()
        let events = try FilteredReadsTests.everyEvent()
        #expect(rows.count == events.count)
        #expect(Set(rows.map(\.type)) == Set(AnyEvent.payloadTypes.map { $0.type }))
        for event in events {
            let row = try #require(rows.first { $0.type == event.type }, "no row for \(event.type)")
            #expect(row.subject == "\(event.natsSubject.dropLast(event.orderId.count))<orderId>", "\(event.type)")
            let stream = try #require(StreamDefinition.all.first { $0.holds(event) })
            #expect(row.stream == stream.name, "\(event.type)")
            #expect(
                row.producer.hasPrefix(event.source.split(separator: "/").last.map(String.init) ?? "?"), "\(event.type)"
            )
            #expect(row.reactions == (try reactors.reactions(to: event)), "\(event.type)")
        }
    }

    /// The parser above is what the check stands on: a row that names a wrong reaction must fail it.
    @Test func aWrongRowIsCaught() async throws {
        let reactors = try await Reactors.make()
        let benches = reactors.benches
        defer { Task { for bench in benches { await bench.close() } } }
        let events = try FilteredReadsTests.everyEvent()
        let placed = try #require(events.first { $0.type == OrderPlaced.type })
        var row = try #require(try Self.catalogue().first { $0.type == OrderPlaced.type })
        #expect(row.reactions == (try reactors.reactions(to: placed)))
        row.reactions["payment"] = ["payment-orders"]
        #expect(row.reactions != (try reactors.reactions(to: placed)))
    }

    /// The happy path's sequence diagram in docs/architecture.md: each arrow between two services,
    /// `X->>Y: <event> …`, as (producer, reader, event type prefix of the subject).
    static func diagramArrows(_ text: String) throws -> [(from: String, to: String, subject: String)] {
        let section = try #require(text.components(separatedBy: "### The happy path").dropFirst().first)
        let diagram = try #require(
            section.components(separatedBy: "```mermaid\n").dropFirst().first?.components(separatedBy: "```").first)
        var names: [String: String] = [:]
        var arrows: [(from: String, to: String, subject: String)] = []
        for line in diagram.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let words = line.split(separator: " ").map(String.init)
            if words.count == 4, words[0] == "participant", words[2] == "as" { names[words[1]] = words[3] }
            guard let arrow = line.range(of: "->>"), let colon = line.firstIndex(of: ":") else { continue }
            let from = names[String(line[..<arrow.lowerBound])] ?? "?"
            let to = names[String(line[arrow.upperBound..<colon])] ?? "?"
            let subject = line[line.index(after: colon)...].split(separator: " ").first.map(String.init) ?? ""
            if from != "client", to != "client", !subject.hasPrefix("POST") { arrows.append((from, to, subject)) }
        }
        return arrows
    }

    /// What the diagram gets wrong: an arrow from a service that does not produce the event, or an
    /// event drawn to other services than those that react to it.
    static func diagramViolations(_ text: String, reactors: Reactors) throws -> [String] {
        let events = try FilteredReadsTests.everyEvent()
        let arrows = try diagramArrows(text)
        var problems: [String] = []
        for subject in Set(arrows.map(\.subject)).sorted() {
            guard let event = events.first(where: { $0.natsSubject.hasPrefix(subject + ".") }) else {
                problems.append("\(subject): no such event")
                continue
            }
            let producer = event.source.split(separator: "/").last.map(String.init) ?? "?"
            let drawn = arrows.filter { $0.subject == subject }
            for arrow in drawn where arrow.from != producer {
                problems.append("\(subject) drawn from \(arrow.from); \(producer) produces it")
            }
            let readers = Set(try reactors.reactions(to: event).keys)
            if Set(drawn.map(\.to)) != readers {
                problems.append("\(subject) drawn to \(drawn.map(\.to).sorted()); \(readers.sorted()) react to it")
            }
        }
        return problems
    }

    /// The flow a newcomer reads first must be the one the code runs: every arrow of the happy path's
    /// diagram is an event its producer publishes, drawn to exactly the services whose handlers react to it.
    @Test func theHappyPathDiagramDrawsWhatTheHandlersDo() async throws {
        let reactors = try await Reactors.make()
        let benches = reactors.benches
        defer { Task { for bench in benches { await bench.close() } } }
        let text = try String(
            contentsOf: Repository.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        #expect(try Self.diagramArrows(text).count >= 12)
        #expect(try Self.diagramViolations(text, reactors: reactors) == [])
        // A wrong arrow, a missing one and a wrong producer are each caught.
        for (right, wrong) in [
            ("I->>P: inventory.reserved", "I->>N: inventory.reserved"),
            ("    S->>P: shipping.dispatched\n", ""),
            ("O->>N: orders.confirmed", "S->>N: orders.confirmed"),
        ] {
            #expect(text.contains(right))
            let broken = text.replacingOccurrences(of: right, with: wrong)
            #expect(try Self.diagramViolations(broken, reactors: reactors).count == 1, "\(right)")
        }
    }
}

extension StreamDefinition {
    /// Whether the stream's subjects take the event's subject (`orders.>` takes `orders.…`).
    func holds(_ event: AnyEvent) -> Bool {
        subjects.contains { event.natsSubject.hasPrefix(String($0.dropLast())) }
    }
}
