import Testing

@testable import ServiceKit

/// An out-of-order event is dead-lettered only after it has itself waited the timeout in back-off,
/// not merely because it is old: after a downtime longer than the timeout, its prerequisite may be
/// in another stream's backlog, about to be applied.
@Suite("Prerequisite wait")
struct PrerequisiteWaitTests {
    @Test func theBackOffGrowsToFiveSecondsAndAddsUp() {
        #expect(EventConsumer<Int>.retryDelay(deliveries: 1) == .milliseconds(20))
        #expect(EventConsumer<Int>.retryDelay(deliveries: 4) == .milliseconds(160))
        #expect(EventConsumer<Int>.retryDelay(deliveries: 9) == .milliseconds(5000))
        #expect(EventConsumer<Int>.retryDelay(deliveries: 20) == .seconds(5))
        #expect(EventConsumer<Int>.waited(deliveries: 1) == .zero)
        #expect(EventConsumer<Int>.waited(deliveries: 5) == .milliseconds(300))
    }

    @Test func anOldEventAtItsFirstDeliveryHasNotWaitedAtAll() {
        // A message stored two minutes ago but delivered for the first time (the service was down)
        // has waited nothing: with a 60 s timeout it is asked for again, not dead-lettered.
        #expect(EventConsumer<Int>.waited(deliveries: 1) < .seconds(60))
        // Twenty deliveries with the back-off between them have waited more than 60 s.
        #expect(EventConsumer<Int>.waited(deliveries: 19) < .seconds(60))
        #expect(EventConsumer<Int>.waited(deliveries: 20) >= .seconds(60))
    }

    /// The dead-letter rule itself: old *and* waited. Each half alone keeps the event waiting.
    @Test func anEventIsDeadLetteredOnlyWhenOldAndHavingWaitedTheTimeout() {
        let rule = Settler.hasWaitedLongEnough
        let timeout = Duration.seconds(60)
        // Stored long ago (a downtime), first delivery: waits.
        #expect(!rule(.seconds(3600), 1, timeout))
        // Stored long ago, 19 deliveries (55.1 s of back-off): still waits.
        #expect(!rule(.seconds(3600), 19, timeout))
        // Many deliveries but young (a claimed count, or a short timeout's arithmetic): waits.
        #expect(!rule(.seconds(30), 40, timeout))
        // Exactly at the timeout is not past it.
        #expect(!rule(.seconds(60), 40, timeout))
        // Old and waited: dead-lettered.
        #expect(rule(.seconds(61), 20, timeout))
        #expect(rule(.seconds(3600), 40, timeout))
        // A short timeout (tests use seconds) follows the same rule.
        #expect(rule(.seconds(3), 8, .seconds(2)))
        #expect(!rule(.seconds(3), 2, .seconds(2)))
    }

    /// Issue 10.3: the delivery count comes from the message's reply subject; whatever it claims,
    /// the wait is computed at once (it used to be a loop over every earlier delivery).
    @Test func theWaitOfAnyDeliveryCountIsComputedAtOnceAndMatchesTheSumOfItsDelays() {
        for deliveries in 1...40 {
            let summed = (1..<max(deliveries, 1)).reduce(Duration.zero) {
                $0 + EventConsumer<Int>.retryDelay(deliveries: $1)
            }
            #expect(EventConsumer<Int>.waited(deliveries: deliveries) == summed, "\(deliveries)")
        }
        let started = ContinuousClock.now
        #expect(EventConsumer<Int>.waited(deliveries: Int.max) >= .seconds(60))
        #expect(ContinuousClock.now - started < .milliseconds(100))
    }
}
