public import Foundation
import Synchronization

/// Finds free TCP ports on 127.0.0.1, so that tests never collide with `make up` or each other.
public enum FreePort {
    /// A port that was free a moment ago and that no other caller in this process was given.
    ///
    /// Drawn at random below Linux's ephemeral range (32768–60999): a port the kernel hands out for
    /// port 0 or as the source of an outgoing connection can be taken again by another test's
    /// process between this call and the bind of the process it is meant for (a restarted service
    /// then fails with "Address already in use"); below that range only an explicit bind takes it,
    /// and the ports given out here are remembered so no two tests get the same one.
    public static func find() throws -> Int {
        for _ in 0..<1000 {
            let port = Int.random(in: 20_000...32_000)
            let fresh = given.withLock { $0.insert(port).inserted }
            if fresh, canBind(port) { return port }
        }
        throw LocalProcessError("no free port found between 20000 and 32000")
    }

    /// `count` consecutive free ports (the first is returned): for what takes a base port and the
    /// ones after it (`make cluster-up`'s three NATS servers).
    public static func findRun(_ count: Int) throws -> Int {
        for _ in 0..<1000 {
            let base = Int.random(in: 20_000...(32_000 - count))
            let fresh = given.withLock { given in
                let run = Set(base..<(base + count))
                guard given.isDisjoint(with: run) else { return false }
                given.formUnion(run)
                return true
            }
            if fresh, (base..<(base + count)).allSatisfy(canBind) { return base }
        }
        throw LocalProcessError("no \(count) consecutive free ports found between 20000 and 32000")
    }

    private static let given = Mutex<Set<Int>>([])

    private static func canBind(_ port: Int) -> Bool { onLoopback(port) { bind($0, $1, $2) } }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(_ port: Int) -> Bool { onLoopback(port) { connect($0, $1, $2) } }

    /// Whether `call` (bind or connect) succeeds for a new TCP socket and 127.0.0.1:`port`.
    private static func onLoopback(
        _ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// Finds programs the tests run (nats-server, valgrind, cc) on PATH and in Debian's sbin folders.
public enum Executables {
    public static func find(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders =
            path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/bin"]
        for folder in folders {
            let candidate = URL(fileURLWithPath: folder).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw LocalProcessError("\(name) not found on PATH (run `make deps`)")
    }
}
