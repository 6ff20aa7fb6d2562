internal import CNATS

extension NATSConnection {
    /// Makes sure the stream exists, doing no more than `ownership` allows: creates it when missing
    /// (`own`, `shared`) or throws `streamMissing` (`others`); when it exists with a different
    /// configuration, applies the widenings of an `own` stream (subjects added, more replicas) and
    /// keeps every other difference, which it reports. Throws `configurationConflict` naming the
    /// first field that makes the stream unusable as it is (storage, retention, a subject the
    /// contract needs that it lacks on a stream the caller may not change).
    @discardableResult
    public func ensureStream(_ wanted: StreamConfiguration, ownership: StreamOwnership = .own) async throws(NATSError)
        -> StreamEnsureOutcome
    {
        return try await BlockingCalls.run { () throws(NATSError) -> StreamEnsureOutcome in
            let js = self.js
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var apiError = jsErrCode(rawValue: 0)
            let status = js_GetStreamInfo(&info, js, wanted.name, nil, &apiError)
            defer { if let info { jsStreamInfo_Destroy(info) } }
            if status == NATS_NOT_FOUND {
                guard ownership != .others else {
                    throw NATSError(
                        code: .streamMissing,
                        message: "stream \(wanted.name) does not exist yet (its producer creates it)")
                }
                try withStreamConfig(wanted) { (config) throws(NATSError) in
                    var created: UnsafeMutablePointer<jsStreamInfo>?
                    try check(
                        js_AddStream(&created, js, config, nil, &apiError), apiError, "creating stream \(wanted.name)")
                    jsStreamInfo_Destroy(created)
                }
                return .created
            }
            try check(status, apiError, "reading stream \(wanted.name)")
            guard let existing = info?.pointee.Config?.pointee else {
                throw NATSError(code: .status, message: "stream \(wanted.name) has no configuration")
            }
            let changes = try differences(existing: existing, wanted: wanted, ownership: ownership)
            guard !changes.isEmpty else { return .unchanged }
            guard let update = changes.update else { return .differs(updated: [], kept: changes.kept) }
            try withStreamConfig(update) { (config) throws(NATSError) in
                var updated: UnsafeMutablePointer<jsStreamInfo>?
                try check(
                    js_UpdateStream(&updated, js, config, nil, &apiError), apiError,
                    "updating stream \(wanted.name) (\(changes.updated.joined(separator: ", ")))")
                jsStreamInfo_Destroy(updated)
            }
            return .differs(updated: changes.updated, kept: changes.kept)
        }
    }

    /// The stream's counters; throws a `status` error with `NATS_NOT_FOUND` when there is no such stream.
    public func streamState(_ name: String) async throws(NATSError) -> StreamState {
        return try await BlockingCalls.run { () throws(NATSError) -> StreamState in
            let js = self.js
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var apiError = jsErrCode(rawValue: 0)
            try check(js_GetStreamInfo(&info, js, name, nil, &apiError), apiError, "reading stream \(name)")
            defer { jsStreamInfo_Destroy(info) }
            let state = info!.pointee.State
            var result = StreamState(
                messages: state.Msgs, bytes: state.Bytes, firstSequence: state.FirstSeq, lastSequence: state.LastSeq,
                consumers: Int(state.Consumers))
            if let config = info!.pointee.Config { result.replicas = Int(config.pointee.Replicas) }
            // The cluster's answer names the leader and lists the other replicas.
            if let cluster = info!.pointee.Cluster {
                result.peers = (cluster.pointee.Leader == nil ? 0 : 1) + Int(cluster.pointee.ReplicasLen)
            }
            return result
        }
    }

    /// The sequence of the last message stored on `subject` in `stream`, or nil when there is none.
    public func lastSequence(stream: String, subject: String) async throws(NATSError) -> UInt64? {
        try await lastMessage(stream: stream, subject: subject) { natsMsg_GetSequence($0) }
    }

    /// The `Nats-Msg-Id` of the last message stored on `subject` in `stream`, or nil when there is
    /// none (or it has none).
    public func lastMessageId(stream: String, subject: String) async throws(NATSError) -> String? {
        try await lastMessage(stream: stream, subject: subject) { natsHeaders(of: $0)[NATSHeader.messageId] } ?? nil
    }

    /// Reads the last message stored on `subject` in `stream` with `read`; nil when there is none.
    private func lastMessage<T: Sendable>(
        stream: String, subject: String, _ read: @escaping @Sendable (OpaquePointer) -> T
    ) async throws(NATSError) -> T? {
        return try await BlockingCalls.run { () throws(NATSError) -> T? in
            var msg: OpaquePointer?
            var apiError = jsErrCode(rawValue: 0)
            let status = js_GetLastMsg(&msg, self.js, stream, subject, nil, &apiError)
            defer { if let msg { natsMsg_Destroy(msg) } }
            if status == NATS_NOT_FOUND { return nil }
            try check(status, apiError, "reading the last message of \(subject) in \(stream)")
            return msg.map(read)
        }
    }

    /// Deletes a stream and its consumers (tests and tools).
    public func deleteStream(_ name: String) async throws(NATSError) {
        try await BlockingCalls.run { () throws(NATSError) in
            let js = self.js
            var apiError = jsErrCode(rawValue: 0)
            try check(js_DeleteStream(js, name, nil, &apiError), apiError, "deleting stream \(name)")
        }
    }
}

