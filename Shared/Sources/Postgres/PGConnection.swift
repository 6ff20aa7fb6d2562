import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to PostgreSQL through libpq, used synchronously from one thread at a time.
///
/// Why libpq and not postgres-nio: a service's store runs its transactions as synchronous closures
/// on one serial writer (docs/pipeline.md), and a batch of events is one transaction of many short
/// statements. A blocking client keeps each statement a write and a read on the socket; an
/// asynchronous one would add a hop between threads to every statement, the very cost the batched
/// pipeline removed (docs/postgres.md).
///
/// Statements are written with `?` placeholders, as for SQLite, and prepared once per connection:
/// the first use of a statement text prepares it under a generated name, and later uses execute the
/// prepared statement. A connection that broke forgets them; `reconnect()` starts afresh.
public final class PGConnection: @unchecked Sendable {
    // @unchecked: libpq connections must not be used by two threads at once; the owner (the store's
    // serial writer) guarantees that.
    private var handle: OpaquePointer?
    private var prepared: [String: String] = [:]
    private var transactionDepth = 0
    public let url: PGURL

    /// Connects, or throws one clear `PGError` (`.connection`) saying why not.
    public init(url: PGURL, applicationName: String = "troupe", connectTimeout: Int = 5) throws {
        self.url = url
        try connect(applicationName: applicationName, connectTimeout: connectTimeout)
    }

    deinit { if let handle { PQfinish(handle) } }

    private func connect(applicationName: String, connectTimeout: Int) throws {
        // Our defaults first: anything the URL says overrides them.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["\(connectTimeout)", applicationName, url.string]
        let handle = withCStrings(keywords) { keys in
            withCStrings(values) { values in PQconnectdbParams(keys, values, 1) }
        }
        guard let handle else { throw PGError(.connection, "out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.message(handle)
            PQfinish(handle)
            throw PGError(.connection, "cannot connect to \(url.masked): \(message)")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        self.handle = handle
        prepared = [:]
        transactionDepth = 0
    }

    /// Whether the connection is up (as far as libpq knows without asking the server).
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Drops the connection and connects again (after the server restarted, say).
    public func reconnect() throws {
        if let handle { PQfinish(handle) }
        handle = nil
        try connect(applicationName: "troupe", connectTimeout: 5)
    }

    /// The server's process for this session, for tests that end it from another connection.
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    // MARK: Statements

    /// Runs one statement with parameters (`?` placeholders), prepared on first use.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PGEncodable] = []) throws -> PGResult {
        try execute(sql, values: parameters.map(\.pgValue))
    }

    /// `execute` with the parameters already as values.
    @discardableResult
    public func execute(_ sql: String, values: [PGValue]) throws -> PGResult {
        let handle = try live()
        let name = try statementName(for: sql, values.count, handle)
        return try withParameters(values) { count, pointers, lengths, formats in
            try check(PQexecPrepared(handle, name, count, pointers, lengths, formats, 1), handle)
        }
    }

    /// Runs a script of statements without parameters (migrations, `BEGIN`): not prepared.
    @discardableResult
    public func run(_ script: String) throws -> PGResult {
        let handle = try live()
        return try check(PQexec(handle, script), handle)
    }

    private func live() throws -> OpaquePointer {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            throw PGError(.connection, "the connection to \(url.masked) is closed")
        }
        return handle
    }

