import Contracts
import Foundation
public import Logging
import Synchronization

/// Writes one JSON object per line to standard error: `time`, `level`, `service`, `message`, and
/// the metadata under its own keys (`orderId`, `eventId`, …): the log format of docs/operations.md ("Logs").
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let service: String
    let label: String

    public init(label: String, service: String, level: Logger.Level) {
        self.label = label
        self.service = service
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: JSONText.Value] = [
            "time": .string(Self.timestamp()), "level": .string(event.level.rawValue), "service": .string(service),
            "message": .string(event.message.description),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged { object[key] = Self.plain(value) }
        var text = ""
        JSONText.write(.object(object), to: &text)
        text += "\n"
        let line = Data(text.utf8)
        Self.output.withLock { _ in FileHandle.standardError.write(line) }
    }

    private static let output = Mutex(())

    static func plain(_ value: Logger.Metadata.Value) -> JSONText.Value {
        switch value {
        case .string(let string): .string(string)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(plain))
        case .dictionary(let values): .object(values.mapValues(plain))
        }
    }

    static func timestamp() -> String {
        Timestamp.string(Date())
    }
}

extension Logger {
    /// Bootstraps logging once per process, in the format and level of the settings.
    public static func bootstrap(service: String, format: String, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            if format == "json" { return JSONLogHandler(label: label, service: service, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
