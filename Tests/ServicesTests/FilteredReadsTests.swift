import Contracts
import Foundation
import ServiceKit
import ServiceTestSupport
import TestSupport
import Testing

@testable import InventoryService
@testable import PaymentService
@testable import ShippingService

/// A consumer filtered to one kind of event is never delivered the others: the reactor behind it
/// must react to that kind and to no other event of the stream, or an event it should handle would
/// silently never arrive.
@Suite("Filtered consumers agree with what their services react to")
struct FilteredReadsTests {
    /// One event of every type, from the contract's examples.
    static func everyEvent() throws -> [AnyEvent] {
        let folder = Repository.root.appendingPathComponent("Contracts/examples")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
            .map { try EventDecoder().decode(Data(contentsOf: folder.appendingPathComponent($0))) }
    }

    static func check(
        _ reads: [ServiceDescriptor.Read], _ reacts: (AnyEvent) -> Bool, _ service: String
    ) throws {
        let events = try everyEvent()
        #expect(events.count == 20)
        for (stream, only) in reads {
            // `orders.>` holds every subject that starts with `orders.`.
            let onStream = events.filter { event in
                stream.subjects.contains { event.natsSubject.hasPrefix(String($0.dropLast())) }
            }
            #expect(!onStream.isEmpty, "\(stream.name)")
            guard let only else { continue }
            for event in onStream {
                #expect(reacts(event) == (event.type == only.type), "\(service) on \(stream.name): \(event.type)")
            }
        }
    }

    @Test func payment() async throws {
        let bench = try await HandlerBench(PaymentApp.descriptor, migrations: PaymentStore.migrations)
        defer { Task { await bench.close() } }
        let handlers = PaymentHandlers(service: bench.context)
        try Self.check(PaymentApp.reads, handlers.reacts(to:), "payment")
        #expect(PaymentApp.reads.allSatisfy { $0.1 != nil })
    }

    @Test func inventory() async throws {
        let bench = try await HandlerBench(InventoryApp.descriptor, migrations: InventoryStore.migrations)
        defer { Task { await bench.close() } }
        let handlers = InventoryHandlers(service: bench.context)
        try Self.check(InventoryApp.reads, handlers.reacts(to:), "inventory")
    }

    @Test func shipping() async throws {
        let bench = try await HandlerBench(ShippingApp.descriptor, migrations: ShippingStore.migrations)
        defer { Task { await bench.close() } }
        let handlers = ShippingHandlers(service: bench.context, policy: try ShippingApp.policy(bench.context.settings))
        try Self.check(ShippingApp.reads, handlers.reacts(to:), "shipping")
    }
}
