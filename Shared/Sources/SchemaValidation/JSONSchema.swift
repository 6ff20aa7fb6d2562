public import Foundation

/// A JSON Schema (draft 2020-12) validator for the subset Troupe's schemas use: `type`,
/// `properties`, `required`, `enum`, `const`, `items`, `minItems`, `maxItems`, `minLength`,
/// `maxLength`, `pattern`, `minimum`, `maximum`, `format` (`date-time`, `date`), `$ref` to
/// `#/$defs/…`, `allOf`, `anyOf`, `oneOf`. Other keywords are ignored, as the specification allows
/// for unknown ones; `additionalProperties` is honoured when it is `false`.
///
/// Values are what `JSONSerialization` produces; booleans are told from numbers by their
/// Objective-C type, since both arrive as `NSNumber`.
public struct JSONSchema: Sendable {
    /// One violation: where in the instance, and what.
    public struct Violation: Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path.isEmpty ? "(root)" : path): \(message)" }
    }

    // The parsed schema is a tree of Foundation values that is never mutated after `init`.
    nonisolated(unsafe) private let root: [String: Any]

    public init(data: Data) throws {
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SchemaError("a schema must be a JSON object")
        }
        self.root = root
    }

    public init(contentsOf url: URL) throws {
        try self.init(data: Data(contentsOf: url))
    }

    /// Every violation of `instance` (a `JSONSerialization` value); empty when it is valid.
    public func validate(_ instance: Any) -> [Violation] {
        var violations: [Violation] = []
        check(instance, against: root, at: "", into: &violations)
        return violations
    }

    /// Parses `data` as JSON and validates it.
    public func validate(json data: Data) throws -> [Violation] {
        validate(try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    private func check(_ value: Any, against schema: [String: Any], at path: String, into out: inout [Violation]) {
        func fail(_ message: String) { out.append(Violation(path: path, message: message)) }

        if let ref = schema["$ref"] as? String {
            guard let target = resolve(ref) else { return fail("unresolvable $ref \(ref)") }
            check(value, against: target, at: path, into: &out)
        }
        if let types = schema["type"] {
            let allowed = (types as? [String]) ?? [(types as? String) ?? ""]
            if !allowed.contains(where: { Self.matches(value, type: $0) }) {
                return fail("must be of type \(allowed.joined(separator: " or ")), not \(Self.typeName(value))")
            }
        }
        if let options = schema["enum"] as? [Any], !options.contains(where: { Self.equal($0, value) }) {
            fail("must be one of \(options.map { "\($0)" }.joined(separator: ", "))")
        }
        if let constant = schema["const"], !Self.equal(constant, value) { fail("must be \(constant)") }
        if let string = value as? String, !Self.isBoolean(value) {
            let length = string.unicodeScalars.count
            if let minimum = schema["minLength"] as? Int, length < minimum {
                fail("must have at least \(minimum) characters")
            }
            if let maximum = schema["maxLength"] as? Int, length > maximum {
                fail("must have at most \(maximum) characters")
            }
            if let pattern = schema["pattern"] as? String, !Self.matches(string, pattern: pattern) {
                fail("must match \(pattern)")
            }
            if let format = schema["format"] as? String, !Self.matches(string, format: format) {
                fail("must be a valid \(format)")
            }
        }
        if let number = value as? NSNumber, !Self.isBoolean(value) {
            if let minimum = schema["minimum"] as? NSNumber, number.doubleValue < minimum.doubleValue {
                fail("must be at least \(minimum)")
            }
            if let maximum = schema["maximum"] as? NSNumber, number.doubleValue > maximum.doubleValue {
                fail("must be at most \(maximum)")
            }
        }
        if let object = value as? [String: Any] {
            for key in (schema["required"] as? [String]) ?? [] where object[key] == nil {
                out.append(Violation(path: join(path, key), message: "is required"))
            }
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for (key, child) in object {
                if let childSchema = properties[key] as? [String: Any] {
                    check(child, against: childSchema, at: join(path, key), into: &out)
                } else if let additional = schema["additionalProperties"] as? Bool, !additional,
                    !Self.isBoolean(additional)
                {
                    out.append(Violation(path: join(path, key), message: "is not allowed"))
                }
            }
        }
        if let array = value as? [Any] {
            if let minimum = schema["minItems"] as? Int, array.count < minimum {
                fail("must have at least \(minimum) items")
            }
            if let maximum = schema["maxItems"] as? Int, array.count > maximum {
                fail("must have at most \(maximum) items")
            }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in array.enumerated() {
                    check(item, against: items, at: "\(path)[\(index)]", into: &out)
                }
            }
        }
        if let all = schema["allOf"] as? [[String: Any]] {
            for part in all { check(value, against: part, at: path, into: &out) }
        }
        if let any = schema["anyOf"] as? [[String: Any]] {
            if !any.contains(where: { passes(value, $0, path) }) { fail("matches none of anyOf") }
        }
        if let one = schema["oneOf"] as? [[String: Any]] {
            let count = one.filter { passes(value, $0, path) }.count
            if count != 1 { fail("must match exactly one of oneOf (matches \(count))") }
        }
    }

    private func passes(_ value: Any, _ schema: [String: Any], _ path: String) -> Bool {
        var scratch: [Violation] = []
        check(value, against: schema, at: path, into: &scratch)
        return scratch.isEmpty
    }

    private func resolve(_ ref: String) -> [String: Any]? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: Any = root
        for token in ref.dropFirst(2).split(separator: "/") {
            guard let object = node as? [String: Any], let next = object[String(token)] else { return nil }
            node = next
        }
        return node as? [String: Any]
    }

    private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func matches(_ value: Any, type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "boolean": return isBoolean(value)
        case "string": return value is String
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "number": return value is NSNumber && !isBoolean(value)
        case "integer":
            guard let number = value as? NSNumber, !isBoolean(value) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        default: return false
        }
    }

    static func typeName(_ value: Any) -> String {
        for type in ["null", "boolean", "integer", "number", "string", "array", "object"]
        where matches(value, type: type) {
            return type
        }
        return "unknown"
    }

    static func equal(_ a: Any, _ b: Any) -> Bool {
        if isBoolean(a) != isBoolean(b) { return false }
        switch (a, b) {
        case (let x as String, let y as String): return x == y
        case (let x as NSNumber, let y as NSNumber): return x == y
        case (is NSNull, is NSNull): return true
        default: return false
        }
    }

    static func matches(_ string: String, pattern: String) -> Bool {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
        let range = NSRange(string.startIndex..., in: string)
        return expression.firstMatch(in: string, range: range) != nil
    }

    static func matches(_ string: String, format: String) -> Bool {
        switch format {
        case "date-time":
            return matches(string, pattern: #"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#)
        case "date":
            guard matches(string, pattern: #"^\d{4}-\d{2}-\d{2}$"#) else { return false }
            let parts = string.split(separator: "-").compactMap { Int($0) }
            return (1...12).contains(parts[1]) && (1...31).contains(parts[2])
        default:
            return true  // Unknown formats are annotations only.
        }
    }
}

/// A schema that cannot be used.
public struct SchemaError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
