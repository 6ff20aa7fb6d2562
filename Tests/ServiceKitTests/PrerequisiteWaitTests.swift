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
