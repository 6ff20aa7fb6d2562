import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Deliveries the services got again, from each service's `/metrics` (docs/operations.md,
/// "Observability"). A service hands an event back on purpose when it waits for an earlier one
/// (`outcome="nak"`: the saga's streams are not ordered with each other) or after a transient
/// failure (`outcome="retry"`); every other redelivery is an event whose ack wait ran out while it
/// waited — under overload, the sign of a collapse (work done twice while new work waits) — or,
/// rarely, one a stopping instance handed back unhandled.
struct Redeliveries: Codable, Sendable, Equatable {
    /// Every delivery after an event's first (`troupe_redeliveries_total`).
    var total: Int
    /// Events the services handed back themselves (`troupe_events_consumed_total`, outcome `nak` or `retry`).
    var handedBack: Int

    /// Redeliveries not explained by a hand-back: an ack wait ran out.
    var afterAckWait: Int { max(0, total - handedBack) }

    static func - (lhs: Self, rhs: Self) -> Self {
        Self(total: max(0, lhs.total - rhs.total), handedBack: max(0, lhs.handedBack - rhs.handedBack))
    }

    var text: String {
        "\(total) (\(handedBack) handed back to wait for an earlier event or after a failure, \(afterAckWait) after an ack wait)"
    }

    /// The sums over `baseURLs`; nil when a service's metrics cannot be read (then the report says "-").
    static func read(_ baseURLs: [String]) async -> Self? {
        var sum = Self(total: 0, handedBack: 0)
        for base in baseURLs {
            guard let url = URL(string: base + "/metrics"),
                let (data, response) = try? await URLSession.shared.data(for: URLRequest(url: url, timeoutInterval: 5)),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { return nil }
            let counts = Self(exposition: String(decoding: data, as: UTF8.self))
            sum.total += counts.total
            sum.handedBack += counts.handedBack
        }
        return sum
    }

    init(total: Int, handedBack: Int) {
        self.total = total
        self.handedBack = handedBack
    }

    /// The samples of one Prometheus text exposition.
    init(exposition: String) {
        var total = 0.0
        var handedBack = 0.0
        for line in exposition.split(separator: "\n") {
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            if line.hasPrefix("troupe_redeliveries_total") {
                total += value
            } else if line.hasPrefix("troupe_events_consumed_total"),
                line.contains("outcome=\"nak\"") || line.contains("outcome=\"retry\"")
            {
                handedBack += value
            }
        }
        self.init(total: Int(total), handedBack: Int(handedBack))
    }
}
