internal import CNATS

/// An error of the messaging layer: a nats.c status, a JetStream API error, or a misconfiguration.
///
/// Errors are structs with an open set of codes so that codes can be added without breaking callers.
public struct NATSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String

        /// A nats.c call failed; `status` names the `natsStatus`.
        public static let status = Code(name: "status")
        /// The operation did not complete in time (a call, an acknowledgement, a request).
        public static let timeout = Code(name: "timeout")
        /// No JetStream stream listens on the subject that was published to.
        public static let noResponders = Code(name: "noResponders")
        /// The JetStream API answered with an error (see `apiErrorCode`).
        public static let jetStream = Code(name: "jetStream")
        /// An existing stream or consumer differs in a way that cannot be changed safely.
        public static let configurationConflict = Code(name: "configurationConflict")
        /// A stream the caller needs but may not create (another producer's) does not exist yet.
        public static let streamMissing = Code(name: "streamMissing")
        /// A setting given to the layer is invalid.
        public static let invalidConfiguration = Code(name: "invalidConfiguration")
        /// The connection is closed, or being closed.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// A message does not carry JetStream metadata, so it cannot be acknowledged.
        public static let notJetStreamMessage = Code(name: "notJetStreamMessage")

        public var description: String { name }
    }

    public var code: Code
    /// Human-readable detail: the nats.c status text and its last error, or the layer's own message.
    public var message: String
    /// The raw `natsStatus` value, when a nats.c call failed.
    public var status: Int32?
    /// The JetStream API error code (`JetStreamErrorCode`), when known.
    public var apiErrorCode: Int?

    public init(code: Code, message: String, status: Int32? = nil, apiErrorCode: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.apiErrorCode = apiErrorCode
    }

    public var description: String {
        var text = "NATSError(\(code)): \(message)"
        if let apiErrorCode { text += " [JetStream error \(apiErrorCode)]" }
        return text
    }
}

extension NATSError {
    /// Builds an error from a failed nats.c status, with the library's last error text for this thread.
    static func from(status: natsStatus, context: String, apiErrorCode: jsErrCode = jsErrCode(rawValue: 0)) -> NATSError
    {
        let text = String(cString: natsStatus_GetText(status))
        var detail = "\(context): \(text)"
        var lastStatus = NATS_OK
        if let last = nats_GetLastError(&lastStatus), last.pointee != 0 {
            let lastText = String(cString: last)
            if lastText != text { detail += " (\(lastText))" }
        }
        let api = Int(apiErrorCode.rawValue)
        let code: Code
        switch status {
        case NATS_TIMEOUT: code = .timeout
        case NATS_NO_RESPONDERS: code = .noResponders
        case NATS_CONNECTION_CLOSED: code = .connectionClosed
        default: code = api != 0 ? .jetStream : .status
        }
        return NATSError(
            code: code, message: detail, status: Int32(status.rawValue), apiErrorCode: api == 0 ? nil : api)
    }
}

/// The one chokepoint for nats.c statuses: throws a `NATSError` for anything but `NATS_OK`.
///
/// Must be called on the thread that made the call, since nats.c keeps its last error per thread.
@inline(__always)
func check(_ status: natsStatus, _ context: @autoclosure () -> String) throws(NATSError) {
    guard status == NATS_OK else { throw NATSError.from(status: status, context: context()) }
}

/// Like `check(_:_:)` for JetStream API calls, which also report a JetStream error code.
@inline(__always)
func check(_ status: natsStatus, _ apiError: jsErrCode, _ context: @autoclosure () -> String) throws(NATSError) {
    guard status == NATS_OK else {
        throw NATSError.from(status: status, context: context(), apiErrorCode: apiError)
    }
}

/// Runs `body`, whose closures cannot carry a typed error (`withCString` and friends), and
/// gives back the `NATSError` it threw.
func natsErrors<R>(_ body: () throws -> R) throws(NATSError) -> R {
    do {
        return try body()
    } catch let error as NATSError {
        throw error
    } catch {
        throw NATSError(code: .status, message: "\(error)")
    }
}

extension NATSError {
    /// The stream, consumer or message asked for does not exist.
    public var isNotFound: Bool { status == Int32(NATS_NOT_FOUND.rawValue) }
}

/// The JetStream API error codes the layer and the services act on, by name (nats-server's
/// `server/errors.json`).
public enum JetStreamErrorCode {
    /// No message found (a direct or stream get past the last message).
    public static let noMessageFound = 10037
    /// Stream not found.
    public static let streamNotFound = 10059
    /// Wrong last sequence: a publish expectation (`Nats-Expected-Last-Subject-Sequence`) failed.
    public static let wrongLastSequence = 10071
}
