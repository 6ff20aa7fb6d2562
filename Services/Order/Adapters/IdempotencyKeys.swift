import Foundation
import GRDB
import Logging
import Messaging
import ServiceKit
import ServiceLifecycle

/// The `Idempotency-Key`s of `POST /orders`: each with the request it came with and the order it placed.
enum IdempotencyKeys {
    static func find(_ key: String, in db: StoreSession) throws -> (requestHash: String, orderId: String)? {
        guard let row = try db.row("SELECT requestHash, orderId FROM idempotencyKey WHERE key = ?", [key]) else {
            return nil
        }
        return (row[0], row[1])
    }

    static func record(_ key: String, requestHash: String, orderId: String, in db: StoreSession) throws {
        try db.execute(
            "INSERT INTO idempotencyKey (key, requestHash, orderId, createdAt) VALUES (?, ?, ?, ?)",
            [key, requestHash, orderId, Date()])
    }
}

/// Idempotency keys are kept at least `retention` (24 h by docs/http.md), then a background sweep
/// removes them, so that the table does not grow for ever.
struct IdempotencyKeySweeper: Service {
    let service: ServiceContext
    let retention: Duration
    /// Time between sweeps.
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let cutoff = Date().addingTimeInterval(-retention.timeInterval)
            do {
                let removed = try await service.write { db in try Self.purge(olderThan: cutoff, in: db) }
                if removed > 0 {
                    service.logger.info("idempotency keys removed", metadata: ["count": "\(removed)"])
                }
            } catch {
                // A busy or full store: the keys stay until the next sweep, which is all that is lost.
                service.logger.warning(
                    "idempotency keys: sweep failed", metadata: [LogKey.error: "\(StorageFault.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Removes the keys created before `cutoff`; returns how many.
    static func purge(olderThan cutoff: Date, in db: StoreSession) throws -> Int {
        try db.execute("DELETE FROM idempotencyKey WHERE createdAt < ?", [cutoff])
    }
}
