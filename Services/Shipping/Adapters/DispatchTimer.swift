import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle

/// Fires the dispatch timers: every shipment whose time has come is dispatched (durable: the due
/// time is in the store, so a restart loses no timer).
struct DispatchTimer: Service {
    let handlers: ShippingHandlers
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let due = try await handlers.service.read { db in
                    try ShippingStore.due(now: Date(), limit: 256, in: db)
                }
                if !due.isEmpty { _ = try await handlers.dispatch(due) }
                if due.count == 256 { continue }
            } catch {
                logger.warning("dispatch timer failed; retrying", metadata: [LogKey.error: "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
