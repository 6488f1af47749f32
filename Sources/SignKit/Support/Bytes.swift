import Foundation

/// Hex, small DER writing helpers and UTC time text used across SignKit. DER is read by `DERScanner`
/// (Verification/DERScanner.swift); certificates and CRLs are parsed by OpenSSL.
public enum Hex {
    /// Lower-case hex of `bytes`, with an optional separator between bytes ("3b:8a" or "3B 8A").
    public static func encode(_ bytes: some Sequence<UInt8>, separator: String = "", uppercase: Bool = false) -> String {
        if separator.isEmpty, !uppercase, let contiguous = bytes as? [UInt8] { return lowercase(contiguous) }
        let digits = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out = [UInt8]()
        for (index, byte) in bytes.enumerated() {
            if index > 0 { out.append(contentsOf: separator.utf8) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The common case (a digest or fingerprint) written straight into the string's storage.
    private static func lowercase(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            let digits: StaticString = "0123456789abcdef"
            let table = digits.utf8Start
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = table[Int(byte >> 4)]
                buffer[2 * index + 1] = table[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// Bytes from hex, ignoring spaces and colons; nil when a character is not a hex digit or a nibble is left over.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        // Over the UTF-8 bytes in place, through a table (a branch per digit mispredicts on hex, whose digits are
        // random): digests in manifests and reports are decoded by the thousand.
        return digitValues.withUnsafeBufferPointer { values in
            text.withUTF8 { utf8 -> [UInt8]? in
                var failed = false
                let out = [UInt8](unsafeUninitializedCapacity: utf8.count / 2) { buffer, written in
                    if utf8.count % 2 == 0 {
                        // The common case, digits only: two to a byte, all checked at once at the end.
                        var seen: UInt8 = 0
                        for index in 0..<utf8.count / 2 {
                            let high = values[Int(utf8[2 * index])], low = values[Int(utf8[2 * index + 1])]
                            buffer[index] = high << 4 | low
                            seen |= high | low
                        }
                        if seen < 16 {
                            written = utf8.count / 2
                            return
                        }
                    }
                    // Separators, an odd count or a stray character: one at a time.
                    var high: UInt8 = 0, pending = false
                    for byte in utf8 where byte != UInt8(ascii: " ") && byte != UInt8(ascii: ":") {
                        let value = values[Int(byte)]
                        guard value < 16 else {
                            failed = true
                            return
                        }
                        if pending {
                            buffer[written] = high << 4 | value
                            written += 1
                        } else {
                            high = value
                        }
                        pending.toggle()
                    }
                    failed = pending
                }
                return failed ? nil : out
            }
        }
    }

    /// Each byte's value as a hex digit; 0xF0 for anything else (so that an OR of values shows any stray byte).
    private static let digitValues: [UInt8] = (0...255).map { (byte: Int) -> UInt8 in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(byte) - UInt8(ascii: "A") + 10
        default: 0xF0
        }
    }
}

/// The few DER encodings SignKit writes itself.
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes = [UInt8]()
        var n = count
        while n > 0 {
            bytes.insert(UInt8(n & 0xFF), at: 0)
            n >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        [tag] + length(content.count) + content
    }

    /// Appends tag, length and content to `bytes` (no intermediate arrays).
    static func append(_ tag: UInt8, _ content: some Collection<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(tag)
        let count = content.count
        if count < 0x80 {
            bytes.append(UInt8(count))
        } else {
            bytes += length(count)
        }
        bytes.append(contentsOf: content)
    }

    /// A non-negative INTEGER from big-endian magnitude bytes: leading zeros dropped, a zero byte added when the
    /// high bit is set (X.690 8.3.2).
    static func unsignedInteger(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop(while: { $0 == 0 }))
        if bytes.isEmpty { bytes = [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    /// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 2.2.3), from PKCS#11's r||s.
    static func ecdsaSignature(rawRS: [UInt8]) -> [UInt8]? {
        guard !rawRS.isEmpty, rawRS.count % 2 == 0 else { return nil }
        let half = rawRS.count / 2
        return tlv(0x30, unsignedInteger(rawRS[..<half]) + unsignedInteger(rawRS[half...]))
    }

    /// DigestInfo ::= SEQUENCE { AlgorithmIdentifier sha256 NULL, OCTET STRING digest } (RFC 8017 9.2),
    /// the input CKM_RSA_PKCS needs for a SHA-256 PKCS#1 v1.5 signature.
    static func sha256DigestInfo(_ digest: [UInt8]) -> [UInt8] {
        precondition(digest.count == 32, "a SHA-256 digest is 32 bytes")
        let prefix: [UInt8] = [
            0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
            0x05, 0x00, 0x04, 0x20,
        ]
        return prefix + digest
    }
}

extension String {
    /// The UTF-8 text of a C buffer up to its first NUL (or all of it without one).
    init(nulTerminated buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// "2026-11-23T07:01:49Z": RFC 3339 in UTC, made with gmtime_r (cheap, and the same on every platform).
public enum UTCTimeText {
    /// The inverse of `format`: exactly "YYYY-MM-DDTHH:MM:SSZ", nil otherwise.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? {
            var value: Int32 = 0
            for byte in bytes[from..<from + count] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900; parts.tm_mon = month - 1; parts.tm_mday = day
        parts.tm_hour = hour; parts.tm_min = minute; parts.tm_sec = second
        return Date(timeIntervalSince1970: TimeInterval(CivilTime.secondsSinceEpoch(parts)))
    }

    public static func format(_ date: Date) -> String { String(decoding: bytes(date), as: UTF8.self) }

    /// `format`'s text as UTF-8 bytes.
    static func bytes(_ date: Date) -> [UInt8] {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8]()
        bytes.reserveCapacity(20)
        func digits(_ value: Int32, _ count: Int) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(0x30 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(parts.tm_year + 1900, 4); bytes.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2); bytes.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2); bytes.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2); bytes.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2); bytes.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2); bytes.append(UInt8(ascii: "Z"))
        return bytes
    }
}

/// UTC calendar arithmetic.
enum CivilTime {
    /// Seconds since 1970 of a UTC calendar time, by the days-from-civil algorithm (timegm consults the time zone
    /// machinery and showed in profiles).
    static func secondsSinceEpoch(_ parts: tm) -> Int {
        var year = Int(parts.tm_year) + 1900
        let month = Int(parts.tm_mon) + 1
        year -= month <= 2 ? 1 : 0
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + Int(parts.tm_mday) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146097 + dayOfEra - 719468
        return days * 86400 + Int(parts.tm_hour) * 3600 + Int(parts.tm_min) * 60 + Int(parts.tm_sec)
    }
}

/// The JSON every SignService tool writes (reports, manifests, the audit log, API answers): sorted keys, slashes
/// unescaped, times as "2026-11-23T07:01:49Z" (`UTCTimeText`).
public enum JSONOutput {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(UTCTimeText.format(date))
        }
        return encoder
    }

    /// Reads what `encoder` wrote: times as "2026-11-23T07:01:49Z".
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = UTCTimeText.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text) is not a time like 2026-11-23T07:01:49Z")
            }
            return date
        }
        return decoder
    }

    public static func string(_ value: some Encodable, pretty: Bool = true) throws -> String {
        String(decoding: try encoder(pretty: pretty).encode(value), as: UTF8.self)
    }
}
