import Contracts
import Testing

@Suite("Subjects and streams")
struct SubjectsAndStreamsTests {
    @Test func everyEventSubjectBelongsToExactlyOneStreamItsProducerOwns() {
        for type in AnyEvent.payloadTypes {
            let owners = StreamDefinition.all.filter { stream in
                stream.subjects.contains { $0.hasSuffix(".>") && type.subjectPrefix.hasPrefix(String($0.dropLast(1))) }
            }
            #expect(owners.map(\.name) == [type.producer.stream.name], "\(type.type)")
            #expect(type.subjectPrefix.hasPrefix(type.producer.domain + "."))
            #expect(type.type.hasPrefix("troupe.\(type.producer.rawValue)."))
        }
    }

    @Test func streamsHaveTheContractsSettings() {
        #expect(
            StreamDefinition.all.map(\.name) == [
                "ORDERS", "INVENTORY", "PAYMENTS", "SHIPPING", "NOTIFICATIONS", "DEADLETTER",
            ])
        for stream in StreamDefinition.all {
            #expect(stream.duplicateWindow >= .seconds(120))
            #expect(stream.maxAge == .seconds(7 * 24 * 3600))
            #expect(stream.replicas == 1)
        }
        #expect(StreamDefinition.orders.consumerName(for: .inventory) == "inventory-orders")
        #expect(OrderPlaced.filterSubject == "orders.placed.*")
    }

    @Test func onlyNotificationsMayOccurMoreThanOncePerOrder() {
        let several = AnyEvent.payloadTypes.filter { !$0.oncePerOrder }.map { $0.type }
        #expect(several == ["troupe.notification.sent.v1", "troupe.notification.failed.v1"])
    }
}