    private func statementName(for sql: String, _ count: Int, _ handle: OpaquePointer) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "troupe_\(prepared.count + 1)"
        try check(PQprepare(handle, name, Self.numberPlaceholders(sql), 0, nil), handle)
        prepared[sql] = name
        return name
    }

    @discardableResult
    private func check(_ result: OpaquePointer?, _ handle: OpaquePointer) throws -> PGResult {
        guard let result else { throw Self.error(nil, handle) }
        let owned = PGResult(result)
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: return owned
        default: throw Self.error(result, handle)
        }
    }

    private static func error(_ result: OpaquePointer?, _ handle: OpaquePointer) -> PGError {
        let sqlState = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        let detail = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
        let text = (detail.isEmpty ? message(handle) : detail).trimmingWhitespace()
        if PQstatus(handle) != CONNECTION_OK {
            return PGError(.connection, sqlState: sqlState, "the connection was lost: \(text)")
        }
        guard let sqlState else { return PGError(.other, text) }
        return PGError(PGError.kind(sqlState: sqlState), sqlState: sqlState, text)
    }

    private static func message(_ handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingWhitespace()
    }

    /// Replaces each `?` outside quotes and comments with `$1`, `$2`, …
    static func numberPlaceholders(_ sql: String) -> String {
        var output = ""
        output.reserveCapacity(sql.utf8.count + 8)
        var number = 0
        var quote: Character?
        var comment = false
        var previous: Character = " "
        for character in sql {
            defer { previous = character }
            if comment {
                if character == "\n" { comment = false }
            } else if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "-" && previous == "-" {
                comment = true
            } else if character == "?" {
                number += 1
                output += "$\(number)"
                continue
            }
            output.append(character)
        }
        return output
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws. Nested
    /// calls run in a savepoint of the outer transaction.
    @discardableResult
    public func transaction<T>(isolation: Isolation = .readCommitted, _ body: () throws -> T) throws -> T {
        if transactionDepth > 0 { return try savepoint(body) }
        switch isolation {
        case .readCommitted: try run("BEGIN")
        case .repeatableRead: try run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        case .serializable: try run("BEGIN ISOLATION LEVEL SERIALIZABLE")
        }
        transactionDepth = 1
        defer { transactionDepth = 0 }
        do {
            let value = try body()
            let commit = try run("COMMIT")
            // A transaction that an error aborted answers COMMIT with ROLLBACK, without an error.
            if String(cString: PQcmdStatus(commit.handle)) == "ROLLBACK" {
                throw PGError(.other, "the transaction was rolled back: a statement in it failed")
            }
            return value
        } catch {
            if isConnected { _ = try? run("ROLLBACK") }
            throw error
        }
    }

    /// Runs `body` in a savepoint of the current transaction: what it wrote is undone when it
    /// throws, and the transaction goes on.
    @discardableResult
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        precondition(transactionDepth > 0, "a savepoint needs a transaction")
        let name = "troupe_sp\(transactionDepth)"
        try execute("SAVEPOINT \(name)")
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        do {
            let value = try body()
            try execute("RELEASE SAVEPOINT \(name)")
            return value
        } catch {
            if isConnected {
                _ = try? execute("ROLLBACK TO SAVEPOINT \(name)")
                _ = try? execute("RELEASE SAVEPOINT \(name)")
            }
            throw error
        }
    }

    public enum Isolation: Sendable {
        /// PostgreSQL's default: each statement sees what was committed before it began.
        case readCommitted
        /// Read only, one snapshot for the whole transaction: for reads that must agree with
        /// themselves.
        case repeatableRead
        case serializable
    }

    /// Whether a transaction is open on this connection.
    public var inTransaction: Bool { transactionDepth > 0 }
}

/// Parameters as libpq takes them: text, except bytes (binary).
private func withParameters<R>(
    _ values: [PGValue],
    _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> R
) rethrows -> R {
    if values.isEmpty { return try body(0, nil, nil, nil) }
    var buffers: [UnsafeMutableRawBufferPointer?] = []
    buffers.reserveCapacity(values.count)
    defer { for buffer in buffers { buffer?.deallocate() } }
    var lengths = [Int32](repeating: 0, count: values.count)
    var formats = [Int32](repeating: 0, count: values.count)
    for (index, value) in values.enumerated() {
        let bytes: [UInt8]?
        switch value {
        case .null: bytes = nil
        case .bool(let flag): bytes = Array((flag ? "t" : "f").utf8)
        case .int(let number): bytes = Array(String(number).utf8)
        case .double(let number): bytes = Array(number.description.utf8)
        case .text(let text): bytes = Array(text.utf8)
        case .bytes(let raw):
            bytes = raw
            formats[index] = 1
        }
        guard let bytes else {
            buffers.append(nil)
            continue
        }
        // Text parameters end with a NUL; binary ones have their length.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
        buffer.copyBytes(from: bytes)
        buffer[bytes.count] = 0
        buffers.append(buffer)
        lengths[index] = Int32(bytes.count)
    }
    let pointers: [UnsafePointer<CChar>?] = buffers.map {
        $0.map { UnsafePointer($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }
    return try body(Int32(values.count), pointers, lengths, formats)
}

/// C strings for `strings`, terminated by a null pointer, alive during `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension String {
    /// libpq's messages span lines (`ERROR:  …`, `DETAIL:  …`, a hint): one line, for logs.
    func trimmingWhitespace() -> String {
        split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
