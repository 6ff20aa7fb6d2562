internal import CNATS
public import Foundation

/// A message read from a stream by its sequence (tools and tests), not a delivery: nothing to settle.
public struct StoredMessage: Sendable, Hashable {
    public var stream: String
    public var sequence: UInt64
    public var subject: String
    public var payload: [UInt8]
    /// NATS headers (the first value of each).
    public var headers: [String: String]
    /// When the stream stored it.
    public var time: Date
}

extension NATSConnection {
    /// The message at `sequence` in `stream`, or nil when there is none (deleted, or out of range).
    public func storedMessage(stream: String, sequence: UInt64) async throws(NATSError) -> StoredMessage? {
        return try await BlockingCalls.run { () throws(NATSError) -> StoredMessage? in
            let js = self.js
            var msg: OpaquePointer?
            var apiError = jsErrCode(rawValue: 0)
            let status = js_GetMsg(&msg, js, stream, sequence, nil, &apiError)
            defer { if let msg { natsMsg_Destroy(msg) } }
            if status == NATS_NOT_FOUND { return nil }
            try check(status, apiError, "reading message \(sequence) of \(stream)")
            guard let msg else { return nil }
            let length = Int(natsMsg_GetDataLength(msg))
            var payload: [UInt8] = []
            if length > 0, let data = natsMsg_GetData(msg) {
                payload = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Array(UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return StoredMessage(
                stream: stream, sequence: natsMsg_GetSequence(msg), subject: String(cString: natsMsg_GetSubject(msg)),
                payload: payload, headers: natsHeaders(of: msg),
                time: Date(timeIntervalSince1970: Double(natsMsg_GetTime(msg)) / 1e9))
        }
    }

    /// Every message of `stream` from `from` on whose subject matches `filter` (NATS wildcards),
    /// read one by one; for tools reading small streams such as `DEADLETTER`.
    public func storedMessages(
        stream: String, from: UInt64 = 1, filter: String? = nil, limit: Int = .max
    ) async throws(NATSError) -> [StoredMessage] {
        let state = try await streamState(stream)
        var result: [StoredMessage] = []
        var sequence = max(from, state.firstSequence)
        while sequence <= state.lastSequence && result.count < limit {
            if let message = try await storedMessage(stream: stream, sequence: sequence),
                filter.map({ subjectMatches($0, message.subject) }) ?? true
            {
                result.append(message)
            }
            sequence += 1
        }
        return result
    }
}

/// Reads every header of `msg` (the first value of each). Parsing caches inside the message, so
/// callers sharing a message serialise this.
func natsHeaders(of msg: OpaquePointer) -> [String: String] {
    var parsed: [String: String] = [:]
    var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
    var count: Int32 = 0
    guard natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK, let keys else { return parsed }
    for index in 0..<Int(count) {
        guard let key = keys[index] else { continue }
        var value: UnsafePointer<CChar>?
        if natsMsgHeader_Get(msg, key, &value) == NATS_OK, let value {
            parsed[String(cString: key)] = String(cString: value)
        }
    }
    free(keys)
    return parsed
}

/// Whether `subject` matches the NATS subject `pattern` (`*` one token, `>` the rest).
public func subjectMatches(_ pattern: String, _ subject: String) -> Bool {
    let patternTokens = pattern.split(separator: ".", omittingEmptySubsequences: false)
    let subjectTokens = subject.split(separator: ".", omittingEmptySubsequences: false)
    for (index, token) in patternTokens.enumerated() {
        if token == ">" { return subjectTokens.count > index }
        guard index < subjectTokens.count else { return false }
        if token != "*" && token != subjectTokens[index] { return false }
    }
    return patternTokens.count == subjectTokens.count
}

extension NATSConnection {
    /// The `Nats-Msg-Id` of every message stored on `subject` in `stream`, oldest first (at most
    /// `limit`). For subjects that hold a few messages, such as one order's notifications: the
    /// server finds each next one on the subject (`next_by_subj`), so the stream is not scanned.
    public func messageIds(stream: String, subject: String, limit: Int = 64) async throws(NATSError) -> [String] {
        return try await BlockingCalls.run { () throws(NATSError) -> [String] in
            var ids: [String] = []
            var sequence: UInt64 = 1
            while ids.count < limit {
                let request = String(
                    decoding: (try? JSONSerialization.data(withJSONObject: ["seq": sequence, "next_by_subj": subject]))
                        ?? Data(), as: UTF8.self)
                var reply: OpaquePointer?
                try check(
                    natsConnection_RequestString(&reply, self.nc, "$JS.API.STREAM.MSG.GET.\(stream)", request, 5000),
                    "reading the messages of \(subject) in \(stream)")
                defer { if let reply { natsMsg_Destroy(reply) } }
                guard let reply else { break }
                let length = Int(natsMsg_GetDataLength(reply))
                let body = Data(bytes: natsMsg_GetData(reply), count: length)
                switch try StoredMessageReply(body, context: "\(subject) in \(stream)") {
                case .none: return ids
                case .message(let found, let messageId):
                    if let messageId { ids.append(messageId) }
                    sequence = found + 1
                }
            }
            return ids
        }
    }
}

/// The answer to a `STREAM.MSG.GET` request: the message's sequence and `Nats-Msg-Id`, or none.
enum StoredMessageReply {
    case none
    case message(sequence: UInt64, messageId: String?)

    init(_ body: Data, context: String) throws(NATSError) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw NATSError(code: .status, message: "reading \(context): the server's answer is not JSON")
        }
        if let error = object["error"] as? [String: Any] {
            // No message found: past the last one on the subject.
            if (error["err_code"] as? Int) == JetStreamErrorCode.noMessageFound || (error["code"] as? Int) == 404 {
                self = .none
                return
            }
            throw NATSError(
                code: .jetStream, message: "reading \(context): \(error["description"] as? String ?? "refused")",
                apiErrorCode: error["err_code"] as? Int)
        }
        guard let message = object["message"] as? [String: Any],
            let sequence = (message["seq"] as? NSNumber)?.uint64Value
        else { throw NATSError(code: .status, message: "reading \(context): the server's answer has no message") }
        let headers =
            (message["hdrs"] as? String).flatMap { Data(base64Encoded: $0) }
            .map { String(decoding: $0, as: UTF8.self) } ?? ""
        self = .message(sequence: sequence, messageId: Self.messageId(inHeaderBlock: headers))
    }

    /// The `Nats-Msg-Id` of a NATS header block (`NATS/1.0\r\nName: value\r\n…`).
    static func messageId(inHeaderBlock block: String) -> String? {
        for line in block.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == NATSHeader.messageId.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
