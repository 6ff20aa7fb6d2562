import Foundation
import Synchronization
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A bounded load of mixed orders, placed the way a careful client does: each with its own
/// Idempotency-Key, retried while the order service is down or restarting, so that an order is
/// either accepted exactly once or (after `giveUpAfter`) not at all.
extension Cluster {
    /// The outcome each load order is built to reach (before any cancellation).
    enum Mix: CaseIterable {
        case shipped, outOfStock, declined, undeliverable, cancelledByCustomer

        /// 70% shipped, 10% asked to cancel, 5% each of the three failures.
        static func of(_ index: Int) -> Mix {
            switch index % 20 {
            case 3: .outOfStock
            case 8: .declined
            case 13: .undeliverable
            case 5, 15: .cancelledByCustomer
            default: .shipped
            }
        }
    }

    /// Every order of `ids` that `placeLoad` placed, whose final state is not what it was built
    /// to become: a fault may delay an order, never change its outcome.
    func outcomesAgainstPlan(_ ids: [String]) async throws -> [String] {
        let plans = planned.withLock { $0 }
        var wrong: [String] = []
        for id in ids {
            guard let plan = plans[id] else { continue }
            let order = try await self.order(id)
            let status = order["status"] as? String ?? "?"
            let reason = order["cancellationReason"] as? String
            let expected: [(String, String?)] =
                switch plan {
                case .shipped: [("SHIPPED", nil)]
                case .outOfStock: [("CANCELLED", "out_of_stock")]
                case .declined: [("CANCELLED", "payment_declined")]
                case .undeliverable: [("CANCELLED", "shipping_unavailable")]
                // The request races the dispatch: cancelled at the customer's request, or shipped.
                case .cancelledByCustomer: [("CANCELLED", "customer_request"), ("SHIPPED", nil)]
                }
            if !expected.contains(where: { $0.0 == status && $0.1 == reason }) {
                wrong.append("\(id), planned \(plan): \(status) \(reason ?? "")")
            }
        }
        return wrong
    }

    /// Places `count` orders, one every `interval`; returns the ids of those accepted.
    func placeLoad(count: Int, interval: Duration = .milliseconds(100), giveUpAfter: TimeInterval = 60) async
        -> [String]
    {
        let run = UUID().uuidString.prefix(8)
        return await withTaskGroup(of: String?.self) { group in
            for index in 0..<count {
                group.addTask {
                    await self.placeRetrying(index: index, key: "load-\(run)-\(index)", giveUpAfter: giveUpAfter)
                }
                try? await Task.sleep(for: interval)
            }
            var ids: [String] = []
            for await id in group { if let id { ids.append(id) } }
            return ids
        }
    }

    private func placeRetrying(index: Int, key: String, giveUpAfter: TimeInterval) async -> String? {
        let mix = Mix.of(index)
        let (customer, lines, country): (String, [(String, Int)], String) =
            switch mix {
            case .shipped, .cancelledByCustomer: ("cus_rich", [("SKU-MUG", 1)], "GB")
            case .outOfStock: ("cus_rich", [("SKU-RARE", 2)], "GB")
            case .declined: ("cus_poor", [("SKU-TEAPOT", 1)], "GB")
            case .undeliverable: ("cus_rich", [("SKU-MUG", 1)], "BR")
            }
        let deadline = Date().addingTimeInterval(giveUpAfter)
        while Date() < deadline {
            if let (status, body) = try? await placeOrder(
                customer: customer, lines: lines, country: country, idempotencyKey: key),
                status == 202 || status == 200, let id = body["orderId"] as? String
            {
                planned.withLock { $0[id] = mix }
                if mix == .cancelledByCustomer { await requestCancellation(id, until: deadline) }
                return id
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    private func requestCancellation(_ id: String, until deadline: Date) async {
        while Date() < deadline {
            if let (status, _) = try? await HTTP.request("POST", url("order", "/orders/\(id)/cancel")),
                [202, 409].contains(status)
            {
                return
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
