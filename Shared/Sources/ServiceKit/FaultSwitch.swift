import Foundation
import Synchronization

/// Test-only crash points: `TROUPE_FAULT=<point>[@<n>]` makes the process kill itself with SIGKILL
/// (as abruptly as `kill -9`: no flush, no graceful shutdown) the n-th time (default: the first) it
/// passes `point`. The end-to-end tests use it to prove exactly-once effects at the worst moments;
/// unset, every check is one atomic load.
public final class FaultSwitch: Sendable {
    /// Where a service can be made to crash.
    public enum Point: String, Sendable, CaseIterable {
        /// A handler's transaction (effect, inbox row, outbox rows) is committed; the messages are not
        /// acknowledged. Counted per event applied.
        case afterCommit = "after-commit"
        /// The relay's batch is stored by the broker; its outbox rows are not deleted.
        case afterPublish = "after-publish"
        /// The relay has published the first half of a batch of at least two events, not the rest.
        case midBatch = "mid-batch"
    }

    public static let variable = "TROUPE_FAULT"
    /// The process's switch, read from the environment once.
    public static let shared: FaultSwitch = (try? FaultSwitch(ProcessInfo.processInfo.environment[variable])) ?? .off
    static let off = FaultSwitch()

    public let point: Point?
    let occurrence: Int
    private let passes = Atomic<Int>(0)

    private init() {
        point = nil
        occurrence = 0
    }

    /// Parses `<point>[@<n>]`; nil or empty is off.
    public init(_ text: String?) throws(SettingsError) {
        guard let text, !text.isEmpty else {
            point = nil
            occurrence = 0
            return
        }
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        let points = Point.allCases.map(\.rawValue).joined(separator: ", ")
        guard let point = Point(rawValue: parts[0]) else {
            throw SettingsError(problems: ["\(Self.variable): '\(text)' names no crash point (\(points))"])
        }
        var occurrence = 1
        if parts.count == 2 {
            guard let number = Int(parts[1]), number >= 1 else {
                throw SettingsError(problems: ["\(Self.variable): '\(parts[1])' is not a count of 1 or more"])
            }
            occurrence = number
        }
        self.point = point
        self.occurrence = occurrence
    }

    /// Whether `point` is the armed one (lets a caller take the path that makes the point reachable).
    public func isArmed(_ point: Point) -> Bool { self.point == point }

    /// Crashes the process if `point` is armed and this pass reaches its n-th. A pass may count
    /// several: a batch's commit passes `after-commit` once per event it applied, so
    /// `after-commit@5` crashes right after the commit that applied the fifth event.
    public func pass(_ point: Point, count: Int = 1) {
        guard self.point == point, count > 0 else { return }
        let reached = passes.add(count, ordering: .relaxed).newValue
        if reached >= occurrence && reached - count < occurrence {
            kill(getpid(), SIGKILL)
        }
    }
}
