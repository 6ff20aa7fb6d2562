public import Foundation
// The test targets' helpers are the local-process library the tools use as well (a real nats-server
// on a free port, processes run and stopped by their PID): `import TestSupport` brings it in.
@_exported import LocalProcesses

/// The error the helpers throw, by the name the tests know it by.
public typealias TestSupportError = LocalProcessError

/// The repository the tests run from: the folder holding `Package.swift`, found from this file.
public enum Repository {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { break }
        }
        return url
    }()
}
