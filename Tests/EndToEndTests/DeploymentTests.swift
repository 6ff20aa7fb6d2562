import Foundation
import TestSupport
import Testing

/// The release archive of one service (`make dist SERVICE=payment`; `make test` builds it before
/// the tests) unpacked into an empty folder and run the way its systemd unit runs it: the binary at
/// the unit's `ExecStart`, with nothing in its environment but the unit's `Environment=` and the
/// operator's copy of the archive's environment file; the other four services from the build.
@Suite("A service deployed from its release archive", .serialized, .timeLimit(.minutes(4)))
struct DeploymentTests {
    static let service = "payment"

    struct Installed {
        var prefix: URL
        var binary: URL
        var unit: [String: [String]]
        var environmentFile: String
        var manifest: String
    }

    /// Unpacks the archive under `<folder>/opt/troupe/<service>`, as the archive's README says.
    static func install(into folder: URL) async throws -> Installed {
        let root = Repository.root
        let version = try String(contentsOf: root.appendingPathComponent("VERSION"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let dist = root.appendingPathComponent("dist")
        let archives = (try? FileManager.default.contentsOfDirectory(atPath: dist.path)) ?? []
        let name = try #require(
            archives.first { $0.hasPrefix("troupe-\(service)-\(version)-linux-") && $0.hasSuffix(".tar.gz") },
            "no release archive of \(service) \(version) in dist/: `make dist SERVICE=\(service)` (make test builds it)"
        )
        let prefix = folder.appendingPathComponent("opt/troupe/\(service)")
        try FileManager.default.createDirectory(at: prefix, withIntermediateDirectories: true)
        let tar = try await ProcessRunner.run(
            URL(fileURLWithPath: "/usr/bin/tar"),
            ["-xzf", dist.appendingPathComponent(name).path, "-C", prefix.path, "--strip-components=1"])
        try #require(tar.status == 0, "tar: \(tar.standardError)")
        let unit = try String(
            contentsOf: prefix.appendingPathComponent("troupe-\(service).service"), encoding: .utf8)
        var sections: [String: [String]] = [:]
        for line in unit.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { sections[parts[0], default: []].append(parts[1]) }
        }
        return Installed(
            prefix: prefix, binary: prefix.appendingPathComponent("bin/\(service)-service"), unit: sections,
            environmentFile: try String(contentsOf: prefix.appendingPathComponent("\(service).env"), encoding: .utf8),
            manifest: try String(contentsOf: prefix.appendingPathComponent("MANIFEST"), encoding: .utf8))
    }

