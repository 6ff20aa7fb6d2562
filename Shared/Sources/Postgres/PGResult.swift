import CLibPQ

/// The rows a statement returned, read in PostgreSQL's binary form by each column's type.
///
/// Types read: `bool`, `bytea`, `int2`/`int4`/`int8`/`oid`, `float4`/`float8`, `text`/`varchar`/
/// `bpchar`/`name`. A column of any other type reads as its raw binary bytes: cast it in SQL
/// (`::text`, `::bigint`) to read it as a value.
public final class PGResult: @unchecked Sendable {
    // @unchecked: the PGresult is never changed after it is made; it is freed once, in deinit.
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    /// The number of rows returned.
    public var count: Int { Int(PQntuples(handle)) }

    /// The number of rows the statement inserted, updated or deleted (0 when it says nothing).
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The column names, in order.
    public var columns: [String] {
        (0..<PQnfields(handle)).map { String(cString: PQfname(handle, $0)) }
    }

    /// The value of `column` in `row`.
    public subscript(row: Int, column: Int) -> PGValue {
        let (row, column) = (Int32(row), Int32(column))
        if PQgetisnull(handle, row, column) != 0 { return .null }
        let length = Int(PQgetlength(handle, row, column))
        guard let data = PQgetvalue(handle, row, column) else { return .null }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        switch PQftype(handle, column) {
        case 16: return .bool(length == 1 && bytes[0] != 0)
        case 20, 23, 21, 26: return .int(Self.integer(bytes))
        case 701 where length == 8:
            return .double(Double(bitPattern: UInt64(bitPattern: Self.integer(bytes, signed: false))))
        case 700 where length == 4:
            return .double(Double(Float(bitPattern: UInt32(truncatingIfNeeded: Self.integer(bytes, signed: false)))))
        case 25, 1043, 1042, 19: return .text(String(decoding: bytes, as: UTF8.self))
        default: return .bytes(Array(bytes))
        }
    }

    /// The rows, for `for row in result.rows`.
    public var rows: [PGRow] { (0..<count).map { PGRow(result: self, index: $0) } }

    /// The first row, if any.
    public var first: PGRow? { count > 0 ? PGRow(result: self, index: 0) : nil }

    /// A big-endian integer of 2, 4 or 8 bytes.
    static func integer(_ bytes: UnsafeRawBufferPointer, signed: Bool = true) -> Int64 {
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        guard signed, bytes.count < 8, bytes.count > 0 else { return Int64(bitPattern: value) }
        // Sign-extend a 2- or 4-byte value.
        let shift = UInt64(64 - bytes.count * 8)
        return Int64(bitPattern: value << shift) >> Int64(shift)
    }
}

/// One row of a result.
public struct PGRow: Sendable {
    let result: PGResult
    let index: Int

    /// The value in the `column`-th column.
    public subscript(column: Int) -> PGValue { result[index, column] }

    /// The value of the column named `name` (`.null` when there is none).
    public subscript(name: String) -> PGValue {
        let column = PQfnumber(result.handle, name)
        return column < 0 ? .null : result[index, Int(column)]
    }
}
