import Testing

@testable import ServiceKit

/// The waiting room's promises: a waiter wakes at its key's next arrival, not at another key's; an
/// arrival between the mark and the wait counts (the commit that raced the registration); one
/// before the mark does not; and a wait ends after its timeout.
@Suite("Waiting room for early events", .timeLimit(.minutes(1)))
struct WaitingRoomTests {
    @Test func aWaiterWakesAtItsKeysArrivalAndNotAtAnothers() async throws {
        let room = WaitingRoom()
        let mark = room.mark()
        let waiting = Task { await room.wait(for: "order-1", after: mark, timeout: .seconds(30)) }
        while room.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        room.arrived(["order-2"])
        try await Task.sleep(for: .milliseconds(50))
        #expect(room.waiting == 1)
        let start = ContinuousClock.now
        room.arrived(["order-3", "order-1"])
        #expect(await waiting.value)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(room.waiting == 0)
    }

    @Test func anArrivalAfterTheMarkCountsEvenBeforeTheWait() async {
        let room = WaitingRoom()
        let mark = room.mark()
        room.arrived(["order-1"])
        let start = ContinuousClock.now
        #expect(await room.wait(for: "order-1", after: mark, timeout: .seconds(30)))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func anArrivalBeforeTheMarkDoesNotAndTheWaitTimesOut() async {
        let room = WaitingRoom()
        room.arrived(["order-1"])
        let mark = room.mark()
        let start = ContinuousClock.now
        #expect(await room.wait(for: "order-1", after: mark, timeout: .milliseconds(100)) == false)
        #expect(ContinuousClock.now - start >= .milliseconds(100))
        #expect(room.waiting == 0)
    }

    /// The memory of arrivals is bounded (a service commits millions of events) and keeps the newest.
    @Test func itRemembersTheNewestArrivalsAndForgetsTheOldest() async {
        let room = WaitingRoom()
        let mark = room.mark()
        room.arrived(["old"])
        let many = 3 * WaitingRoom.remembered
        room.arrived((0..<many).map { "k\($0)" })
        #expect(room.rememberedCount <= 2 * WaitingRoom.remembered)
        #expect(await room.wait(for: "k\(many - 1)", after: mark, timeout: .zero))
        #expect(await room.wait(for: "old", after: mark, timeout: .milliseconds(10)) == false)
    }
}
