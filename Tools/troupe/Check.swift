import ArgumentParser
import Contracts
import Foundation
import Messaging
import SagaCheck

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `troupe check`: the guarantees of docs/architecture.md ("Guarantees") over everything in the
/// streams and the services' APIs, on a running suite at quiescence.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the saga's guarantees over the streams and the services' APIs.",
        discussion: """
            Waits until the suite is quiescent (every consumer has nothing pending or unacknowledged), \
            reads every event of ORDERS, INVENTORY, PAYMENTS, SHIPPING and NOTIFICATIONS, every order \
            from the order service, the catalogue from inventory and the accounts that appear in \
            payment events, and names every violation. Exit status: 0 all hold, 1 violations, 2 the \
            suite did not become quiescent. Stock on hand is checked only for the SKUs given with \
            --initial-stock (what they held before the orders).
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var services: ServiceURLs
    @Option(help: "SKU=onHand,… before the orders: also check onHand = initial − committed.")
    var initialStock: String?
    @Option(help: "Seconds to wait for quiescence.")
    var wait: Int = 30

    func run() async throws {
        let initial = try parseInitialStock()
        let outcome = try await connection.withConnection { nats in
            try await GuaranteeCheck(services: services, initialStock: initial, wait: wait).run(nats)
        }
        switch outcome {
        case .notQuiescent(let busy):
            print("not quiescent after \(wait)s: \(busy.joined(separator: "; "))")
            throw ExitCode(2)
        case .checked(let violations, let orders, let events):
            if violations.isEmpty {
                print("all guarantees hold: \(orders) orders, \(events) events")
                return
            }
            for violation in violations { print(violation) }
            print("\(violations.count) violations over \(orders) orders, \(events) events")
            throw ExitCode(1)
        }
    }

    private func parseInitialStock() throws -> [String: Int64] {
        guard let initialStock else { return [:] }
        var result: [String: Int64] = [:]
        for item in initialStock.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let count = Int64(parts[1]), count >= 0 else {
                throw ValidationError("--initial-stock: '\(item)' is not SKU=onHand")
            }
            result[String(parts[0])] = count
        }
        return result
    }

}

/// The base URLs of the services whose APIs the tool reads (`make up`'s ports by default).
struct ServiceURLs: ParsableArguments {
    @Option(help: "The order service's base URL.")
    var orderURL = "http://127.0.0.1:8081"
    @Option(help: "The inventory service's base URL.")
    var inventoryURL = "http://127.0.0.1:8082"
    @Option(help: "The payment service's base URL.")
    var paymentURL = "http://127.0.0.1:8083"
    @Option(help: "The shipping service's base URL (its metrics, for the bench).")
    var shippingURL = "http://127.0.0.1:8084"
    @Option(help: "The notification service's base URL (its metrics, for the bench).")
    var notificationURL = "http://127.0.0.1:8085"

    var all: [String] { [orderURL, inventoryURL, paymentURL, shippingURL, notificationURL] }
}

/// What `troupe check` does, for `troupe bench` too: wait for quiescence, then SagaCheck over
/// every event and the APIs.
struct GuaranteeCheck {
    enum Outcome {
        case notQuiescent([String])
        case checked(violations: [String], orders: Int, events: Int)
    }

    var services: ServiceURLs
    var initialStock: [String: Int64] = [:]
    /// Seconds to wait for quiescence.
    var wait: Int

    func run(_ nats: NATSConnection) async throws -> Outcome {
        let initial = initialStock
        let orderURL = services.orderURL
        let inventoryURL = services.inventoryURL
        let paymentURL = services.paymentURL
        if let busy = try await waitForQuiescence(nats) { return .notQuiescent(busy) }
        let decoder = EventDecoder()
        var events: [AnyEvent] = []
        var undecodable: [String] = []
        for stream in StreamDefinition.all where stream.name != DeadLetter.stream {
            let messages: [JetStreamMessage]
            do {
                messages = try await nats.readStream(stream.name, logger: toolLogger())
            } catch {
                if error.isNotFound { continue }
                throw CLIError("reading \(stream.name): \(error)")
            }
            for message in messages {
                do {
                    events.append(try decoder.decode(message.payload))
                } catch {
                    let sequence = message.metadata.streamSequence
                    undecodable.append("\(stream.name) #\(sequence) \(message.subject): \(error)")
                }
            }
        }
        let api = API()
        // Every order's status, a page of 200 at a time.
        var statuses: [String: String] = [:]
        for order in try await api.pages(orderURL, "/orders", key: "orders") {
            if let id = order["orderId"] as? String { statuses[id] = order["status"] as? String ?? "?" }
        }
        var orders: [SagaCheck.OrderOutcome] = []
        for case .orderPlaced(let placed) in events {
            orders.append(.init(orderId: placed.data.orderId, status: statuses[placed.data.orderId] ?? "missing"))
        }
        var stock: [SagaCheck.Stock] = []
        for item in try await api.pages(inventoryURL, "/stock", key: "items") {
            guard let sku = item["sku"] as? String, let onHand = (item["onHand"] as? NSNumber)?.int64Value,
                let reserved = (item["reserved"] as? NSNumber)?.int64Value
            else { throw CLIError("inventory answered a product without sku, onHand, reserved: \(item)") }
            stock.append(.init(sku: sku, initialOnHand: initial[sku], onHand: onHand, reserved: reserved))
        }
        var customers = Set<String>()
        for event in events {
            switch event {
            case .paymentAuthorized(let e): customers.insert(e.data.customerId)
            case .paymentDeclined(let e): customers.insert(e.data.customerId)
            default: break
            }
        }
        var accounts: [SagaCheck.Account] = []
        for customer in customers.sorted() {
            guard let account = try await api.get(paymentURL, "/accounts/\(customer)") else { continue }
            accounts.append(
                .init(
                    customerId: customer, authorized: (account["authorized"] as? NSNumber)?.int64Value ?? -1,
                    captured: (account["captured"] as? NSNumber)?.int64Value ?? -1))
        }
        var violations = SagaCheck(
            events: events, undecodable: undecodable, orders: orders, stock: stock, accounts: accounts
        ).violations()
        for sku in initial.keys.sorted() where !stock.contains(where: { $0.sku == sku }) {
            violations.append("guarantee 4: \(sku) (--initial-stock) is not in the catalogue")
        }
        return .checked(violations: violations, orders: orders.count, events: events.count)
    }

    /// Nil once every consumer has nothing pending or unacknowledged and the streams stopped
    /// growing for a second; else, after `wait`, what is still busy.
    private func waitForQuiescence(_ nats: NATSConnection) async throws -> [String]? {
        let deadline = ContinuousClock.now + .seconds(wait)
        var lastCounts: [UInt64] = []
        var stableSince = ContinuousClock.now
        while true {
            var busy: [String] = []
            var counts: [UInt64] = []
            for stream in StreamDefinition.all {
                do {
                    counts.append(try await nats.streamState(stream.name).messages)
                    for consumer in try await nats.consumers(of: stream.name)
                    where (consumer.state.pending > 0 || consumer.state.ackPending > 0)
                        && !consumer.name.hasPrefix(toolConsumerPrefix)
                    {
                        busy.append(
                            "\(consumer.name) has \(consumer.state.pending) pending, \(consumer.state.ackPending) unacknowledged"
                        )
                    }
                } catch {
                    if !error.isNotFound { throw CLIError("reading \(stream.name): \(error)") }
                    counts.append(0)
                }
            }
            if counts != lastCounts || !busy.isEmpty {
                lastCounts = counts
                stableSince = ContinuousClock.now
            } else if ContinuousClock.now - stableSince >= .seconds(1) {
                return nil
            }
            if ContinuousClock.now >= deadline { return busy.isEmpty ? ["the streams are still growing"] : busy }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// The services' public GET endpoints, as JSON objects.
struct API {
    /// The object at `base + path`; nil for 404.
    func get(_ base: String, _ path: String) async throws -> [String: Any]? {
        guard let url = URL(string: base + path) else { throw CLIError("bad URL \(base + path)") }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: URLRequest(url: url, timeoutInterval: 10))
        } catch {
            throw CLIError("GET \(url): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if status == 404 { return nil }
        guard status == 200, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIError("GET \(url): \(status) \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return object
    }

    /// Every item of a paged list (`?limit=200&after=<next>`).
    func pages(_ base: String, _ path: String, key: String) async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var after: String?
        repeat {
            let cursor = after.map { "&after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" }
            guard let page = try await get(base, "\(path)?limit=200\(cursor ?? "")") else {
                throw CLIError("GET \(base)\(path): 404")
            }
            items += page[key] as? [[String: Any]] ?? []
            after = page["next"] as? String
        } while after != nil
        return items
    }
}
