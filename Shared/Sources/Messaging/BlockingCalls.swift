import Dispatch

/// Runs blocking nats.c calls (connect, JetStream API requests, flush, close) on threads of their own.
///
/// Swift concurrency has one thread per core (two on the reference machine); a blocking C call there
/// would starve every other task, HTTP requests included (STYLE.md rule 5). Results come back to the
/// caller's task through a continuation.
enum BlockingCalls {
    private static let queue = DispatchQueue(label: "troupe.nats.blocking", attributes: .concurrent)

    /// Runs `body` on a blocking-call thread and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(NATSError) -> T) async throws(NATSError) -> T {
        let result: Result<T, NATSError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(NATSError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
