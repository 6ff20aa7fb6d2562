public import Foundation

/// Decodes bytes from NATS into a typed event, or says precisely why they are not one.
///
/// Order of checks: JSON at all (`not_json`); a CloudEvents 1.0 structured event (`not_cloudevent`,
/// `unsupported_specversion`); a Troupe type (`unknown_type`), in a version this reader knows or can
/// upcast (`unsupported_version`); the data's shape and rules (`invalid_data`, naming the field).
/// Unknown fields are ignored.
public struct EventDecoder: Sendable {
    private let upcasters: [String: Upcaster]

    public init(upcasters: [Upcaster] = Upcaster.all) {
        self.upcasters = Dictionary(upcasters.map { ($0.from, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func decode(_ bytes: [UInt8]) throws(ContractError) -> AnyEvent {
        if let event = bytes.withUnsafeBytes({ decodeDirectly($0) }) { return event }
        return try decodeChecking(Data(bytes))
    }

    public func decode(_ data: Data) throws(ContractError) -> AnyEvent {
        if let event = data.withUnsafeBytes({ decodeDirectly($0) }) { return event }
        return try decodeChecking(data)
    }

    /// Decodes bytes in place (a delivered message's body, without a copy).
    public func decode(bytes: UnsafeRawBufferPointer) throws(ContractError) -> AnyEvent {
        if let event = decodeDirectly(bytes) { return event }
        return try decodeChecking(Data(bytes))
    }

    /// The common case in one parse: a current, valid event of a known type. The document is read
    /// by `EventJSON`, which refuses anything it would not read exactly as `JSONDecoder` does; the
    /// type is the envelope's `type`; the event counts only if it passes every check of the full
    /// path. Anything else goes the full path, which names the precise reason.
    func decodeDirectly(_ bytes: UnsafeRawBufferPointer) -> AnyEvent? {
        guard let document = try? EventJSON.parse(bytes), let type = document.topLevelString("type"),
            Self.knownTypes.contains(type),
            let event = try? AnyEvent.decode(type, with: LeanEventDecoder(document: document)),
            event.type == type, event.specversion == "1.0", !event.id.isEmpty, !event.source.isEmpty
        else { return nil }
        do {
            try event.validate()
        } catch {
            return nil
        }
        return event
    }

    /// Every check in order, each failure with its own code.
    func decodeChecking(_ data: Data) throws(ContractError) -> AnyEvent {
        guard let parsed = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw ContractError(.notJSON, "the message is not JSON")
        }
        guard var object = parsed as? [String: Any] else {
            throw ContractError(.notCloudEvent, "the message is JSON but not an object")
        }
        guard let specversion = object["specversion"] as? String else {
            throw ContractError(
                .notCloudEvent, "no specversion: not a CloudEvents structured event", field: "specversion")
        }
        guard specversion == "1.0" else {
            throw ContractError(
                .unsupportedSpecVersion, "specversion \(specversion) is not supported (1.0 is)", field: "specversion")
        }
        for attribute in ["id", "source", "type"] where (object[attribute] as? String)?.isEmpty ?? true {
            throw ContractError(.notCloudEvent, "no \(attribute): not a CloudEvents event", field: attribute)
        }
        var type = object["type"] as! String
        var upcasted = false
        var steps = 0
        while !Self.knownTypes.contains(type), let upcaster = upcasters[type], steps < 16 {
            do {
                object = try upcaster.transform(object)
            } catch {
                throw ContractError(.invalidData, "upcasting \(type) to \(upcaster.to) failed: \(error)")
            }
            object["type"] = upcaster.to
            type = upcaster.to
            upcasted = true
            steps += 1
        }
        guard Self.knownTypes.contains(type) else {
            if let family = Self.family(of: type), Self.knownFamilies.contains(family) {
                throw ContractError(.unsupportedVersion, "\(type) is not a version this reader knows", field: "type")
            }
            throw ContractError(.unknownType, "\(type) is not a Troupe event type", field: "type")
        }
        guard object["data"] is [String: Any] else {
            throw ContractError(.invalidData, "data must be an object", field: "data")
        }
        let document: Data
        if upcasted {
            guard let reencoded = try? JSONSerialization.data(withJSONObject: object) else {
                throw ContractError(.invalidData, "the upcast event is not serialisable")
            }
            document = reencoded
        } else {
            document = data
        }
        let event: AnyEvent
        do {
            guard
                let decoded = try AnyEvent.decode(
                    type, with: FoundationEventDecoder(decoder: JSONDecoder(), data: document))
            else {
                throw ContractError(.unknownType, "\(type) is not a Troupe event type", field: "type")
            }
            event = decoded
        } catch let error as ContractError {
            throw error
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw ContractError(.invalidData, "\(error)")
        }
        try event.validate()
        return event
    }

    static let knownTypes = Set(AnyEvent.payloadTypes.map { $0.type })
    static let knownFamilies = Set(AnyEvent.payloadTypes.compactMap { family(of: $0.type) })

    /// `troupe.order.placed` from `troupe.order.placed.v7`.
    static func family(of type: String) -> String? {
        guard let dot = type.lastIndex(of: "."), type[type.index(after: dot)...].hasPrefix("v") else { return nil }
        return String(type[..<dot])
    }

    static func describe(_ error: DecodingError) -> ContractError {
        let path = FieldPath.text
        switch error {
        case .keyNotFound(let key, let context):
            return ContractError(.invalidData, "is required", field: path(context.codingPath + [key]))
        case .typeMismatch(let type, let context):
            return ContractError(.invalidData, "has the wrong type (expected \(type))", field: path(context.codingPath))
        case .valueNotFound(_, let context):
            return ContractError(.invalidData, "must not be null", field: path(context.codingPath))
        case .dataCorrupted(let context):
            return ContractError(.invalidData, "is not an allowed value", field: path(context.codingPath))
        @unknown default:
            return ContractError(.invalidData, "\(error)")
        }
    }
}

/// Field paths as errors name them: `lines[0].quantity`.
public enum FieldPath {
    /// The path of a coding path.
    public static func text(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }
}
