internal import CNATS

extension NATSConnection {
    /// Makes sure the durable consumer exists on `stream` as configured: creates it when missing,
    /// updates what can change in place (ack wait, max deliver, back-off, max ack pending,
    /// description), and throws `configurationConflict` naming the field otherwise (filter subject,
    /// deliver policy, acknowledgement policy). A consumer that `replaces` another starts, when
    /// created, after the other's acknowledgement floor; the other is then deleted.
    @discardableResult
    public func ensureConsumer(stream: String, _ wanted: ConsumerConfiguration) async throws(NATSError)
        -> ConsumerEnsureOutcome
    {
        if let maxDeliver = wanted.maxDeliver, maxDeliver <= wanted.backoff.count {
            throw NATSError(
                code: .invalidConfiguration,
                message:
                    "consumer \(wanted.durable): maxDeliver (\(maxDeliver)) must exceed the back-off steps (\(wanted.backoff.count))"
            )
        }
        return try await BlockingCalls.run { () throws(NATSError) -> ConsumerEnsureOutcome in
            let js = self.js
            var info: UnsafeMutablePointer<jsConsumerInfo>?
            var apiError = jsErrCode(rawValue: 0)
            let status = js_GetConsumerInfo(&info, js, stream, wanted.durable, nil, &apiError)
            defer { if let info { jsConsumerInfo_Destroy(info) } }
            if status == NATS_NOT_FOUND {
                let start = try wanted.replaces.flatMap { (old) throws(NATSError) in
                    try ackFloor(js, stream: stream, durable: old).map { $0 + 1 }
                }
                try withConsumerConfig(wanted, startSequence: start) { (config) throws(NATSError) in
                    var created: UnsafeMutablePointer<jsConsumerInfo>?
                    try check(
                        js_AddConsumer(&created, js, stream, config, nil, &apiError), apiError,
                        "creating consumer \(wanted.durable) on \(stream)")
                    jsConsumerInfo_Destroy(created)
                }
                try deleteReplaced(js, stream: stream, wanted)
                return .created
            }
            try check(status, apiError, "reading consumer \(wanted.durable) on \(stream)")
            guard let existing = info?.pointee.Config?.pointee else {
                throw NATSError(code: .status, message: "consumer \(wanted.durable) has no configuration")
            }
            let changed = try differences(existing: existing, wanted: wanted)
            // (A crash between creating this one and deleting the one it replaces.)
            try deleteReplaced(js, stream: stream, wanted)
            guard !changed.isEmpty else { return .unchanged }
            // The start an existing consumer was given stays (the server changes no deliver policy).
            let start = existing.DeliverPolicy == js_DeliverByStartSequence ? existing.OptStartSeq : nil
            try withConsumerConfig(wanted, startSequence: start) { (config) throws(NATSError) in
                var updated: UnsafeMutablePointer<jsConsumerInfo>?
                try check(
                    js_UpdateConsumer(&updated, js, stream, config, nil, &apiError), apiError,
                    "updating consumer \(wanted.durable) on \(stream) (\(changed.joined(separator: ", ")))")
                jsConsumerInfo_Destroy(updated)
            }
            return .updated(fields: changed)
        }
    }

    /// The consumer's counters.
    public func consumerState(stream: String, durable: String) async throws(NATSError) -> ConsumerState {
        return try await BlockingCalls.run { () throws(NATSError) -> ConsumerState in
            let js = self.js
            var info: UnsafeMutablePointer<jsConsumerInfo>?
            var apiError = jsErrCode(rawValue: 0)
            try check(
                js_GetConsumerInfo(&info, js, stream, durable, nil, &apiError), apiError,
                "reading consumer \(durable) on \(stream)")
            defer { jsConsumerInfo_Destroy(info) }
            return ConsumerState(info!.pointee)
        }
    }

    /// Deletes a durable consumer (a tool's own, when it is done); no error when it is already gone.
    public func deleteConsumer(stream: String, durable: String) async throws(NATSError) {
        try await BlockingCalls.run { () throws(NATSError) in
            try deleteConsumerIfThere(
                self.js, stream: stream, durable: durable, "deleting consumer \(durable) on \(stream)")
        }
    }

    /// Every consumer of `stream` with its filter and counters, sorted by name.
    public func consumers(of stream: String) async throws(NATSError) -> [ConsumerListing] {
        return try await BlockingCalls.run { () throws(NATSError) -> [ConsumerListing] in
            let js = self.js
            var list: UnsafeMutablePointer<jsConsumerInfoList>?
            var apiError = jsErrCode(rawValue: 0)
            let status = js_Consumers(&list, js, stream, nil, &apiError)
            // nats.c answers NOT_FOUND for an empty list too; only an API error means no such stream.
            if status == NATS_NOT_FOUND && apiError.rawValue == 0 { return [] }
            try check(status, apiError, "listing the consumers of \(stream)")
            defer { jsConsumerInfoList_Destroy(list) }
            guard let list = list?.pointee, let items = list.List else { return [] }
            return (0..<Int(list.Count)).compactMap { index -> ConsumerListing? in
                guard let info = items[index]?.pointee else { return nil }
                return ConsumerListing(
                    name: info.Name.map { String(cString: $0) } ?? "?",
                    filterSubject: info.Config?.pointee.FilterSubject.map { String(cString: $0) },
                    state: ConsumerState(info))
            }.sorted { $0.name < $1.name }
        }
    }
}

