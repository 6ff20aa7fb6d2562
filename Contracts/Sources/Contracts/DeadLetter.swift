/// The dead-letter format of docs/events.md ("Dead letters"): where a service puts what it cannot
/// process, the headers that say why, and where `troupe dlq replay` puts it back.
public enum DeadLetter {
    public static let stream = "DEADLETTER"
    public static let reasonHeader = "Troupe-Dead-Letter-Reason"
    public static let originalMessageIdHeader = "Troupe-Original-Msg-Id"
    public static let originalStreamHeader = "Troupe-Original-Stream"
    public static let originalSequenceHeader = "Troupe-Original-Sequence"
    public static let deliveriesHeader = "Troupe-Deliveries"
    /// On a replayed copy: the `DEADLETTER` sequence of the dead letter it replays.
    public static let replayOfHeader = "Troupe-Replay-Of"

    /// `deadletter.<service>.<original subject>`.
    public static func subject(service: String, originalSubject: String) -> String {
        "deadletter.\(service).\(originalSubject)"
    }

    /// `deadletter.<service>.<stream>.<sequence>`: one copy per service and original message.
    public static func messageId(service: String, stream: String, sequence: UInt64) -> String {
        "deadletter.\(service).\(stream).\(sequence)"
    }

    /// Where a replayed dead letter of `service` goes: only that service's replay consumer
    /// (`<service>-replay`) reads it, so the other consumers of the original event see nothing again.
    public static func replaySubject(service: String, originalSubject: String) -> String {
        replayPrefix(service: service) + originalSubject
    }

    /// `deadletter.replay.<service>.`
    public static func replayPrefix(service: String) -> String { "deadletter.replay.\(service)." }

    /// The service and original subject of a dead letter's subject; nil for a replay or another subject.
    public static func parse(subject: String) -> (service: String, originalSubject: String)? {
        let parts = subject.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "deadletter", parts[1] != "replay" else { return nil }
        return (parts[1], parts[2])
    }
}
