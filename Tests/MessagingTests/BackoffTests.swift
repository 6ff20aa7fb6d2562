import Messaging
import Testing

@Suite("Backoff: the one retry policy")
struct BackoffTests {
    @Test func doublesUpToItsCeilingAndStartsOverAfterASuccess() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(700))
        #expect((0..<5).map { _ in backoff.next() } == [100, 200, 400, 700, 700].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
        #expect(backoff.current == .milliseconds(200))
    }

    @Test func theDefaultIsTwoHundredMillisecondsToFiveSeconds() {
        var backoff = Backoff()
        let waits = (0..<7).map { _ in backoff.next() }
        #expect(waits.first == .milliseconds(200))
        #expect(waits.last == .seconds(5))
        #expect(zip(waits, waits.dropFirst()).allSatisfy { $0 <= $1 })
    }
}
