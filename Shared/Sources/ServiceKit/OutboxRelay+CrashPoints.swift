import Messaging

/// The relay's test-only crash points (`TROUPE_FAULT`, `FaultSwitch`), kept out of its publish path:
/// unarmed, this is one publish of the batch.
extension OutboxRelay {
    /// Publishes `messages`; with `mid-batch` armed, in two halves with the crash point between
    /// them, and `after-publish` passed once anything was published.
    func publishPassingCrashPoints(_ messages: [OutgoingMessage]) async -> [Result<PublishAck, NATSError>] {
        let fault = FaultSwitch.shared
        guard fault.point != nil else { return await connection.publish(messages) }
        var results: [Result<PublishAck, NATSError>]
        if fault.isArmed(.midBatch) && messages.count >= 2 {
            results = await connection.publish(Array(messages.prefix(messages.count / 2)))
            if results.allSatisfy({ (try? $0.get()) != nil }) { fault.pass(.midBatch) }
            results += await connection.publish(Array(messages.dropFirst(messages.count / 2)))
        } else {
            results = await connection.publish(messages)
        }
        if results.contains(where: { (try? $0.get()) != nil }) { fault.pass(.afterPublish) }
        return results
    }
}
