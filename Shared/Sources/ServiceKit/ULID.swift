import Contracts
public import Foundation

/// Ids with a prefix and a ULID: `ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F`, sortable by creation time.
public enum ULID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// `prefix` and a ULID: 10 characters of milliseconds since 1970 and 16 of randomness (80 bits,
    /// drawn in two calls to the system's generator), in Crockford's base 32.
    public static func make(_ prefix: String, now: Date = Date()) -> String {
        var text = [UInt8](repeating: 0, count: 26)
        var value = UInt64(now.timeIntervalSince1970 * 1000)
        for index in (0..<10).reversed() {
            text[index] = alphabet[Int(value & 31)]
            value >>= 5
        }
        let random = RandomBytes.make(10)
        var bits: UInt64 = 0
        var count = 0
        var index = 10
        for byte in random {
            bits = bits << 8 | UInt64(byte)
            count += 8
            while count >= 5 {
                count -= 5
                text[index] = alphabet[Int((bits >> UInt64(count)) & 31)]
                index += 1
            }
        }
        return prefix + String(decoding: text, as: UTF8.self)
    }
}
