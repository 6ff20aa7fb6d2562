import Contracts
import Foundation
import ServiceKit
import Testing

@Suite("Identifiers")
struct IdentifierTests {
    @Test func ulidsHaveTheirShapeSortByTimeAndDoNotRepeat() {
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = ULID.make("ord_")
            #expect(id.count == 30 && id.hasPrefix("ord_") && id.dropFirst(4).allSatisfy(alphabet.contains))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // All 32 symbols appear in the random part (every 5-bit group is drawn).
        let symbols = Set(seen.flatMap { $0.suffix(16) })
        #expect(symbols == alphabet)
        let earlier = ULID.make("ord_", now: Date(timeIntervalSince1970: 1_700_000_000))
        let later = ULID.make("ord_", now: Date(timeIntervalSince1970: 1_700_000_000.001))
        #expect(earlier.prefix(14) < later.prefix(14))
    }

    @Test func randomBytesComeInTheCountAskedFor() {
        for count in [0, 1, 7, 8, 9, 16] { #expect(RandomBytes.make(count).count == count) }
        // Many times the 4 KiB drawn from the system at once: no draw repeats across refills.
        #expect(Set((0..<5000).map { _ in RandomBytes.make(16) }).count == 5000)
        #expect(Set((0..<5000).map { _ in RandomBytes.make(16)[0] }).count > 200)
    }
}
