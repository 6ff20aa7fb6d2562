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
