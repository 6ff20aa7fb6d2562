import Foundation
import SchemaValidation
import Testing

/// The validator is not vacuous: it finds what is wrong, and says where.
@Suite("JSON Schema validator")
struct JSONSchemaTests {
    let schema = try! JSONSchema(
        data: Data(
            #"""
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "required": ["id", "n", "tags", "kind", "when"],
             "properties": {
               "id": {"$ref": "#/$defs/id"}, "n": {"type": "integer", "minimum": 1, "maximum": 10},
               "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 3}},
               "kind": {"enum": ["a", "b"]}, "when": {"type": "string", "format": "date-time"},
               "flag": {"type": "boolean"}, "maybe": {"type": ["string", "null"]}},
             "$defs": {"id": {"type": "string", "pattern": "^x[0-9]+$"}}}
            """#.utf8))

    private func violations(_ json: String) throws -> [String] {
        try schema.validate(json: Data(json.utf8)).map(\.description)
    }

    @Test func acceptsAValidInstance() throws {
        #expect(
            try violations(
                #"{"id":"x1","n":3,"tags":["ab"],"kind":"a","when":"2026-11-22T11:32:38.123Z","flag":false,"maybe":null}"#
            ).isEmpty)
    }

    @Test func findsEachKindOfViolation() throws {
        let found = try violations(
            #"{"id":"y1","n":11,"tags":["abcd", 3],"kind":"c","when":"noon","flag":1,"maybe":2}"#)
        #expect(found.contains("id: must match ^x[0-9]+$"))
        #expect(found.contains("n: must be at most 10"))
        #expect(found.contains("tags[0]: must have at most 3 characters"))
        #expect(found.contains("tags[1]: must be of type string, not integer"))
        #expect(found.contains { $0.hasPrefix("kind: must be one of") })
        #expect(found.contains("when: must be a valid date-time"))
        #expect(found.contains("flag: must be of type boolean, not integer"))
        #expect(found.contains("maybe: must be of type string or null, not integer"))
        #expect(found.count == 8)
    }

    @Test func findsMissingFieldsAndWrongTypes() throws {
        #expect(
            try violations(#"{"id":"x1"}"#).sorted() == [
                "kind: is required", "n: is required", "tags: is required", "when: is required",
            ])
        #expect(
            try violations(#"{"id":"x1","n":true,"tags":[],"kind":"a","when":"2026-11-22T11:32:38.123Z"}"#).sorted()
                == ["n: must be of type integer, not boolean", "tags: must have at least 1 items"])
        #expect(try violations("[1]") == ["(root): must be of type object, not array"])
    }
}
