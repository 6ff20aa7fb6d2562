import Foundation
import TestSupport

/// A small tmpfs of its own, to fill up: a real full disk for one service's store. Mounting needs
/// root (CI runs as root); elsewhere the tests that need it are skipped, and say so. As root, a
/// mount that fails fails the test.
struct SmallDisk: Sendable {
    let path: String
    private var filler: String { path + "/filler" }

    private static let mount = URL(fileURLWithPath: "/bin/mount")
    private static let umount = URL(fileURLWithPath: "/bin/umount")

    /// Mounts a tmpfs of `megabytes` on a new folder under the temporary directory.
    init(megabytes: Int) async throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "troupe-disk-\(UUID().uuidString.prefix(8))"
            ).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try await ProcessRunner.run(
            Self.mount, ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path], timeout: .seconds(10))
        guard result.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw TestSupportError("mount tmpfs on \(path): \(result.standardError)")
        }
    }

    /// Writes a file until the disk has no byte left.
    func fill() async throws {
        let filler = self.filler
        try await Blocking.run {
            guard let file = fopen(filler, "w") else { throw TestSupportError("cannot create \(filler)") }
            defer { fclose(file) }
            setvbuf(file, nil, _IONBF, 0)
            for chunk in [1 << 16, 4096, 512, 1] {
                let bytes = [UInt8](repeating: 0xAB, count: chunk)
                while fwrite(bytes, 1, chunk, file) == chunk {}
                clearerr(file)
            }
            guard errno == ENOSPC || errno == 0 else {
                throw TestSupportError("filling \(filler): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Gives the space back.
    func free() throws { try FileManager.default.removeItem(atPath: filler) }

    /// Unmounts (lazily, should a process still hold a file) and removes the folder.
    func unmount() async {
        _ = try? await ProcessRunner.run(Self.umount, ["-l", path], timeout: .seconds(10))
        try? FileManager.default.removeItem(atPath: path)
    }
}
