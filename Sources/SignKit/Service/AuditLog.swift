import Foundation
import Synchronization

/// One audited event: a signature, an upload, a pairing step, a verification or a refusal.
public struct AuditRecord: Codable, Sendable, Equatable {
    public var sequence: Int
    public var time: String
    /// sign, sign-batch, sign-login, verify, upload, pairing-requested, pairing-approved, pairing-revoked, refused,
    /// refused-summary (refusals counted, not written one by one), audit-repaired (a torn last line cut off), started,
    /// stopped.
    public var action: String
    /// ok, refused or failed.
    public var result: String
    /// The web origin that asked (absent for local clients).
    public var origin: String?
    public var file: String?
    public var note: String?
    /// SHA-256 fingerprint of the signing certificate.
    public var certificate: String?
    public var detail: String?
    /// The hash of the record before this one (64 zeros for the first).
    public var previous: String

    public init(
        sequence: Int = 0, time: Date, action: String, result: String, origin: String? = nil, file: String? = nil,
        note: String? = nil, certificate: String? = nil, detail: String? = nil
    ) {
        self.sequence = sequence
        self.time = UTCTimeText.format(time)
        self.action = action
        self.result = result
        self.origin = origin
        self.file = file
        self.note = note
        self.certificate = certificate
        self.detail = detail
        self.previous = AuditLog.genesis
    }
}

/// An append-only audit log with a hash chain (docs/daemon.md). Each line is one JSON object: the record's fields
/// in sorted-key order, then `"hash"`, the SHA-256 of every byte of the line before `,"hash"`. Each record names
/// the hash of the one before it, so an edited, removed, inserted or reordered line breaks the chain at that point.
/// Every line is written with one `write` on an O_APPEND descriptor and fsynced before `append` returns.
/// What a chain cannot show is the last lines cut off: compare the head `verify` prints with one noted elsewhere.
public final class AuditLog: Sendable {
    public static let genesis = String(repeating: "0", count: 64)
    public let path: String
    private struct State: Sendable {
        var descriptor: Int32
        var sequence: Int
        var head: String
        /// The file's length after the last whole record.
        var size: off_t
    }
    private let state: Mutex<State>
    /// Bytes of a torn last line (a write cut short by a crash or a full disk) removed when the log was opened.
    public let repairedBytes: Int