/// How the server's configuration differs from the wanted one, and what the caller may change.
private struct StreamChanges {
    /// The configuration to update the stream to (the server's, with the allowed widenings), or nil.
    var update: StreamConfiguration?
    var updated: [String] = []
    var kept: [String] = []
    var isEmpty: Bool { updated.isEmpty && kept.isEmpty }
}

/// Compares the server's configuration with the wanted one: what may be widened, what is kept, or
/// a conflict that makes the stream unusable.
private func differences(existing: jsStreamConfig, wanted: StreamConfiguration, ownership: StreamOwnership)
    throws(NATSError) -> StreamChanges
{
    func conflict(_ field: String, _ server: String, _ asked: String) -> NATSError {
        NATSError(
            code: .configurationConflict,
            message:
                "stream \(wanted.name): \(field) is \(server) on the server but \(asked) is wanted; it cannot be changed in place"
        )
    }
    let storage: StreamConfiguration.Storage = existing.Storage == js_MemoryStorage ? .memory : .file
    if storage != wanted.storage { throw conflict("storage", storage.rawValue, wanted.storage.rawValue) }
    let retention = retentionOf(existing.Retention)
    if retention != wanted.retention { throw conflict("retention", retention.rawValue, wanted.retention.rawValue) }
    let subjects = (0..<Int(existing.SubjectsLen)).compactMap { existing.Subjects[$0].map { String(cString: $0) } }
    // The server's configuration as it is: what an update starts from, so that nothing is cut.
    let description = existing.Description.map { String(cString: $0) }
    var current = StreamConfiguration(
        name: wanted.name, subjects: subjects, storage: storage, retention: retention,
        maxAge: existing.MaxAge == 0 ? nil : .nanoseconds(existing.MaxAge),
        duplicateWindow: .nanoseconds(existing.Duplicates), replicas: Int(existing.Replicas),
        maxMessages: existing.MaxMsgs < 0 ? nil : existing.MaxMsgs,
        maxBytes: existing.MaxBytes < 0 ? nil : existing.MaxBytes,
        description: description)
    var changes = StreamChanges()
    let missing = wanted.subjects.filter { !subjects.contains($0) }
    if !missing.isEmpty {
        guard ownership == .own else {
            throw conflict(
                "subjects", "[\(subjects.joined(separator: ", "))]", "[\(wanted.subjects.joined(separator: ", "))]")
        }
        current.subjects = subjects + missing
        changes.updated.append("subjects")
    }
    if subjects.contains(where: { !wanted.subjects.contains($0) }) { changes.kept.append("subjects") }
    if Int(existing.Replicas) < wanted.replicas, ownership == .own {
        current.replicas = wanted.replicas
        changes.updated.append("replicas")
    } else if Int(existing.Replicas) != wanted.replicas {
        changes.kept.append("replicas")
    }
    if existing.MaxAge != (wanted.maxAge?.nanoseconds ?? 0) { changes.kept.append("maxAge") }
    if existing.Duplicates != wanted.duplicateWindow.nanoseconds { changes.kept.append("duplicateWindow") }
    if existing.MaxMsgs != (wanted.maxMessages ?? -1) { changes.kept.append("maxMessages") }
    if existing.MaxBytes != (wanted.maxBytes ?? -1) { changes.kept.append("maxBytes") }
    if (description ?? "") != (wanted.description ?? "") { changes.kept.append("description") }
    if !changes.updated.isEmpty { changes.update = current }
    return changes
}

private func retentionOf(_ policy: jsRetentionPolicy) -> StreamConfiguration.Retention {
    switch policy {
    case js_InterestPolicy: .interest
    case js_WorkQueuePolicy: .workQueue
    default: .limits
    }
}

/// Calls `body` with a nats.c stream configuration whose strings live for the duration of the call.
private func withStreamConfig<R>(
    _ wanted: StreamConfiguration, _ body: (UnsafeMutablePointer<jsStreamConfig>) throws(NATSError) -> R
) throws(NATSError) -> R {
    var config = jsStreamConfig()
    try check(jsStreamConfig_Init(&config), "jsStreamConfig_Init")
    config.Storage = wanted.storage == .memory ? js_MemoryStorage : js_FileStorage
    config.Retention =
        switch wanted.retention {
        case .limits: js_LimitsPolicy
        case .interest: js_InterestPolicy
        case .workQueue: js_WorkQueuePolicy
        }
    config.MaxAge = wanted.maxAge?.nanoseconds ?? 0
    config.Duplicates = wanted.duplicateWindow.nanoseconds
    config.Replicas = Int64(wanted.replicas)
    config.MaxMsgs = wanted.maxMessages ?? -1
    config.MaxBytes = wanted.maxBytes ?? -1
    return try natsErrors {
        try wanted.name.withCString { (name) throws -> R in
            config.Name = name
            return try (wanted.description ?? "").withCString { (description) throws -> R in
                config.Description = wanted.description == nil ? nil : description
                return try withCStrings(wanted.subjects) { (subjects, count) throws(NATSError) -> R in
                    config.Subjects = subjects
                    config.SubjectsLen = count
                    return try body(&config)
                }
            }
        }
    }
}
