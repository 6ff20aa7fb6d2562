import CoreMetrics
import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// The service's metrics, created with bounded label values, served at `/metrics` in the
/// Prometheus text format. Prometheus is bootstrapped once, in `ServiceMain`.
public enum ServiceMetrics {
    /// Metric handles made once per label set: creating one costs a registry look-up under a lock
    /// and label strings, which the hot path should not pay per event.
    static let counters = MetricHandles()

    /// An event a consumer handled: its type and what became of it (`ack`, `nak`, `dead_letter`, `retry`).
    static func consumed(type: String, outcome: String) {
        counters.counter("troupe_events_consumed_total", ("type", type), ("outcome", outcome)).increment()
    }

    /// Records `count` handler durations of `duration` each (a batch's share per event).
    static func handlerDuration(stream: String, _ duration: Duration, count: Int = 1) {
        let timer = counters.timer("troupe_handler_duration_seconds", ("stream", stream))
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        for _ in 0..<count { timer.recordNanoseconds(nanoseconds) }
    }

    /// A batch a consumer applied: how many there were and how many events they held (their
    /// ratio is the mean batch size, which grows with the load).
    static func batch(stream: String, events: Int) {
        counters.counter("troupe_consumer_batches_total", ("stream", stream)).increment()
        counters.counter("troupe_consumer_batch_events_total", ("stream", stream)).increment(by: events)
    }

    /// An event kept waiting in the process for its prerequisite (`WaitingRoom`), and how the
    /// wait ended: `released` (its order's next event was applied) or `timed_out`.
    static func held(_ outcome: String) {
        counters.counter("troupe_events_held_total", ("outcome", outcome)).increment()
    }

    static func redelivered(stream: String) {
        counters.counter("troupe_redeliveries_total", ("stream", stream)).increment()
    }

    static func deadLettered(stream: String) {
        counters.counter("troupe_dead_letters_total", ("stream", stream)).increment()
    }

    static func published(subjectPrefix: String, count: Int) {
        counters.counter("troupe_events_published_total", ("event", subjectPrefix)).increment(by: count)
    }

    static func outboxBacklog(count: Int, oldestAgeSeconds: Double) {
        Gauge(label: "troupe_outbox_backlog").record(count)
        Gauge(label: "troupe_outbox_oldest_age_seconds").record(oldestAgeSeconds)
    }

    /// A saga outcome seen by the order service (`confirmed`, `shipped`, `cancelled`), with the
    /// cancellation reason when there is one.
    public static func sagaOutcome(_ outcome: String, reason: String = "") {
        counters.counter("troupe_saga_outcomes_total", ("outcome", outcome), ("reason", reason)).increment()
    }

    /// A request refused to shed load (503 with `Retry-After`), by route.
    public static func refused(route: String) {
        counters.counter("troupe_http_refused_total", ("route", route)).increment()
    }

    /// The order service's backlog: accepted orders still pending, as admission control last read it.
    public static func pendingOrders(_ count: Int) {
        Gauge(label: "troupe_orders_pending").record(count)
    }

    /// `GET /metrics`.
    static func add(to router: Router<BasicRequestContext>, registry: PrometheusCollectorRegistry) {
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}

/// Counters and timers by label and dimensions, each made once.
final class MetricHandles: Sendable {
    private struct Key: Hashable {
        var label: String
        var first: String
        var second: String
    }

    private let counterCache = Mutex<[Key: CoreMetrics.Counter]>([:])
    private let timerCache = Mutex<[Key: Metrics.Timer]>([:])

    func counter(_ label: String, _ first: (String, String), _ second: (String, String)? = nil) -> CoreMetrics.Counter {
        let key = Key(label: label, first: first.1, second: second?.1 ?? "")
        return counterCache.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = CoreMetrics.Counter(label: label, dimensions: [first] + (second.map { [$0] } ?? []))
            cache[key] = counter
            return counter
        }
    }

    func timer(_ label: String, _ first: (String, String)) -> Metrics.Timer {
        let key = Key(label: label, first: first.1, second: "")
        return timerCache.withLock { cache in
            if let timer = cache[key] { return timer }
            let timer = Metrics.Timer(label: label, dimensions: [first])
            cache[key] = timer
            return timer
        }
    }
}