    /// The process environment systemd would give the unit: its `Environment=` lines, then the
    /// operator's file (the archive's example with the lines for this machine uncommented and set),
    /// with the install prefix and the state directory moved under the test's folder.
    static func launch(_ installed: Installed, state: URL) throws -> Cluster.Launch {
        let unit = installed.unit
        let example = installed.environmentFile
        let prefix = installed.prefix
        return Cluster.Launch(executable: installed.binary) { settings in
            func moved(_ value: String) -> String {
                value.replacingOccurrences(of: "/opt/troupe/\(service)", with: prefix.path)
                    .replacingOccurrences(of: "/var/lib/troupe/\(service)", with: state.path)
            }
            var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]
            for assignment in unit["Environment"] ?? [] {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                environment[parts[0]] = moved(parts[1])
            }
            // The operator's edit: uncomment and set what this machine needs (the cluster's NATS,
            // port, token and test timings); every other line stays a comment.
            var file = example
            // (The cluster's settings of other services, which the file does not name, stay out.)
            for (key, value) in settings where key != "TROUPE_DATA_DIR" {
                if let range = file.range(of: "\n#\(key)=") {
                    let end = file[range.upperBound...].firstIndex(of: "\n") ?? file.endIndex
                    file.replaceSubrange(range.lowerBound..<end, with: "\n\(key)=\(value)")
                }
            }
            for line in file.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { environment[parts[0]] = parts[1] }
            }
            return environment
        }
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "troupe-dist-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func theArchiveCarriesAStaticBinaryItsUnitAndEverySetting() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let installed = try await Self.install(into: folder)
        // The Swift runtime is inside the binary; what it loads is named in MANIFEST.
        let ldd = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ldd"), [installed.binary.path])
        #expect(ldd.status == 0)
        #expect(
            !ldd.standardOutput.contains("libswift") && !ldd.standardOutput.contains("libFoundation"),
            "\(ldd.standardOutput)")
        #expect(!ldd.standardOutput.contains("not found"))
        for package in ["libnats3.4", "libsqlite3-0", "libpq5"] {
            #expect(
                installed.manifest.contains("install: ") && installed.manifest.contains(" \(package)"), "\(package)")
        }
        // The environment file is the binary's own list of its settings.
        let example = try await ProcessRunner.run(installed.binary, ["--environment-example"])
        #expect(example.status == 0 && example.standardOutput == installed.environmentFile)
        // The unit: a non-root user, the binary, the operator's file, the store in the state directory.
        let unit = installed.unit
        #expect(unit["ExecStart"] == ["/opt/troupe/\(Self.service)/bin/\(Self.service)-service"])
        #expect(unit["User"]?.first.map { $0 != "root" && $0 != "0" } == true)
        #expect(unit["EnvironmentFile"] == ["/etc/troupe/\(Self.service).env"])
        #expect(unit["StateDirectory"] == ["troupe/\(Self.service)"])
        #expect(unit["Environment"]?.contains("TROUPE_DATA_DIR=/var/lib/troupe/\(Self.service)") == true)
        #expect(unit["Restart"] == ["on-failure"])
        #expect(unit["KillSignal"] == ["SIGTERM"])
        let readme = try String(contentsOf: installed.prefix.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("systemctl enable --now troupe-\(Self.service)"))
    }

    @Test func theArchivedServiceTakesPartInTheSagaAndStopsCleanlyOnSIGTERM() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let installed = try await Self.install(into: folder)
        let state = folder.appendingPathComponent("var/lib/troupe/\(Self.service)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try await withCluster(
            dispatchDelay: "200ms", launches: [Self.service: try Self.launch(installed, state: state)]
        ) { cluster in
            let process = try #require(cluster.process(Self.service))
            #expect(process.executableURL == installed.binary)
            let (status, body) = try await cluster.placeOrder(
                customer: "cus_rich", lines: [("SKU-MUG", 2)], country: "GB", idempotencyKey: "dist-1")
            #expect(status == 202)
            let id = try orderId(body)
            _ = try await cluster.waitForStatus(id, in: ["SHIPPED"], timeout: 30)
            // Its store is where the unit puts it, not where the build's copy would.
            #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("payment.sqlite").path))
            // SIGTERM: it stops by itself (stopServiceAsync would SIGKILL it after 15 s), with status 0.
            let asked = Date()
            try await cluster.stopServiceAsync(Self.service)
            #expect(process.terminationReason == .exit && process.terminationStatus == 0)
            #expect(Date().timeIntervalSince(asked) < 14)
            // Back for the checks of every guarantee (they read payment's accounts).
            try cluster.start(Self.service)
            try await cluster.waitUntilReady(Self.service)
            return [id]
        }
    }

    /// Upgrading one service while the others run: stopped (SIGTERM) under load, replaced by the
    /// archive's copy from another folder on the same store, and the saga goes on with every
    /// guarantee and every order ending as planned.
    @Test func upgradingOneServiceUnderLoadLosesNothing() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let installed = try await Self.install(into: folder)
        try await withCluster(dispatchDelay: "100ms") { cluster in
            async let placed = cluster.placeLoad(count: 60, interval: .milliseconds(50))
            try await Task.sleep(for: .seconds(1))
            try await cluster.stopServiceAsync(Self.service)
            // The same store: the build's copy kept it in the cluster's folder.
            let state = cluster.directory.appendingPathComponent("data/\(Self.service)")
            try cluster.start(Self.service, launch: try Self.launch(installed, state: state))
            #expect(cluster.process(Self.service)?.executableURL == installed.binary)
            try await cluster.waitUntilReady(Self.service)
            let ids = await placed
            #expect(ids.count == 60)
            try await cluster.waitForAllFinal(ids, timeout: 120)
            return ids
        }
    }
}
