import CoreMetrics
import Hummingbird
import Metrics
import Prometheus

/// The service's metrics, created with bounded label values, served at `/metrics` in the
/// Prometheus text format. Prometheus is bootstrapped once, in `ServiceMain`.
public enum ServiceMetrics {
    /// An event a consumer handled: its type and what became of it (`ack`, `nak`, `dead_letter`, `retry`).
    static func consumed(type: String, outcome: String) {
        Counter(label: "troupe_events_consumed_total", dimensions: [("type", type), ("outcome", outcome)]).increment()
    }

    static func handlerDuration(stream: String) -> Metrics.Timer {
        Metrics.Timer(label: "troupe_handler_duration_seconds", dimensions: [("stream", stream)])
    }

    static func redelivered(stream: String) {
        Counter(label: "troupe_redeliveries_total", dimensions: [("stream", stream)]).increment()
    }

    static func deadLettered(stream: String) {
        Counter(label: "troupe_dead_letters_total", dimensions: [("stream", stream)]).increment()
    }

    static func published(subjectPrefix: String, count: Int) {
        Counter(label: "troupe_events_published_total", dimensions: [("event", subjectPrefix)]).increment(by: count)
    }

    static func outboxBacklog(count: Int, oldestAgeSeconds: Double) {
        Gauge(label: "troupe_outbox_backlog").record(count)
        Gauge(label: "troupe_outbox_oldest_age_seconds").record(oldestAgeSeconds)
    }

    /// A saga outcome seen by the order service (`confirmed`, `shipped`, `cancelled`), with the
    /// cancellation reason when there is one.
    public static func sagaOutcome(_ outcome: String, reason: String = "") {
        Counter(label: "troupe_saga_outcomes_total", dimensions: [("outcome", outcome), ("reason", reason)]).increment()
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
