import Foundation
import ServiceKit
import Testing

@Suite("Paging cursors")
struct CursorSignerTests {
    @Test func aCursorCarriesItsKeyAndOutlivesTheStoreBeingReopened() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-cursor-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cursor = try ServiceStore.open(directory: directory.path, name: "s").cursors.cursor("ord_01/+é")
        #expect(!cursor.contains("+") && !cursor.contains("/") && !cursor.contains("="))
        let reopened = try ServiceStore.open(directory: directory.path, name: "s")
        #expect(reopened.cursors.value(of: cursor) == "ord_01/+é")
    }

    @Test func aCursorThisStoreDidNotIssueIsRefused() throws {
        let signer = try ServiceStore.inMemory().cursors
        let other = try ServiceStore.inMemory().cursors
        let cursor = signer.cursor("ord_B")
        #expect(signer.value(of: cursor) == "ord_B")
        // Another service's (another key's) cursor, a key swapped under a valid tag, the unsigned
        // form, and bits of text that are no cursor at all.
        #expect(signer.value(of: other.cursor("ord_B")) == nil)
        let parts = cursor.split(separator: ".")
        let swapped = "c2.\(Data("ord_Z".utf8).base64EncodedString()).\(parts[2])"
        for forged in [
            swapped, "c1." + Data("ord_B".utf8).base64EncodedString(), "c2.\(parts[1])", "", "c2..", cursor + "A",
        ] {
            #expect(signer.value(of: forged) == nil, "\(forged)")
        }
    }
}
