import Foundation
import Testing

@testable import ServiceKit

@Suite("JSONText writes valid JSON")
struct JSONTextTests {
    static let strings = [
        "", "plain ascii 123", "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F", "a \"quoted\" word", "back\\slash", "line\nbreak",
        "tab\tand\rreturn", "bell\u{07} and nul\u{00}", "unit separator \u{1F}", "slash / stays", "Ådä 🇬🇧 日本",
        "é\"mixed\\ escapes\u{01} and ünïcode",
    ]

    @Test(arguments: strings)
    func aStringReadsBackAsItself(_ string: String) throws {
        var text = ""
        JSONText.appendQuoted(string, to: &text)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        #expect(parsed as? String == string)
        // Only what JSON requires is escaped: slashes and non-ASCII go as they are.
        #expect(text.contains("/") == string.contains("/"))
    }

    @Test func objectsHaveSortedKeysAndReadBack() throws {
        let fields = Dictionary(uniqueKeysWithValues: Self.strings.enumerated().map { ("k\($0.offset)", $0.element) })
        let text = JSONText.object(fields)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed == fields)
        let keys = fields.keys.sorted()
        let positions = keys.map { text.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted())
    }
}
