import Foundation

/// A strict JSON (RFC 8259) reader that walks the bytes once and hands each value to the caller as it is reached,
/// with no tree in between. Bundle manifests are read with it: JSONDecoder spent about 20 µs per entry building and
/// unwrapping containers, a fifth of the time to verify a whole bundle.
///
/// Errors name what was expected and the byte offset. Strings must be valid UTF-8 with no raw control characters;
/// numbers are read as non-negative integers only (the manifest has no other kind), duplicate keys are the caller's concern.
struct JSONReader {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let bytes: [UInt8]
    private(set) var position = 0
    /// Where the document (or the one value being read) ends.
    private var stop = Int.max
    /// Nesting allowed before the input is refused (a hostile manifest must not exhaust the stack).
    private let maximumDepth = 64
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// A reader over one value inside `bytes` (an element found by `elementRanges`), which must hold nothing else.
    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.stop = range.upperBound
    }

    private func fail(_ message: @autoclosure () -> String) -> Failure { Failure(description: "\(message()) at byte \(position)") }

    private var limit: Int { min(stop, bytes.count) }

    private mutating func skipWhitespace() {
        while position < limit {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < limit ? bytes[position] : nil
    }

    private mutating func consume(_ byte: UInt8, _ what: @autoclosure () -> String) throws(Failure) {
        guard peek() == byte else { throw fail("expected \(what())") }
        position += 1
    }

    /// An object: `body` gets each key and must read that key's value (or `skip()` it).
    mutating func object(_ what: @autoclosure () -> String, _ body: (inout JSONReader, String) throws -> Void) throws {
        try consume(UInt8(ascii: "{"), "an object for \(what())")
        depth += 1
        guard depth <= maximumDepth else { throw fail("nesting deeper than \(maximumDepth)") }
        defer { depth -= 1 }
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            let key = try string("a key in \(what())")
            try consume(UInt8(ascii: ":"), "':' after \"\(key)\"")
            try body(&self, key)
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return
            default: throw fail("expected ',' or '}' in \(what())")
            }
        }
    }

    /// An array: `body` reads each element.
    mutating func array(_ what: @autoclosure () -> String, _ body: (inout JSONReader) throws -> Void) throws {
        try consume(UInt8(ascii: "["), "an array for \(what())")
        depth += 1
        guard depth <= maximumDepth else { throw fail("nesting deeper than \(maximumDepth)") }
        defer { depth -= 1 }
        if peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            try body(&self)
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return
            default: throw fail("expected ',' or ']' in \(what())")
            }
        }
    }

    mutating func string(_ what: @autoclosure () -> String) throws(Failure) -> String {
        try consume(UInt8(ascii: "\""), "a string for \(what())")
        let start = position
        var ascii = true
        // The common case: no escapes, read straight from the bytes.
        while position < limit {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text: String
                if ascii {
                    text = String(decoding: bytes[start..<position], as: UTF8.self)  // ASCII: nothing to validate
                } else {
                    guard let valid = String(validating: bytes[start..<position], as: UTF8.self) else { throw fail("invalid UTF-8 in \(what())") }
                    text = valid
                }
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("a control character in \(what())") }
            ascii = ascii && byte < 0x80
            position += 1
        }
        var unescaped = Array(bytes[start..<position])
        while position < limit {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: unescaped, as: UTF8.self) else { throw fail("invalid UTF-8 in \(what())") }
                return text
            case UInt8(ascii: "\\"):
                guard position < limit else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(0x0A)
                case UInt8(ascii: "r"): unescaped.append(0x0D)
                case UInt8(ascii: "t"): unescaped.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hexQuad(what())
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard position + 1 < limit, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw fail("a lone surrogate in \(what())")
                        }
                        position += 2
                        let low = try hexQuad(what())
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("a lone surrogate in \(what())") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let character = Unicode.Scalar(scalar) else { throw fail("a lone surrogate in \(what())") }
                    unescaped.append(contentsOf: String(character).utf8)
                default:
                    throw fail("an unknown escape in \(what())")
                }
            default:
                guard byte >= 0x20 else { throw fail("a control character in \(what())") }
                unescaped.append(byte)
            }
        }
        throw fail("an unterminated string for \(what())")
    }

    private mutating func hexQuad(_ what: @autoclosure () -> String) throws(Failure) -> UInt32 {
        guard position + 4 <= limit else { throw fail("a short \\u escape in \(what())") }
        var value: UInt32 = 0
        for byte in bytes[position..<position + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a bad \\u escape in \(what())")
            }
            value = value << 4 | UInt32(digit)
        }
        position += 4
        return value
    }

    /// A non-negative integer (sizes, sequence numbers: a negative one is refused here, not trapped on later).
    mutating func count(_ what: @autoclosure () -> String) throws(Failure) -> Int {
        skipWhitespace()
        if position < limit, bytes[position] == UInt8(ascii: "-") { throw fail("a negative number for \(what())") }
        let start = position
        var value = 0
        while position < limit, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw fail("an integer too large for \(what())") }
            value = sum
            position += 1
        }
        guard position > start else { throw fail("an integer for \(what())") }
        guard position - start == 1 || bytes[start] != UInt8(ascii: "0") else { throw fail("a leading zero in \(what())") }
        if position < limit, bytes[position] == UInt8(ascii: ".") || bytes[position] | 0x20 == UInt8(ascii: "e") {
            throw fail("a whole number for \(what())")
        }
        return value
    }

    /// True (and consumed) when the next value is `null`.
    mutating func null() -> Bool {
        guard peek() == UInt8(ascii: "n"), position + 4 <= limit, bytes[position..<position + 4].elementsEqual("null".utf8) else { return false }
        position += 4
        return true
    }

    /// Reads past any value (a key this reader does not know).
    mutating func skip() throws {
        switch peek() {
        case UInt8(ascii: "{"): try object("an unknown member") { reader, _ in try reader.skip() }
        case UInt8(ascii: "["): try array("an unknown member") { reader in try reader.skip() }
        case UInt8(ascii: "\""): _ = try string("an unknown member")
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for word in ["true", "false", "null"]
            where position + word.utf8.count <= limit
                && bytes[position..<position + word.utf8.count].elementsEqual(word.utf8)
            {
                position += word.utf8.count
                return
            }
            throw fail("an unknown literal")
        default:
            // A number: sign, digits, fraction, exponent.
            let start = position
            while position < limit, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
            guard position > start else { throw fail("a value") }
        }
    }

    /// The byte ranges of an array's elements, found by their structure alone (brackets, braces and strings), so that
    /// the elements can be read later, in parallel, each by its own reader. Nothing inside is validated here.
    mutating func elementRanges(_ what: @autoclosure () -> String) throws(Failure) -> [Range<Int>] {
        try consume(UInt8(ascii: "["), "an array for \(what())")
        var ranges = [Range<Int>]()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return ranges
        }
        while true {
            skipWhitespace()
            let start = position
            // Over the raw bytes, strings skipped with memchr: a 10,000-entry manifest is 10 MB.
            let end = limit
            let scanned = bytes.withUnsafeBufferPointer { buffer -> Result<Int, Failure> in
                let base = buffer.baseAddress!
                var at = position, nesting = 0
                while at < end {
                    switch base[at] {
                    case UInt8(ascii: "\""):
                        at += 1
                        while true {
                            guard at < end, let quote = memchr(base + at, Int32(UInt8(ascii: "\"")), end - at) else {
                                return .failure(Failure(description: "an unterminated string in \(what()) at byte \(at)"))
                            }
                            let found = base.distance(to: quote.assumingMemoryBound(to: UInt8.self))
                            var backslashes = 0
                            while found - backslashes - 1 >= at, base[found - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
                            at = found
                            if backslashes % 2 == 0 { break }  // not escaped
                            at += 1
                        }
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        nesting += 1
                        guard nesting <= maximumDepth else { return .failure(Failure(description: "nesting deeper than \(maximumDepth) at byte \(at)")) }
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if nesting == 0 { return .success(at) }
                        nesting -= 1
                    case UInt8(ascii: ","):
                        if nesting == 0 { return .success(at) }
                    default:
                        break
                    }
                    at += 1
                }
                return .success(at)
            }
            position = try scanned.get()
            var valueEnd = position
            while valueEnd > start, bytes[valueEnd - 1] <= 0x20 { valueEnd -= 1 }  // whitespace (anything else below 0x20 fails later)
            guard valueEnd > start else { throw fail("an empty element in \(what())") }
            ranges.append(start..<valueEnd)
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return ranges
            default: throw fail("expected ',' or ']' in \(what())")
            }
        }
    }

    /// Only whitespace may follow the document.
    mutating func end() throws(Failure) {
        guard peek() == nil else { throw fail("text after the end of the document") }
    }
}
