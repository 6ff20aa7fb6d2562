public import Foundation

/// Times on the wire: RFC 3339, UTC, milliseconds (`2026-11-22T11:32:38.123Z`).
public enum Timestamp {
    /// Formats a date the way every event carries it.
    public static func string(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = milliseconds / 1000
        var time = tm()
        var t = time_t(seconds)
        gmtime_r(&t, &time)
        // Written digit by digit: `String(format:)` costs more than the rest of an event's envelope.
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, width: Int) {
            var value = value
            for index in (0..<width).reversed() {
                bytes[offset + index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(Int(time.tm_year) + 1900, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(Int(time.tm_mon) + 1, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(Int(time.tm_mday), at: 8, width: 2)
        bytes[10] = UInt8(ascii: "T")
        put(Int(time.tm_hour), at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(Int(time.tm_min), at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(Int(time.tm_sec), at: 17, width: 2)
        bytes[19] = UInt8(ascii: ".")
        put(Int(milliseconds % 1000), at: 20, width: 3)
        bytes[23] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses an event time; nil for anything not in the wire format.
    public static func date(_ text: String) -> Date? {
        guard isValid(text) else { return nil }
        let digits = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(digits[$1] - 48) } }
        var time = tm()
        time.tm_year = Int32(number(0..<4) - 1900)
        time.tm_mon = Int32(number(5..<7) - 1)
        time.tm_mday = Int32(number(8..<10))
        time.tm_hour = Int32(number(11..<13))
        time.tm_min = Int32(number(14..<16))
        time.tm_sec = Int32(number(17..<19))
        let seconds = timegm(&time)
        return Date(timeIntervalSince1970: Double(seconds) + Double(number(20..<23)) / 1000)
    }

    static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count == 24, isValidDate(UnsafeBufferPointer(rebasing: bytes[0..<10])) else { return false }
            for (byte, expected) in zip(bytes, shape) {
                if expected == UInt8(ascii: "X") {
                    guard (48...57).contains(byte) else { return false }
                } else if byte != expected {
                    return false
                }
            }
            let hour = Int(bytes[11] - 48) * 10 + Int(bytes[12] - 48)
            let minute = Int(bytes[14] - 48) * 10 + Int(bytes[15] - 48)
            let second = Int(bytes[17] - 48) * 10 + Int(bytes[18] - 48)
            return hour < 24 && minute < 60 && second < 61
        }
    }

    private static let shape = Array("XXXX-XX-XXTXX:XX:XX.XXXZ".utf8)

    static func isValidDate(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isValidDate($0) }
    }

    private static func isValidDate(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        for index in [0, 1, 2, 3, 5, 6, 8, 9] where !(48...57).contains(bytes[index]) { return false }
        let month = Int(bytes[5] - 48) * 10 + Int(bytes[6] - 48)
        let day = Int(bytes[8] - 48) * 10 + Int(bytes[9] - 48)
        return (1...12).contains(month) && (1...31).contains(day)
    }
}
