import Foundation
import Logging
import Testing

@testable import NotificationService

/// Issue 10.9: the file channel never loses or interleaves a line, and one order's notifications
/// go out in the order of their events.
@Suite("Notification file channel and order")
struct NotificationChannelTests {
    @Test func concurrentNotificationsEachWriteOneWholeLine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-notify-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let channels = Channels(file: path, webhook: nil, webhookSecret: nil, logger: logger)
        // Something else appends to the file too (an operator's `echo >>`): nothing is overwritten.
        let other = AppendOnlyFile(path: path)
        let count = 400
        let padding = String(repeating: "x", count: 3000)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    let failures = await channels.deliver(["orderId": "ord_\(index)", "padding": padding])
                    #expect(failures.isEmpty, "\(failures)")
                }
                if index % 40 == 0 { group.addTask { try? other.append(Data("{\"marker\":\"\(index)\"}".utf8)) } }
            }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == count + count / 40)
        var orders = Set<String>()
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            if let order = object["orderId"] { orders.insert(order) }
        }
        #expect(orders.count == count)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }

    @Test func aFileThatCannotBeOpenedIsAFailureOfThatChannelOnly() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let channels = Channels(file: "/nonexistent-dir/notify.jsonl", webhook: nil, webhookSecret: nil, logger: logger)
        let failures = await channels.deliver(["orderId": "ord_1"])
        #expect(failures.keys.sorted() == ["file"])
        #expect(failures["file"]?.contains("cannot open /nonexistent-dir/notify.jsonl") == true)
    }

    @Test func oneOrdersNotificationsAreSentInTheOrderOfTheirEvents() {
        #expect(NotificationHandlers.sendingPlan([]) == [])
        #expect(NotificationHandlers.sendingPlan([nil, nil]) == [])
        #expect(
            NotificationHandlers.sendingPlan(["a", "b", nil, "a", "c", "b", "a"]) == [[0, 3, 6], [1, 5], [4]])
    }
}
