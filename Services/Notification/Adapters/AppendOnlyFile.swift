import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The JSON-lines file channel: one descriptor opened with `O_APPEND` (mode 0600), and one line per
/// `write` under a lock, so that concurrent notifications never interleave, overwrite or lose a
/// line, whatever else appends to the file (`O_APPEND` places every write at the end atomically).
final class AppendOnlyFile: Sendable {
    let path: String
    /// The open descriptor, opened on first use (and again after a failure).
    private let descriptor = Mutex<Int32?>(nil)

    struct WriteError: Error, CustomStringConvertible {
        let description: String
    }

    init(path: String) { self.path = path }

    /// Appends `line` and a newline as one write.
    func append(_ line: Data) throws {
        var bytes = [UInt8](line)
        bytes.append(0x0A)
        try descriptor.withLock { descriptor in
            if descriptor == nil {
                let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                guard opened >= 0 else {
                    throw WriteError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
                }
                descriptor = opened
            }
            guard let fd = descriptor else { return }
            var written = 0
            while written < bytes.count {
                let result = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if result < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    descriptor = nil
                    throw WriteError(description: "cannot write to \(path): \(reason)")
                }
                written += result
            }
        }
    }

    deinit {
        if let fd = descriptor.withLock({ $0 }) { close(fd) }
    }
}
