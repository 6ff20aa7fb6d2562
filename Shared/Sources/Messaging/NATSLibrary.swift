internal import CNATS

/// The nats.c library as a whole.
public enum NATSLibrary {
    /// Waits, up to `timeout`, until nats.c has released everything — every connection destroyed
    /// and its threads gone — and tears the library down. Call it last, before the process exits:
    /// otherwise the exit's clean-up (OpenSSL's among it) can run while a connection is still being
    /// destroyed on another thread, which crashes a process that spoke TLS. Returns false when
    /// something still held the library at the timeout (a connection not released).
    @discardableResult
    public static func closeAndWait(timeout: Duration = .seconds(2)) async -> Bool {
        let milliseconds = timeout.milliseconds
        return (try? await BlockingCalls.run { nats_CloseAndWait(milliseconds) == NATS_OK }) ?? false
    }
}
