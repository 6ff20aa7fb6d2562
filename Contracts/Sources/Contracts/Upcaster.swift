import Foundation

/// Turns an event of an older major version into the next one, so that a reader deployed after a
/// producer (or before it) keeps working during a rolling deployment (docs/events.md, "Versioning and
/// upcasting").
///
/// It works on the JSON object of the whole event: it must set the new `type` and `dataschema`
/// and reshape `data`. The decoder chains upcasters until it reaches a type it knows.
public struct Upcaster: Sendable {
    /// The type it reads, for example `troupe.order.placed.v1` when v2 is current.
    public let from: String
    /// The type it produces.
    public let to: String
    let transform: @Sendable ([String: Any]) throws -> [String: Any]

    public init(from: String, to: String, transform: @escaping @Sendable ([String: Any]) throws -> [String: Any]) {
        self.from = from
        self.to = to
        self.transform = transform
    }

    /// The upcasters of the current catalogue: none yet, every event is at v1.
    public static let all: [Upcaster] = []
}
