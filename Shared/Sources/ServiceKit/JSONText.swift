/// Writes small JSON documents (log lines, notification bodies, header maps) directly, keys sorted.
///
/// Foundation's `JSONSerialization` with `.sortedKeys` sorts through `NSString` comparison and
/// bridges every value: on Linux that costs more than everything else a log line or a notification
/// does. Keys here are sorted by their UTF-8 bytes, which is the same order for the ASCII keys
/// Troupe uses.
public enum JSONText {
    /// A JSON value of a log line or a small document.
    public indirect enum Value: Sendable {
        case string(String)
        case array([Value])
        case object([String: Value])
    }

    /// `{"key":"value",…}` with keys sorted.
    public static func object(_ fields: [String: String]) -> String {
        var text = "{"
        for (index, key) in fields.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            appendQuoted(key, to: &text)
            text += ":"
            appendQuoted(fields[key]!, to: &text)
        }
        return text + "}"
    }

    /// Any value, objects with keys sorted.
    public static func write(_ value: Value, to text: inout String) {
        switch value {
        case .string(let string):
            appendQuoted(string, to: &text)
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                write(element, to: &text)
            }
            text += "]"
        case .object(let fields):
            text += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                appendQuoted(key, to: &text)
                text += ":"
                write(fields[key]!, to: &text)
            }
            text += "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; slashes and
    /// non-ASCII characters as they are.
    public static func appendQuoted(_ string: String, to text: inout String) {
        text += "\""
        // The usual case (ids, times, names): nothing to escape, so the string goes in whole
        // instead of scalar by scalar, which costs a growth check and a re-encoding each.
        var plain = string
        let needsEscaping = plain.withUTF8 { utf8 in
            utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        }
        if !needsEscaping {
            text += plain
            text += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
