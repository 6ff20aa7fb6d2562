import Contracts
import ServiceTestSupport
import Testing

@testable import NotificationService

@Suite("Notification decisions")
struct NotificationDecisionTests {
    @Test func oneNotificationPerOrderEventAndTemplate() throws {
        let request = try #require(NotificationDecisions.request(for: AnyEvent(Fixture.cancelled())))
        #expect(request.template == .orderCancelled)
        #expect(NotificationDecisions.request(for: AnyEvent(Fixture.placed())) == nil)
        let sent = NotificationDecisions.outcome(
            request, notificationId: "ntf_01JD8Z7Q1R2S3T4V5W6X7Y8Z9A", channels: ["log", "file"], failures: [:],
            cause: Fixture.cancelled(), sentAt: "2026-11-22T11:32:38.200Z")
        #expect(sent.type == NotificationSent.type)
        let failed = NotificationDecisions.outcome(
            request, notificationId: "ntf_01JD8Z7Q1R2S3T4V5W6X7Y8Z9A", channels: ["log", "webhook"],
            failures: ["webhook": "503"], cause: Fixture.cancelled(), sentAt: "2026-11-22T11:32:38.200Z")
        guard case .notificationFailed(let event) = failed else {
            Issue.record("expected notification.failed")
            return
        }
        #expect(event.data.channels == ["webhook"])
        #expect(event.data.error == "webhook: 503")
    }
}
