import Contracts
import Logging
import Testing

@testable import ServiceKit

/// docs/operations.md, "Logs": a line about handling an event names its order, id, cause and trace.
@Suite("What log lines say about an event")
struct EventLogMetadataTests {
    @Test func anEventNamesItsOrderIdCauseAndTrace() {
        let order = "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F"
        let event = AnyEvent(
            CloudEvent(
                data: OrderCancelled(orderId: order, customerId: "cus_42", reason: .customerRequest),
                causationid: "0193b7a2-6e00-7000-8000-000000000001",
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(
            event.logMetadata == [
                "orderId": .string(order), "eventId": .string(event.id),
                "causationId": "0193b7a2-6e00-7000-8000-000000000001", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
            ])
        let started = AnyEvent(
            CloudEvent(
                data: OrderCancelled(orderId: order, customerId: "cus_42", reason: .customerRequest), causationid: nil,
                traceparent: nil))
        #expect(started.logMetadata == ["orderId": .string(order), "eventId": .string(started.id)])
    }
}
