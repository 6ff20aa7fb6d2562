public import Contracts
public import Messaging

extension StreamConfiguration {
    /// The layer's configuration of a contract stream: file storage, limits-based retention.
    public init(_ definition: StreamDefinition) {
        self.init(
            name: definition.name, subjects: definition.subjects, storage: .file, retention: .limits,
            maxAge: definition.maxAge, duplicateWindow: definition.duplicateWindow, replicas: definition.replicas)
    }
}

extension StreamDefinition {
    /// Whether this stream's subjects take `subject` (`orders.>` takes `orders.placed.ord_…`).
    public func holds(_ subject: String) -> Bool {
        subjects.contains { filter in
            filter.hasSuffix(".>") ? subject.hasPrefix(filter.dropLast()) : subject == filter
        }
    }

    /// The contract's stream that holds `subject`, if any.
    public static func holding(_ subject: String) -> StreamDefinition? {
        all.first { $0.holds(subject) }
    }
}
