import Contracts
import Foundation
import SchemaValidation
import ServiceTestSupport
import TestSupport
import Testing

@testable import OrderService

/// Issue 10.10: what `POST /orders` accepts validates against the published schemas — the same
/// inputs on both sides. Lengths are counted in Unicode code points, as JSON Schema's `maxLength`
/// counts them (a flag emoji is one character to `String.count` but two code points).
@Suite("POST /orders accepts only what the schemas accept")
struct PlaceOrderSchemaAgreementTests {
    static let contracts = Repository.root.appendingPathComponent("Contracts/schemas")

    static func schema(_ name: String) throws -> JSONSchema {
        try JSONSchema(contentsOf: contracts.appendingPathComponent("\(name).json"))
    }

    static let names: [(String, Bool)] = [
        (String(repeating: "a", count: 200), true), (String(repeating: "a", count: 201), false),
        (String(repeating: "🇬🇧", count: 100), true), (String(repeating: "🇬🇧", count: 101), false),
        (String(repeating: "🇬🇧", count: 200), false), (String(repeating: "e\u{301}", count: 100), true),
        (String(repeating: "e\u{301}", count: 101), false), ("Ada Lovelace", true),
    ]

    @Test(arguments: names)
    func anAddressFieldIsAcceptedByTheAPIExactlyWhenTheSchemaAcceptsIt(_ name: String, _ valid: Bool) throws {
        let request = PlaceOrderRequest(
            customerId: "cus_42", lines: [.init(sku: "SKU-MUG", quantity: 1)],
            shippingAddress: .init(
                name: name, line1: "12 St James Sq", line2: nil, city: "London", postalCode: "SW1Y 4JH", country: "GB"))
        let apiAccepts = request.violation() == nil
        let placed = CloudEvent(
            data: request.placed(orderId: "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F", at: "2026-12-06T10:00:00.000Z"),
            causationid: nil, traceparent: nil)
        let document = try JSONSerialization.jsonObject(with: try placed.encoded()) as! [String: Any]
        let schemaAccepts = try Self.schema("order.placed.v1").validate(document["data"]!).isEmpty
        #expect(apiAccepts == valid, "\(name.unicodeScalars.count) code points")
        #expect(schemaAccepts == valid)
        // And the consumers' own check of the event says the same.
        let eventValid = (try? placed.validate()) != nil
        #expect(eventValid == valid)
    }

    static let valid = Fixture.traceparent

    @Test(arguments: [
        (valid, true), (valid.uppercased(), false), ("ff" + valid.dropFirst(2), false),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false),
        ("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false), ("garbage", false),
    ])
    func aRequestsTraceparentIsKeptOnlyWhenValidAndTheEventsAlwaysMatchTheSchema(_ given: String, _ kept: Bool) throws {
        let traceparent = OrderRoutes.traceparent(Fixture.postOrders(header: "traceparent", given))
        // Kept: the request's trace, in a span of the order service's (the request's span its parent).
        #expect((TraceParent.traceId(of: traceparent) == TraceParent.traceId(of: given)) == kept)
        #expect(traceparent != given)
        #expect(TraceParent.isValid(traceparent))
        let envelope = try Self.schema("cloudevent")
        let placed = Fixture.placed(traceparent: traceparent)
        let document = try JSONSerialization.jsonObject(with: try placed.encoded())
        #expect(envelope.validate(document).isEmpty, "\(traceparent)")
        try placed.validate()
    }

    @Test func aConsumerRefusesAnEventWhoseTraceparentTheSchemaRefuses() throws {
        let placed = Fixture.placed(traceparent: Self.valid.uppercased())
        #expect(throws: ContractError.self) { try placed.validate() }
        let document = try JSONSerialization.jsonObject(with: try placed.encoded())
        #expect(!(try Self.schema("cloudevent")).validate(document).isEmpty)
    }
}
