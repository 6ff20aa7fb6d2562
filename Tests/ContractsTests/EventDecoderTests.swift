import Contracts
import Foundation
import Testing

private func example(_ name: String = "order.placed.v1") throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: ContractFiles.example(name))) as! [String: Any]
}

private func decode(_ object: [String: Any]) throws -> AnyEvent {
    try EventDecoder().decode(JSONSerialization.data(withJSONObject: object))
}

private func changingData(_ name: String = "order.placed.v1", _ change: (inout [String: Any]) -> Void) throws
    -> [String: Any]
{
    var event = try example(name)
    var data = event["data"] as! [String: Any]
    change(&data)
    event["data"] = data
    return event
}

@Suite("Decoding rejects invalid input with a precise reason")
struct EventDecoderTests {
    @Test(arguments: [
        ("not json at all", ContractError.Code.notJSON),
        ("{\"specversion\": ", .notJSON),
        ("[1, 2, 3]", .notCloudEvent),
        ("\"a string\"", .notCloudEvent),
        ("{\"hello\": \"world\"}", .notCloudEvent),
    ])
    func rejectsWhatIsNotACloudEvent(_ text: String, _ code: ContractError.Code) {
        let error = #expect(throws: ContractError.self) { try EventDecoder().decode(Array(text.utf8)) }
        #expect(error?.code == code)
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array("{\"specversion\": \"1.0\", \"id\": \"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        let error = #expect(throws: ContractError.self) { try EventDecoder().decode(bytes) }
        #expect(error?.code == .notJSON)
    }

    @Test func rejectsOtherSpecVersionsAndMissingAttributes() throws {
        var event = try example()
        event["specversion"] = "0.3"
        #expect(
            throws: ContractError(
                .unsupportedSpecVersion, "specversion 0.3 is not supported (1.0 is)", field: "specversion")
        ) {
            try decode(event)
        }
        event = try example()
        event.removeValue(forKey: "id")
        let error = #expect(throws: ContractError.self) { try decode(event) }
        #expect(error?.code == .notCloudEvent)
        #expect(error?.field == "id")
    }

    @Test func tellsUnknownTypesFromUnknownVersions() throws {
        var event = try example()
        event["type"] = "troupe.order.teleported.v1"
        #expect((#expect(throws: ContractError.self) { try decode(event) })?.code == .unknownType)
        event["type"] = "troupe.order.placed.v9"
        let version = #expect(throws: ContractError.self) { try decode(event) }
        #expect(version?.code == .unsupportedVersion)
        #expect(version?.message.contains("troupe.order.placed.v9") == true)
    }

    @Test(arguments: [
        ("quantity 0", "data.lines[0].quantity"),
        ("quantity as a string", "data.lines[0].quantity"),
        ("lowercase sku", "data.lines[1].sku"),
        ("bad country", "data.shippingAddress.country"),
        ("no lines", "data.lines"),
        ("bad order id", "data.orderId"),
        ("bad placedAt", "data.placedAt"),
    ])
    func namesTheFieldThatBreaksTheRules(_ change: String, _ field: String) throws {
        let event = try changingData { data in
            var lines = data["lines"] as! [[String: Any]]
            var address = data["shippingAddress"] as! [String: Any]
            switch change {
            case "quantity 0": lines[0]["quantity"] = 0
            case "quantity as a string": lines[0]["quantity"] = "2"
            case "lowercase sku": lines[1]["sku"] = "sku-teapot"
            case "bad country": address["country"] = "gb"
            case "no lines": lines = []
            case "bad order id": data["orderId"] = "order-1"
            default: data["placedAt"] = "yesterday"
            }
            data["lines"] = lines
            data["shippingAddress"] = address
        }
        let error = #expect(throws: ContractError.self) { try decode(event) }
        #expect(error?.code == .invalidData, "\(change)")
        #expect(error?.field == field, "\(change): \(String(describing: error))")
    }

    @Test func rejectsAnUnknownEnumValue() throws {
        let event = try changingData("order.cancelled.v1") { $0["reason"] = "bored" }
        let error = #expect(throws: ContractError.self) { try decode(event) }
        #expect(error?.code == .invalidData)
        #expect(error?.field == "data.reason")
    }

    @Test func rejectsAnEnvelopeThatContradictsItsData() throws {
        var event = try example()
        event["source"] = "/troupe/payment"
        #expect((#expect(throws: ContractError.self) { try decode(event) })?.field == "source")
        event = try example()
        event["subject"] = "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7G"
        #expect((#expect(throws: ContractError.self) { try decode(event) })?.field == "subject")
    }

    @Test func upcastersRunBeforeDecoding() throws {
        // A made-up v0 of orders.placed kept the customer under `customer`; its upcaster renames it.
        var old = try example()
        var data = old["data"] as! [String: Any]
        data["customer"] = data.removeValue(forKey: "customerId")
        old["data"] = data
        old["type"] = "troupe.order.placed.v0"
        let rename = Upcaster(from: "troupe.order.placed.v0", to: "troupe.order.placed.v1") { event in
            var event = event
            var data = event["data"] as! [String: Any]
            data["customerId"] = data.removeValue(forKey: "customer")
            event["data"] = data
            event["dataschema"] = "troupe:schemas/order.placed.v1.json"
            return event
        }
        let bytes = try JSONSerialization.data(withJSONObject: old)
        #expect((#expect(throws: ContractError.self) { try EventDecoder().decode(bytes) })?.code == .unsupportedVersion)
        let event = try EventDecoder(upcasters: [rename]).decode(bytes)
        guard case .orderPlaced(let placed) = event else {
            Issue.record("decoded as \(event.type)")
            return
        }
        #expect(placed.data.customerId == "cus_42")
        #expect(placed.type == "troupe.order.placed.v1")
    }

    @Test func newEventsCarryTheEnvelopeRules() throws {
        let placed = try EventDecoder().decode(Data(contentsOf: ContractFiles.example("order.placed.v1")))
        guard case .orderPlaced(let cause) = placed else {
            Issue.record("the example of order.placed decoded as \(placed.type)")
            return
        }
        let reserved = CloudEvent(
            data: InventoryReserved(
                orderId: cause.data.orderId, customerId: "cus_42",
                pricedLines: [PricedLine(sku: "SKU-RED-MUG", quantity: 2, unitPrice: 1250)], total: 2500,
                currency: "USD"),
            causedBy: cause)
        #expect(reserved.causationid == cause.id)
        // The cause's trace and flags, in a span of its own.
        let parent = try #require(cause.traceparent)
        let child = try #require(reserved.traceparent)
        #expect(child.prefix(36) == parent.prefix(36) && child.suffix(3) == parent.suffix(3) && child != parent)
        #expect(reserved.source == "/troupe/inventory")
        #expect(reserved.natsSubject == "inventory.reserved.\(cause.data.orderId)")
        #expect(reserved.id.count == 36 && reserved.id.dropFirst(14).hasPrefix("7"))
        let roundTrip = try EventDecoder().decode(reserved.encoded())
        #expect(roundTrip == .inventoryReserved(reserved))
    }

    @Test func timestampsRoundTripWithMilliseconds() throws {
        let date = try #require(Timestamp.date("2026-11-22T11:32:38.123Z"))
        #expect(Timestamp.string(date) == "2026-11-22T11:32:38.123Z")
        for bad in [
            "2026-11-22T11:32:38Z", "2026-11-22 11:32:38.123Z", "2026-13-22T11:32:38.123Z",
            "2026-11-22T11:32:38.123+01:00",
        ] {
            #expect(Timestamp.date(bad) == nil, "\(bad)")
        }
    }
}
