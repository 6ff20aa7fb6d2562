/// Waits that double after each failure up to a ceiling, and start over after a success: the one
/// retry policy of the consumers, the stream keeper, the outbox relay and the webhook channel.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    /// The wait before the next attempt.
    public private(set) var current: Duration

    /// 200 ms doubling up to 5 s unless told otherwise: quick to notice a NATS server that came
    /// back, slow enough not to flood the log (or the server) while it is away.
    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
        self.current = initial
    }

    /// The wait to make now; the next one is twice as long, up to `maximum`.
    public mutating func next() -> Duration {
        defer { current = min(current * 2, maximum) }
        return current
    }

    /// After a success: the next failure waits `initial` again.
    public mutating func reset() { current = initial }
}
