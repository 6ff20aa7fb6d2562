import Foundation
import Testing

@testable import Contracts

/// The lean event coder against Foundation's: the same bytes out, the same events in, and never an
/// event accepted that Foundation's path would refuse or read differently.
@Suite("EventJSON agrees with Foundation's coders")
struct EventJSONTests {
    static let names: [String] = (try? ContractFiles.files(in: "examples")) ?? []

    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The example as an event, through the checking path (Foundation's decoder).
    static func example(_ name: String) throws -> AnyEvent {
        try EventDecoder().decodeChecking(Data(contentsOf: ContractFiles.example(name)))
    }

    /// What `EventDecoder` makes of `bytes` on each path: the event, or the error's code.
    static func outcomes(_ bytes: [UInt8]) -> (lean: AnyEvent?, full: Result<AnyEvent, ContractError>) {
        let lean = bytes.withUnsafeBytes { EventDecoder().decodeDirectly($0) }
        let full: Result<AnyEvent, ContractError>
        do { full = .success(try EventDecoder().decodeChecking(Data(bytes))) } catch { full = .failure(error) }
        return (lean, full)
    }

    @Test func coversEveryEventType() {
        #expect(Self.names.count == 20)
    }

    @Test(arguments: names)
    func encodesTheSameBytesAsJSONEncoder(_ name: String) throws {
        let event = try Self.example(name)
        // The example as written (indented, keys unsorted) reads the same on both paths.
        #expect(Self.outcomes(Array(try Self.document(name).utf8)).lean == event)
        let lean = try event.encodedBytes()
        let foundation = try Self.foundationEncoder().encode(event.cloudEvent)
        #expect(lean == Array(foundation), "\(String(decoding: lean, as: UTF8.self))")
        // And reads back as the same event on both paths.
        let (decoded, full) = Self.outcomes(lean)
        #expect(decoded == event)
        #expect(try full.get() == event)
    }

    @Test(arguments: [
        "Zoë \"quoted\" back\\slash / tab\t newline\n return\r é 🎉 \u{2028} \u{7F}",
        "bell\u{7} nul\u{0} unit\u{1F} form\u{C} backspace\u{8}",
    ])
    func writesStringsAsJSONEncoderDoes(_ awkward: String) throws {
        guard case .orderPlaced(var placed) = try Self.example("order.placed.v1") else {
            Issue.record("not an order.placed")
            return
        }
        placed.data.shippingAddress.name = awkward
        placed.data.shippingAddress.line2 = nil
        let lean = try EventJSON.encode(placed)
        let foundation = try Self.foundationEncoder().encode(placed)
        #expect(lean == Array(foundation), "\(String(decoding: lean, as: UTF8.self))")
        let read = try? lean.withUnsafeBytes { try EventJSON.decode(CloudEvent<OrderPlaced>.self, from: $0) }
        if awkward.unicodeScalars.contains(where: {
            $0.value < 0x20 && !["\t", "\n", "\r", "\u{8}", "\u{C}"].contains($0)
        }) {
            // Written as \u00XX, which only Foundation's reader reads.
            #expect(read == nil)
        } else {
            #expect(read?.data.shippingAddress.name == awkward)
        }
        #expect(
            try JSONDecoder().decode(CloudEvent<OrderPlaced>.self, from: Data(lean)).data.shippingAddress.name
                == awkward)
    }

