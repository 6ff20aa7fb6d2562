import Postgres

/// One setting of a service: a command-line flag with an environment-variable fallback.
public struct SettingSpec: Sendable, Hashable {
    /// The flag without dashes (`nats-url` for `--nats-url`).
    public var flag: String
    /// The environment variable read when the flag is absent (`TROUPE_NATS_URL`).
    public var environment: String
    public var defaultValue: String?
    /// Printed masked at start.
    public var secret: Bool
    public var help: String

    public init(_ flag: String, env: String, default defaultValue: String? = nil, secret: Bool = false, help: String) {
        self.flag = flag
        self.environment = env
        self.defaultValue = defaultValue
        self.secret = secret
        self.help = help
    }
}

/// Raw settings as given: flags first, then the environment, then defaults.
public struct Settings: Sendable {
    public enum Source: String, Sendable { case flag, environment, `default` }

    public let specs: [SettingSpec]
    private let values: [String: (value: String, source: Source)]

    /// Reads `arguments` (`--flag value` or `--flag=value`) and `environment`. Unknown flags and
    /// flags without a value are errors, one line each.
    public init(specs: [SettingSpec], arguments: [String], environment: [String: String]) throws(SettingsError) {
        self.specs = specs
        var problems: [String] = []
        var fromFlags: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                problems.append("unexpected argument '\(argument)'")
                continue
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard specs.contains(where: { $0.flag == name }) else {
                problems.append("unknown flag --\(name)")
                continue
            }
            if value == nil {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    problems.append("--\(name) needs a value")
                    continue
                }
                value = arguments[index]
                index += 1
            }
            fromFlags[name] = value
        }
        var values: [String: (String, Source)] = [:]
        for spec in specs {
            if let value = fromFlags[spec.flag] {
                values[spec.flag] = (value, .flag)
            } else if let value = environment[spec.environment], !value.isEmpty {
                values[spec.flag] = (value, .environment)
            } else if let value = spec.defaultValue {
                values[spec.flag] = (value, .default)
            }
        }
        self.values = values
        if !problems.isEmpty { throw SettingsError(problems: problems) }
    }

    /// The value of a setting, or nil when neither given nor defaulted.
    public func value(_ flag: String) -> String? { values[flag]?.value }

    /// The name to show in an error about `flag`: the flag or the variable it came from.
    public func origin(_ flag: String) -> String {
        guard let spec = specs.first(where: { $0.flag == flag }) else { return "--\(flag)" }
        switch values[flag]?.source {
        case .environment: return spec.environment
        default: return "--\(flag) (\(spec.environment))"
        }
    }

    /// One line per setting, secrets masked, for the start-up log.
    public var summary: [(String, String)] {
        specs.map { spec in
            guard let entry = values[spec.flag] else { return (spec.environment, "(unset)") }
            // A URL's password is masked whatever the setting (a database or NATS URL may carry one).
            let shown = spec.secret ? "****" : PGURL.mask(entry.value)
            return (spec.environment, "\(shown) [\(entry.source.rawValue)]")
        }
    }
}

/// Bad settings, one clear line each, naming the setting.
public struct SettingsError: Error, CustomStringConvertible {
    public var problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}

/// Collects problems while typed settings are read, so that all of them are reported at once.
public struct SettingsReader {
    public let settings: Settings
    public private(set) var problems: [String] = []

    public init(_ settings: Settings) { self.settings = settings }

    public mutating func string(_ flag: String) -> String? { settings.value(flag) }

    public mutating func required(_ flag: String) -> String {
        guard let value = settings.value(flag) else {
            problems.append("\(settings.origin(flag)): required")
            return ""
        }
        return value
    }

    public mutating func integer(_ flag: String, in range: ClosedRange<Int>) -> Int {
        guard let text = settings.value(flag) else { return range.lowerBound }
        guard let value = Int(text), range.contains(value) else {
            problems.append(
                "\(settings.origin(flag)): '\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)"
            )
            return range.lowerBound
        }
        return value
    }

    public mutating func oneOf(_ flag: String, _ allowed: [String]) -> String {
        let text = settings.value(flag) ?? allowed[0]
        guard allowed.contains(text) else {
            problems.append("\(settings.origin(flag)): '\(text)' is not one of \(allowed.joined(separator: ", "))")
            return allowed[0]
        }
        return text
    }

    /// A duration written `250ms`, `2s`, `1m` or `1h`.
    public mutating func duration(_ flag: String) -> Duration? {
        guard let text = settings.value(flag) else { return nil }
        guard let duration = Self.parseDuration(text) else {
            problems.append("\(settings.origin(flag)): '\(text)' is not a duration like 250ms, 2s, 1m")
            return nil
        }
        return duration
    }

    public mutating func fail(_ flag: String, _ message: String) {
        problems.append("\(settings.origin(flag)): \(message)")
    }

    /// Throws every problem found, if any.
    public func finish() throws(SettingsError) {
        if !problems.isEmpty { throw SettingsError(problems: problems) }
    }

    public static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": make sure the number part is a number.
            guard let value = Int64(number), value >= 0 else { continue }
            // Longer than nanoseconds in 64 bits can count (292 years; nats.c takes nanoseconds):
            // not a duration — one clear line at start instead of a trap later.
            let (total, overflow) = value.multipliedReportingOverflow(by: milliseconds)
            guard !overflow, total <= Int64.max / 1_000_000 else { return nil }
            return .milliseconds(total)
        }
        return nil
    }
}
