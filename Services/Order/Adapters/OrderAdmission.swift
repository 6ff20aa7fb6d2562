import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Load shedding at the door (docs/overload.md): `POST /orders` is refused with 503 `unavailable`
/// and `Retry-After` while the sagas already accepted are too many for the suite to finish soon.
///
/// The measure is the order service's own backlog: orders accepted and still `PENDING` (not yet
/// confirmed or cancelled). Every such order is work waiting somewhere in the choreography — in a
/// stream, a consumer, an outbox — so it bounds what an accepted order waits behind, whichever
/// service is the bottleneck. An order refused here has changed nothing; one accepted always
/// finishes. Orders pending for longer than `stuckAfter` are not counted: they wait for something
/// other than capacity (a dead-lettered event, a service that is down for long), and must not close
/// the door for ever.
///
/// The count is read from the projection every `interval` (an index range, on a reader: it never
/// waits for the store's writer); orders admitted since that read are added to it, so a burst
/// cannot overshoot the limit by more than the requests in flight at once.
final class OrderAdmission: Sendable {
    /// Pending orders at most; 0 turns shedding off.
    let limit: Int
    let interval: Duration
    let stuckAfter: Duration
    private let service: ServiceContext
    private let state = Mutex(State())

    private struct State {
        /// Recently placed orders still pending, at the last read.
        var counted = 0
        /// Admitted since the last read (their writes may or may not be in it yet).
        var admittedSince = 0
    }

    init(
        service: ServiceContext, limit: Int, interval: Duration = .milliseconds(100),
        stuckAfter: Duration = .seconds(300)
    ) {
        self.service = service
        self.limit = limit
        self.interval = interval
        self.stuckAfter = stuckAfter
    }

    /// Admits one new order, or throws the 503 to answer with.
    func admit() throws(APIError) {
        guard limit > 0 else { return }
        let full = state.withLock { state -> Int? in
            let backlog = state.counted + state.admittedSince
            if backlog >= limit { return backlog }
            state.admittedSince += 1
            return nil
        }
        if let backlog = full { throw refused(backlog) }
    }

    /// Counts a refusal and says why.
    private func refused(_ backlog: Int) -> APIError {
        ServiceMetrics.refused(route: "/orders")
        return APIError(
            .unavailable,
            "the suite is at capacity: \(backlog) accepted orders are still pending (limit \(limit)); "
                + "nothing was changed, retry later",
            retryAfter: 1)
    }

    /// Orders placed within `stuckAfter` and still pending.
    func count() async throws -> Int {
        let since = ULID.make("ord_", now: Date().addingTimeInterval(-stuckAfter.timeInterval)).prefix(14)
        return try await service.read { db in
            try db.value(
                Int.self, "SELECT COUNT(*) FROM orderView WHERE status = 'PENDING' AND orderId >= ?", [String(since)])
                ?? 0
        }
    }

    /// Reads the backlog anew.
    func refresh() async {
        do {
            let admittedBefore = state.withLock { $0.admittedSince }
            let counted = try await count()
            state.withLock { state in
                state.counted = counted
                // What was admitted while the read ran may not be in it.
                state.admittedSince = max(0, state.admittedSince - admittedBefore)
            }
            ServiceMetrics.pendingOrders(counted)
        } catch {
            // A store that cannot be read keeps the last figure; writes fail on their own.
            service.logger.warning(
                "admission: cannot count pending orders", metadata: [LogKey.error: "\(StorageFault.describe(error))"])
        }
    }
}

/// Keeps `OrderAdmission`'s figure fresh.
struct OrderAdmissionRefresher: Service {
    let admission: OrderAdmission

    func run() async throws {
        // A service that returns early ends the group: with no limit, only wait for the shutdown.
        guard admission.limit > 0 else { return try await gracefulShutdown() }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await admission.refresh()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: admission.interval) }
        }
    }
}