/// The acknowledgement floor (stream sequence) of `durable`, or nil when there is no such consumer.
private func ackFloor(_ js: OpaquePointer?, stream: String, durable: String) throws(NATSError) -> UInt64? {
    var info: UnsafeMutablePointer<jsConsumerInfo>?
    var apiError = jsErrCode(rawValue: 0)
    let status = js_GetConsumerInfo(&info, js, stream, durable, nil, &apiError)
    defer { if let info { jsConsumerInfo_Destroy(info) } }
    if status == NATS_NOT_FOUND { return nil }
    try check(status, apiError, "reading consumer \(durable) on \(stream)")
    return info?.pointee.AckFloor.Stream
}

/// Deletes the consumer `wanted` replaces, if it is still there.
private func deleteReplaced(_ js: OpaquePointer?, stream: String, _ wanted: ConsumerConfiguration) throws(NATSError) {
    guard let old = wanted.replaces else { return }
    try deleteConsumerIfThere(
        js, stream: stream, durable: old, "deleting consumer \(old) on \(stream), which \(wanted.durable) replaces")
}

/// Deletes a durable consumer (blocking); no error when it is already gone.
private func deleteConsumerIfThere(_ js: OpaquePointer?, stream: String, durable: String, _ context: String)
    throws(NATSError)
{
    var apiError = jsErrCode(rawValue: 0)
    let status = js_DeleteConsumer(js, stream, durable, nil, &apiError)
    if status == NATS_NOT_FOUND { return }
    try check(status, apiError, context)
}

extension ConsumerState {
    init(_ info: jsConsumerInfo) {
        self.init(
            pending: info.NumPending, ackPending: info.NumAckPending, redelivered: info.NumRedelivered,
            waiting: info.NumWaiting, ackFloorStreamSequence: info.AckFloor.Stream)
    }
}

private func differences(existing: jsConsumerConfig, wanted: ConsumerConfiguration) throws(NATSError) -> [String] {
    func conflict(_ field: String, _ server: String, _ asked: String) -> NATSError {
        NATSError(
            code: .configurationConflict,
            message:
                "consumer \(wanted.durable): \(field) is \(server) on the server but \(asked) is wanted; it cannot be changed in place"
        )
    }
    let filter = existing.FilterSubject.map { String(cString: $0) } ?? ""
    if filter != (wanted.filterSubject ?? "") {
        throw conflict("filterSubject", "'\(filter)'", "'\(wanted.filterSubject ?? "")'")
    }
    if existing.AckPolicy != js_AckExplicit { throw conflict("ackPolicy", "not explicit", "explicit") }
    // A consumer created to replace another started at a sequence: from there on it has every message.
    let deliver: ConsumerConfiguration.DeliverPolicy = existing.DeliverPolicy == js_DeliverNew ? .new : .all
    if deliver != wanted.deliverPolicy {
        throw conflict("deliverPolicy", deliver.rawValue, wanted.deliverPolicy.rawValue)
    }
    var changed: [String] = []
    if existing.AckWait != wanted.effectiveAckWait.nanoseconds { changed.append("ackWait") }
    if existing.MaxDeliver != Int64(wanted.maxDeliver ?? -1) { changed.append("maxDeliver") }
    let backoff = (0..<Int(existing.BackOffLen)).map { existing.BackOff[$0] }
    if backoff != wanted.backoff.map(\.nanoseconds) { changed.append("backoff") }
    if existing.MaxAckPending != Int64(wanted.maxAckPending) { changed.append("maxAckPending") }
    let description = existing.Description.map { String(cString: $0) } ?? ""
    if description != (wanted.description ?? "") { changed.append("description") }
    return changed
}

private func withConsumerConfig<R>(
    _ wanted: ConsumerConfiguration, startSequence: UInt64? = nil,
    _ body: (UnsafeMutablePointer<jsConsumerConfig>) throws(NATSError) -> R
) throws(NATSError) -> R {
    var config = jsConsumerConfig()
    try check(jsConsumerConfig_Init(&config), "jsConsumerConfig_Init")
    config.AckPolicy = js_AckExplicit
    config.DeliverPolicy = wanted.deliverPolicy == .new ? js_DeliverNew : js_DeliverAll
    if let startSequence {
        config.DeliverPolicy = js_DeliverByStartSequence
        config.OptStartSeq = startSequence
    }
    config.AckWait = wanted.effectiveAckWait.nanoseconds
    config.MaxDeliver = Int64(wanted.maxDeliver ?? -1)
    config.MaxAckPending = Int64(wanted.maxAckPending)
    config.InactiveThreshold = wanted.inactiveThreshold?.nanoseconds ?? 0
    var backoff = wanted.backoff.map(\.nanoseconds)
    return try natsErrors {
        try backoff.withUnsafeMutableBufferPointer { (steps) throws -> R in
            config.BackOff = steps.isEmpty ? nil : steps.baseAddress
            config.BackOffLen = Int32(steps.count)
            return try wanted.durable.withCString { (durable) throws -> R in
                config.Durable = durable
                return try (wanted.filterSubject ?? "").withCString { (filter) throws -> R in
                    config.FilterSubject = wanted.filterSubject == nil ? nil : filter
                    return try (wanted.description ?? "").withCString { (description) throws -> R in
                        config.Description = wanted.description == nil ? nil : description
                        return try body(&config)
                    }
                }
            }
        }
    }
}
