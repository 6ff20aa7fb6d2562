/// The metadata keys of the log lines (docs/operations.md, "Logs"), one spelling each: a line that
/// spelled one differently would escape every query and alert written against it.
public enum LogKey {
    public static let error = "error"
    public static let orderId = "orderId"
    public static let eventId = "eventId"
    public static let causationId = "causationId"
    public static let traceId = "traceId"
    public static let natsStream = "nats.stream"
    public static let natsConsumer = "nats.consumer"
    public static let natsSubject = "nats.subject"
    public static let natsStatus = "nats.status"
}