    /// Opens (or creates, mode 0600; never through a symbolic link) the log at `path`. A last line without its line
    /// end (a write cut short by a crash) is cut off first; then the log must verify, or the daemon does not start on
    /// top of a log someone has edited.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw AuditError("cannot open the audit log \(path): \(String(cString: strerror(errno)))") }
        do {
            repairedBytes = try Self.cutTornLine(descriptor, path: path)
            let summary = try Self.verify(path: path)
            if let problem = summary.problem {
                throw AuditError("the audit log \(path) does not verify: \(problem)")
            }
            state = Mutex(State(descriptor: descriptor, sequence: summary.records, head: summary.head, size: lseek(descriptor, 0, SEEK_END)))
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Cuts the file back to just after its last line end; returns how many bytes went.
    private static func cutTornLine(_ descriptor: Int32, path: String) throws -> Int {
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0 else { return 0 }
        var end = size
        var byte: UInt8 = 0
        // Back from the end to the last "\n", in one-byte reads: a torn line is at most one record long.
        while end > 0 {
            guard pread(descriptor, &byte, 1, end - 1) == 1 else {
                throw AuditError("cannot read the audit log \(path): \(String(cString: strerror(errno)))")
            }
            if byte == UInt8(ascii: "\n") { break }
            end -= 1
        }
        guard end < size else { return 0 }
        guard ftruncate(descriptor, end) == 0, fsync(descriptor) == 0 else {
            throw AuditError("cannot cut the torn last line of the audit log \(path): \(String(cString: strerror(errno)))")
        }
        return Int(size - end)
    }

    deinit { _ = state.withLock { close($0.descriptor) } }

    /// Appends `record` (its sequence and previous hash are set here) and returns it as written.
    @discardableResult
    public func append(_ record: AuditRecord) throws -> AuditRecord {
        try append(contentsOf: [record])[0]
    }

    /// Appends `records` in order, each chained to the one before as `append` chains one, with one write and one fsync
    /// for them all (a batch of appends); all go in or none does.
    @discardableResult
    public func append(contentsOf records: [AuditRecord]) throws -> [AuditRecord] {
        try state.withLock { state in
            var written = [AuditRecord](), bytes = [UInt8](), sequence = state.sequence, head = state.head
            for var record in records {
                sequence += 1
                (record.sequence, record.previous) = (sequence, head)
                let (line, hash) = try Self.line(for: record)
                bytes += line
                head = hash
                written.append(record)
            }
            let count = bytes.withUnsafeBytes { write(state.descriptor, $0.baseAddress, $0.count) }
            guard count == bytes.count, fsync(state.descriptor) == 0 else {
                let reason = count >= 0 && count < bytes.count ? "the disk took \(count) of \(bytes.count) bytes" : String(cString: strerror(errno))
                // Records that did not go in whole go out whole: the log ends on its last complete line, and the
                // chain goes on from there when writing works again.
                _ = ftruncate(state.descriptor, state.size)
                throw AuditError("cannot write the audit log \(path): \(reason)")
            }
            state.size += off_t(bytes.count)
            state.sequence = sequence
            state.head = head
            return written
        }
    }

    public var head: (records: Int, hash: String) { state.withLock { ($0.sequence, $0.head) } }

    static func line(for record: AuditRecord) throws -> (line: [UInt8], hash: String) {
        var body = Array(try JSONOutput.encoder(pretty: false).encode(record))
        guard body.last == UInt8(ascii: "}") else { throw AuditError("a record did not encode as an object") }
        body.removeLast()
        let hash = Hex.encode(SHA256Hasher.hash(body))
        return (body + Array(",\"hash\":\"\(hash)\"}\n".utf8), hash)
    }

    /// Reads the log at `path` and checks every line: its hash, its sequence and the previous record's hash.
    public static func verify(path: String) throws -> AuditSummary {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AuditError("cannot read the audit log \(path): \(error.localizedDescription)")
        }
        var previous = genesis
        var count = 0
        let suffixLength = ",\"hash\":\"".utf8.count + 64 + 2
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline
        for (index, rawLine) in lines.enumerated() {
            let line = Array(rawLine)
            if line.isEmpty { return AuditSummary(records: count, head: previous, problem: "line \(index + 1) is empty") }
            guard line.count > suffixLength, line.suffix(2).elementsEqual("\"}".utf8),
                line[line.count - suffixLength..<line.count - 66].elementsEqual(",\"hash\":\"".utf8)
            else {
                return AuditSummary(records: count, head: previous, problem: "line \(index + 1) is not an audit record (no hash at its end)")
            }
            let body = Array(line[..<(line.count - suffixLength)])
            let stated = String(decoding: line[(line.count - 66)..<(line.count - 2)], as: UTF8.self)
            guard Hex.encode(SHA256Hasher.hash(body)) == stated else {
                return AuditSummary(records: count, head: previous, problem: "line \(index + 1) was changed: its hash does not match its content")
            }
            guard let record = try? JSONDecoder().decode(AuditRecord.self, from: Data(body + [UInt8(ascii: "}")])) else {
                return AuditSummary(records: count, head: previous, problem: "line \(index + 1) does not read as an audit record")
            }
            guard record.sequence == count + 1 else {
                return AuditSummary(
                    records: count, head: previous,
                    problem: "line \(index + 1) has sequence \(record.sequence), expected \(count + 1): records were removed, inserted or reordered")
            }
            guard record.previous == previous else {
                return AuditSummary(records: count, head: previous, problem: "line \(index + 1) does not follow the record before it (previous hash differs)")
            }
            previous = stated
            count += 1
        }
        return AuditSummary(records: count, head: previous)
    }
}

public struct AuditSummary: Sendable {
    public let records: Int
    /// The last record's hash.
    public let head: String
    /// What is wrong, if anything; `records` counts the lines that verified before it.
    public var problem: String? = nil
}

public typealias AuditError = SingleCodeError<AuditErrorDomain>

/// "audit-log": the log cannot be read, written or does not verify.
public enum AuditErrorDomain: SingleCodeDomain { public static let codeName = "audit-log" }
