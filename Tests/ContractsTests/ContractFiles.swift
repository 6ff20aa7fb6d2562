import Foundation

/// Where the contract's files are: `Contracts/` at the repository root.
enum ContractFiles {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url.appendingPathComponent("Contracts")
    }()

    static func schema(_ name: String) -> URL { root.appendingPathComponent("schemas/\(name).json") }
    static func example(_ name: String) -> URL { root.appendingPathComponent("examples/\(name).json") }

    static func files(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// A JSON document as Foundation values, for comparisons that ignore key order and spacing.
    static func json(_ data: Data) throws -> NSObject {
        try JSONSerialization.jsonObject(with: data) as! NSObject
    }
}
