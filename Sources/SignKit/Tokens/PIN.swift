import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A token PIN. It is never printed, logged, encoded or persisted: it has no `String` form, no `Codable`
/// conformance, a redacted description and mirror, and its bytes live in one manually allocated buffer that is
/// overwritten with zeros by `wipe()` and at deinit.
///
/// Bytes are reached only through `withBytes`, for the moment of a `C_Login`.
public final class PIN: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let storage: UnsafeMutableRawBufferPointer
    private let lock = NSLock()
    private var length: Int
    private var wiped = false

    /// Longest PIN accepted from any source. PKCS#11 tokens in use allow at most 64 (most allow 16).
    public static let maximumLength = 256

    /// Copies `bytes` into the PIN's own buffer. The caller should wipe its copy.
    public init(bytes: UnsafeRawBufferPointer) throws(PINError) {
        guard bytes.count > 0 else { throw .empty() }
        guard bytes.count <= Self.maximumLength else { throw .tooLong() }
        storage = .allocate(byteCount: bytes.count, alignment: 1)
        storage.copyMemory(from: bytes)
        length = bytes.count
    }

    /// Reads a PIN from a file descriptor up to the first newline or end of input. The bytes never pass through
    /// a `String`. The descriptor is not closed.
    public static func read(fromDescriptor fd: Int32) throws(PINError) -> PIN {
        var buffer = [UInt8](repeating: 0, count: maximumLength + 1)
        defer { buffer.withUnsafeMutableBytes { wipeMemory($0) } }
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress! + count, 1)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(errno: errno)
            }
            if n == 0 || buffer[count] == UInt8(ascii: "\n") { break }
            count += 1
        }
        if count > 0 && buffer[count - 1] == UInt8(ascii: "\r") { count -= 1 }
        guard count <= maximumLength else { throw .tooLong() }
        let result: Result<PIN, PINError> = buffer.withUnsafeBytes { raw in
            do throws(PINError) { return .success(try PIN(bytes: UnsafeRawBufferPointer(rebasing: raw[..<count]))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Number of bytes, for checking against a token's ulMinPinLen/ulMaxPinLen before spending a try.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return wiped ? 0 : length
    }

    public var isWiped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return wiped
    }

    /// Lends the bytes for one call. Throws if the PIN was already wiped.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        guard !wiped else { throw PINError.wiped() }
        return try body(UnsafeRawBufferPointer(rebasing: storage[..<length]))
    }

    /// A PIN of its own with the same bytes, for a job that may outlive its caller; wipe it when done.
    public func copy() throws -> PIN {
        try withBytes { try PIN(bytes: $0) }
    }

    /// Overwrites the bytes with zeros. Later `withBytes` calls throw.
    public func wipe() {
        lock.lock()
        defer { lock.unlock() }
        Self.wipeMemory(storage)
        wiped = true
        length = 0
    }

    deinit {
        Self.wipeMemory(storage)
        storage.deallocate()
    }

    /// explicit_bzero: a store the compiler may not remove as dead.
    static func wipeMemory(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        explicit_bzero(base, buffer.count)
    }

    public var description: String { "PIN(redacted)" }
    public var debugDescription: String { "PIN(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

/// Why no PIN could be had: none given, too long, already wiped, unreadable, no terminal, pinentry failed.
public typealias PINError = DomainError<PINErrorDomain>

/// The domain of `PINError`: its codes are the `ErrorCode<PINErrorDomain>` statics below.
public enum PINErrorDomain {}

extension DomainError where Domain == PINErrorDomain {
    public static func empty(file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.empty, "no PIN was given", file: file, line: line)
    }
    public static func tooLong(file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.tooLong, "the PIN is longer than \(PIN.maximumLength) bytes", file: file, line: line)
    }
    public static func wiped(file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.wiped, "the PIN was already used and wiped", file: file, line: line)
    }
    public static func unreadable(errno code: Int32, file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.unreadable, "the PIN could not be read (\(String(cString: strerror(code))))", file: file, line: line)
    }
    public static func noTerminal(file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.noTerminal, "no terminal to ask for the PIN; give --pin-fd or --pinentry", file: file, line: line)
    }
    public static func pinentry(_ reason: String, file: String = #fileID, line: Int = #line) -> PINError {
        PINError(.pinentry, "pinentry: \(reason)", file: file, line: line)
    }
}

extension ErrorCode where Domain == PINErrorDomain {
    public static let empty = Self("pin-empty")
    public static let tooLong = Self("pin-too-long")
    public static let wiped = Self("pin-wiped")
    public static let unreadable = Self("pin-unreadable")
    /// No terminal to ask on, and no other way to get the PIN was given.
    public static let noTerminal = Self("no-terminal")
    /// The pinentry program failed or the user cancelled it.
    public static let pinentry = Self("pinentry")
}
