import Contracts
import Foundation
import Messaging
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What the fault tests need besides the saga: raw publishing, the dead-letter stream, the
/// `troupe` tool, crashes and restarts.
extension Cluster {
    /// Publishes raw messages as the operator (for malformed or duplicated events).
    func publish(_ messages: [OutgoingMessage]) async throws {
        let connection = try await nats.connect(name: "e2e-publisher")
        do {
            for message in messages { _ = try await connection.publish(message) }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// Every message of `DEADLETTER`.
    func deadLetters() async throws -> [StoredMessage] {
        let connection = try await nats.connect(name: "e2e-dlq")
        do {
            let messages = try await connection.storedMessages(stream: DeadLetter.stream)
            await connection.close()
            return messages
        } catch {
            // A read that fails is not an empty dead-letter stream.
            await connection.close()
            throw error
        }
    }

    /// The sum of a Prometheus counter of `service` over the series whose labels contain every
    /// one of `labels` (`outcome="retry"`), as `/metrics` reports it now.
    func metric(_ service: String, _ name: String, labels: [String] = []) async throws -> Double {
        let (data, _) = try await URLSession.shared.data(from: url(service, "/metrics"))
        var total = 0.0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            guard labels.allSatisfy({ line.contains($0) }),
                let value = line.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            total += value
        }
        return total
    }

    /// Waits until `DEADLETTER` holds dead letters (not replays) matching `predicate`, `count` of them at least.
    @discardableResult
    func waitForDeadLetters(
        count: Int, timeout: TimeInterval = 20, where predicate: @escaping (StoredMessage) -> Bool = { _ in true }
    ) async throws -> [StoredMessage] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let found = try await deadLetters().filter {
                DeadLetter.parse(subject: $0.subject) != nil && predicate($0)
            }
            if found.count >= count { return found }
            guard Date() < deadline else {
                throw TestSupportError("\(found.count) matching dead letters, waited for \(count)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs the `troupe` tool against this cluster's NATS server.
    func troupe(_ arguments: [String]) async throws -> ProcessRunner.Output {
        let executable = ProcessRunner.productsDirectory().appendingPathComponent("troupe")
        return try await ProcessRunner.run(executable, arguments + ["--nats-url", nats.url], timeout: .seconds(60))
    }

    /// Waits for a service to end on its own (a crash point fired); throws if it is still running.
    func waitForExit(_ service: String, timeout: TimeInterval = 30) async throws -> Int32 {
        guard let process = process(service) else { throw TestSupportError("\(service)-service is not started") }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                // Where the events the crash waits for are (a consumer that stopped pulling shows here).
                throw TestSupportError(
                    "\(service)-service did not exit within \(Int(timeout)) s; where events wait:\n\(await whereThingsWait())"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        forget(service)
        return process.terminationStatus
    }

    /// Stops one service off Swift concurrency's threads: SIGTERM (graceful) or SIGKILL (a crash).
    func stopServiceAsync(_ service: String, signal: Int32 = SIGTERM) async throws {
        try await Blocking.run { self.stopService(service, signal: signal) }
    }

    /// Waits until one service answers 200 on `/health/ready`.
    func waitUntilReady(_ service: String, timeout: TimeInterval = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let (status, _) = try? await HTTP.request("GET", url(service, "/health/ready")), status == 200 { return }
            if let process = process(service), !process.isRunning {
                throw TestSupportError("\(service)-service exited: \(log(service).suffix(2000))")
            }
            guard Date() < deadline else {
                throw TestSupportError("\(service)-service not ready: \(log(service).suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until every order in `ids` is SHIPPED or CANCELLED; throws naming those that are not.
    func waitForAllFinal(_ ids: [String], timeout: TimeInterval = 120) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var open = ids
        while !open.isEmpty {
            var still: [String] = []
            for id in open {
                let status = (try? await order(id))?["status"] as? String
                if status != "SHIPPED" && status != "CANCELLED" { still.append(id) }
            }
            open = still
            if open.isEmpty { return }
            guard Date() < deadline else {
                var details: [String] = []
                for id in open.prefix(3) {
                    let status = (try? await order(id))?["status"] as? String ?? "?"
                    let history = (try? await HTTP.request("GET", url("order", "/orders/\(id)/events")))?.1
                    let types = (history?["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
                    details.append("\(id) \(status): \(types.joined(separator: ", "))")
                }
                throw TestSupportError(
                    "\(open.count) orders not final:\n\(details.joined(separator: "\n"))\n\(await whereThingsWait())")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// The NATS message that a producer would publish for `event`.
func outgoing<P: EventPayload>(_ event: CloudEvent<P>, messageId: String? = nil) throws -> OutgoingMessage {
    OutgoingMessage(
        subject: event.natsSubject, payload: Array(try event.encoded()),
        headers: ["Content-Type": "application/cloudevents+json"], messageId: messageId ?? event.id)
}
