import Contracts
import Foundation
import SchemaValidation
import Testing

/// The Swift types, the JSON Schemas and the golden examples say the same thing.
@Suite("Types, schemas and examples agree")
struct ContractAgreementTests {
    static let names = AnyEvent.payloadTypes.map { $0.schemaName }

    @Test func thereAreTwentyEventTypesEachWithASchemaAndAnExample() throws {
        #expect(Self.names.count == 20)
        #expect(Set(Self.names).count == 20)
        #expect(try ContractFiles.files(in: "schemas") == (Self.names + ["cloudevent"]).sorted())
        #expect(try ContractFiles.files(in: "examples") == Self.names.sorted())
    }

    @Test(arguments: AnyEvent.payloadTypes.map { $0.schemaName })
    func exampleDecodesReencodesIdenticallyAndValidates(_ name: String) throws {
        let bytes = try Data(contentsOf: ContractFiles.example(name))
        let event = try EventDecoder().decode(bytes)
        #expect(event.type == "troupe.\(name)")
        // Re-encoding gives the same JSON document (as values: key order and spacing aside).
        #expect(try ContractFiles.json(event.encoded()) == ContractFiles.json(bytes))

        let document = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        let dataSchema = try JSONSchema(contentsOf: ContractFiles.schema(name))
        #expect(dataSchema.validate(document["data"]!).isEmpty, "\(dataSchema.validate(document["data"]!))")
        let envelope = try JSONSchema(contentsOf: ContractFiles.schema("cloudevent"))
        #expect(envelope.validate(document).isEmpty, "\(envelope.validate(document))")
        #expect(document["dataschema"] as? String == "troupe:schemas/\(name).json")
    }

    @Test(arguments: AnyEvent.payloadTypes.map { $0.schemaName })
    func schemaIsDraft2020AndOpen(_ name: String) throws {
        let schema = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: ContractFiles.schema(name))) as? [String: Any])
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["$id"] as? String == "troupe:schemas/\(name).json")
        // Readers ignore unknown fields: no schema closes itself.
        let text = try String(contentsOf: ContractFiles.schema(name), encoding: .utf8)
        #expect(!text.contains("\"additionalProperties\": false"))
    }

    @Test(arguments: AnyEvent.payloadTypes.map { $0.schemaName })
    func schemaAndSwiftRejectTheSameMissingFields(_ name: String) throws {
        // Dropping each required field of the example: the schema and the decoder both refuse it,
        // and the decoder names that field.
        let bytes = try Data(contentsOf: ContractFiles.example(name))
        let document = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        let data = try #require(document["data"] as? [String: Any])
        let schemaObject = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: ContractFiles.schema(name))) as? [String: Any])
        let required = try #require(schemaObject["required"] as? [String])
        #expect(!required.isEmpty)
        let schema = try JSONSchema(contentsOf: ContractFiles.schema(name))
        for field in required {
            var broken = data
            broken.removeValue(forKey: field)
            #expect(!schema.validate(broken).isEmpty, "schema accepts \(name) without \(field)")
            var event = document
            event["data"] = broken
            let error = #expect(throws: ContractError.self) {
                try EventDecoder().decode(JSONSerialization.data(withJSONObject: event))
            }
            #expect(error?.code == .invalidData)
            #expect(error?.field == "data.\(field)")
        }
    }

    @Test func unknownFieldsAreIgnoredByTheDecoderAndTheSchemas() throws {
        let bytes = try Data(contentsOf: ContractFiles.example("order.placed.v1"))
        var document = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        var data = try #require(document["data"] as? [String: Any])
        data["giftWrap"] = true
        document["data"] = data
        document["extension"] = "x"
        let event = try EventDecoder().decode(JSONSerialization.data(withJSONObject: document))
        guard case .orderPlaced(let placed) = event else {
            Issue.record("decoded as \(event.type)")
            return
        }
        #expect(placed.data.lines.count == 2)
        #expect(try JSONSchema(contentsOf: ContractFiles.schema("order.placed.v1")).validate(data).isEmpty)
    }

    @Test func asyncAPIDocumentsEveryChannelAndMessage() throws {
        let text = try String(contentsOf: ContractFiles.root.appendingPathComponent("asyncapi.yaml"), encoding: .utf8)
        #expect(text.hasPrefix("asyncapi: 3.0.0"))
        for type in AnyEvent.payloadTypes {
            #expect(text.contains("address: \(type.subjectPrefix).{orderId}"), "no channel for \(type.type)")
            #expect(text.contains("name: \(type.type)"), "no message for \(type.type)")
            #expect(text.contains("$ref: './schemas/\(type.schemaName).json'"), "no payload for \(type.type)")
        }
    }
}
