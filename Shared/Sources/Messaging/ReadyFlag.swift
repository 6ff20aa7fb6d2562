import Synchronization

/// A yes/no that one part of a service sets and readiness reads (a consumer bound, streams
/// ensured): one type for every such flag.
public final class ReadyFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public var value: Bool { flag.load(ordering: .acquiring) }

    public func set(_ value: Bool) { flag.store(value, ordering: .releasing) }
}