    @Test func writesIntegersAsJSONEncoderDoes() throws {
        for value: Int64 in [0, 1, -1, 9, 10, 99, 100, 1234567890, .max, .min] {
            var out: [UInt8] = []
            EventJSON.writeInteger(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    /// Documents that Foundation reads in its own way, or refuses: the lean reader must refuse
    /// them (the full path then decides), or read exactly what Foundation reads.
    @Test(arguments: [
        ("\"quantity\": 2", "\"quantity\":2.0"),
        ("\"quantity\": 2", "\"quantity\":2e0"),
        ("\"quantity\": 2", "\"quantity\":2.5"),
        ("\"quantity\": 2", "\"quantity\":-0"),
        ("\"quantity\": 2", "\"quantity\":02"),
        ("\"quantity\": 2", "\"quantity\":\"2\""),
        ("\"quantity\": 2", "\"quantity\":99999999999999999999"),
        ("\"quantity\": 2", "\"quantity\":2,\"quantity\":3"),
        ("\"city\": \"London\"", "\"city\":\"Lond\\u006Fn\""),
        ("\"city\": \"London\"", "\"city\":\"Lond\\on\""),
        ("\"city\": \"London\"", "\"city\":\"Lon\ndon\""),
        ("\"city\": \"London\"", "\"city\":null"),
        ("\"city\": \"London\"", "\"city\":[\"London\"]"),
        ("\"country\": \"GB\"", "\"line2\": nul, \"country\": \"GB\""),
        ("\"specversion\": \"1.0\"", "\"specversion\": \"1.0\", \"specversion\": \"1.0\""),
        (
            "{",
            "{\"extra\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"
        ),
        ("}", "} x"),
        ("}", "},"),
        ("\"name\":", "\"name\" :"),
        ("\"country\": \"GB\"", "\"line2\": null, \"country\": \"GB\""),
    ])
    func neverReadsWhatFoundationReadsOtherwise(_ original: String, _ replacement: String) throws {
        let document = try Self.document("order.placed.v1")
        #expect(document.contains(original), "the example has \(original)")
        let changed = Array(Self.replacingFirst(original, with: replacement, in: document).utf8)
        let (lean, full) = Self.outcomes(changed)
        if let lean { #expect(lean == (try? full.get()), "the lean reader read \(replacement) as Foundation does") }
    }

    @Test func refusesInvalidUTF8() throws {
        var bytes = Array(try Self.document("order.placed.v1").utf8)
        let index = try #require(bytes.firstIndex(of: UInt8(ascii: "L")))  // in "London"
        bytes[index] = 0xC3
        bytes[index + 1] = 0x28
        #expect(bytes.withUnsafeBytes { EventDecoder().decodeDirectly($0) } == nil)
    }

    /// Random damage to every example: whatever the lean reader accepts, Foundation's path reads the same.
    @Test func agreesWithFoundationOnDamagedDocuments() throws {
        var generator = SplitMix(seed: 0x7E0A_5EED)
        var accepted = 0
        var refused = 0
        for name in Self.names {
            let original = Array(try Self.document(name).utf8)
            for _ in 0..<300 {
                var bytes = original
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes.remove(at: position)
                case 1:
                    bytes.insert(Self.interesting[Int(generator.next() % UInt64(Self.interesting.count))], at: position)
                case 2: bytes[position] = Self.interesting[Int(generator.next() % UInt64(Self.interesting.count))]
                default: bytes.swapAt(position, Int(generator.next() % UInt64(bytes.count)))
                }
                let (lean, full) = Self.outcomes(bytes)
                if let lean {
                    accepted += 1
                    #expect(lean == (try? full.get()), "\(name): \(String(decoding: bytes, as: UTF8.self))")
                } else {
                    refused += 1
                }
            }
        }
        // Both kinds occur, so the comparison above ran on real acceptances.
        #expect(accepted > 100 && refused > 100)
    }

    static let interesting = Array("{}[]\",:\\ 0123456789.-eEtfnul\n\t".utf8) + [0x00, 0x80, 0xC3, 0xFF]

    static func document(_ name: String) throws -> String {
        try String(contentsOf: ContractFiles.example(name), encoding: .utf8)
    }

    static func replacingFirst(_ target: String, with replacement: String, in text: String) -> String {
        guard let range = text.range(of: target) else { return text }
        return text.replacingCharacters(in: range, with: replacement)
    }
}

/// A small deterministic generator, so that a failure repeats.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
