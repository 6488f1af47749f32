import Foundation
import Logging
import PostgresNIO

/// The department's store: file histories in PostgreSQL, shared by every instance of the records service.
///
/// An append takes the file's row lock (`SELECT … FOR UPDATE`) and checks the head inside the same transaction, so
/// appends to one file serialise across instances while other files go on in parallel; the entry, its checkpoint,
/// its blobs (extract, signature, scan) and the closing of an approval request commit together or not at all.
/// Blobs live in the database (`blob`, in parts), so every instance reaches them and none can outlive or precede
/// its row.
public final class PostgresHistoryStore: HistoryStore {
    public let pool: PostgresPool
    /// The size of a blob part: a scan of the largest allowed size is written and read 1 MiB at a time.
    static let part = 1 << 20

    /// Connects to `url` (the service's role), applying missing migrations through `migrationURL` (a role that owns
    /// the schema) when given, else through `url`.
    public init(url: String, migrationURL: String? = nil, deadline: Double = 5, logger: Logger = Logger(label: "signkit.postgres")) throws {
        pool = try PostgresPool(PostgresLocation(url: url), deadline: deadline, logger: logger)
        do {
            if let migrationURL {
                let owner = try PostgresPool(PostgresLocation(url: migrationURL), maximumConnections: 1, logger: logger)
                defer { owner.close() }
                try PostgresSchema.migrate(owner)
            } else {
                try PostgresSchema.migrate(pool)
            }
        } catch {
            pool.close()
            throw error
        }
    }

    public func close() { pool.close() }

    public func createFile(_ file: FileRecord) throws {
        try pool.transaction("create file \(file.number)") { [logger = pool.logger] connection in
            let rows = try await connection.query(
                """
                INSERT INTO file (number, subject, department) VALUES (\(file.number), \(file.subject), \(file.department))
                ON CONFLICT (number) DO NOTHING RETURNING 1
                """, logger: logger
            ).collect()
            guard !rows.isEmpty else { throw HistoryError(.fileExists, "the file \(file.number) already exists") }
        }
    }

    public func file(_ number: String) throws -> FileRecord? {
        try pool.run("read file \(number)") { [logger = pool.logger] connection in
            try await connection.query("SELECT number, subject, department FROM file WHERE number = \(number)", logger: logger)
                .collect().first.map { row in
                    let (number, subject, department) = try row.decode((String, String, String).self)
                    return FileRecord(number: number, subject: subject, department: department)
                }
        }
    }

    public func files() throws -> [FileRecord] {
        try pool.run("list files") { [logger = pool.logger] connection in
            try await connection.query("SELECT number, subject, department FROM file ORDER BY number", logger: logger)
                .collect().map { row in
                    let (number, subject, department) = try row.decode((String, String, String).self)
                    return FileRecord(number: number, subject: subject, department: department)
                }
        }
    }

    static let entryColumns =
        "file, sequence, kind, note, time, content_hash, signature_hash, signer_fingerprint, attachment_hash, previous_hash, hash"

    static func entry(_ row: PostgresRow) throws -> HistoryEntry {
        let (file, sequence, kind, note, time, content, signature, signer, attachment, previous, hash) = try row.decode(
            (String, Int, String, String, Double, Data, Data, Data, Data?, Data, Data).self)
        var entry = HistoryEntry(
            fileNumber: file, sequence: sequence, kind: EntryKind(rawValue: kind), noteID: note,
            time: Date(timeIntervalSince1970: time), contentHash: Array(content), signatureHash: Array(signature),
            signerFingerprint: Array(signer), attachmentHash: attachment.map(Array.init), previousHash: Array(previous))
        entry.hash = Array(hash)  // as stored: a verifier recomputes and compares
        return entry
    }

    public func entries(of number: String) throws -> [HistoryEntry] {
        try pool.run("read the entries of \(number)") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT \(unescaped: Self.entryColumns) FROM entry WHERE file = \(number) ORDER BY sequence", logger: logger
            ).collect().map(Self.entry)
        }
    }

    public func entry(of number: String, signatureHash: [UInt8]) throws -> HistoryEntry? {
        try pool.run("look up a signature in \(number)") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT \(unescaped: Self.entryColumns) FROM entry WHERE file = \(number) AND signature_hash = \(Data(signatureHash))",
                logger: logger
            ).collect().first.map(Self.entry)
        }
    }

    public func head(of number: String) throws -> (size: Int, hash: [UInt8]) {
        try pool.run("read the head of \(number)") { [logger = pool.logger] connection in
            guard
                let row = try await connection.query(
                    "SELECT sequence, hash FROM entry WHERE file = \(number) ORDER BY sequence DESC LIMIT 1", logger: logger
                ).collect().first
            else { return (0, HistoryEntry.genesis) }
            let (sequence, hash) = try row.decode((Int, Data).self)
            return (sequence, Array(hash))
        }
    }

    public func checkpoints(of number: String) throws -> [Checkpoint] {
        try pool.run("read the checkpoints of \(number)") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT file, size, head_hash, time, signature FROM checkpoint WHERE file = \(number) ORDER BY size", logger: logger
            ).collect().map { row in
                let (file, size, head, time, signature) = try row.decode((String, Int, Data, Double, Data).self)
                return Checkpoint(
                    fileNumber: file, size: size, headHash: Array(head), time: Date(timeIntervalSince1970: time), signature: Array(signature))
            }
        }
    }

    public func append(_ entry: HistoryEntry, checkpoint: Checkpoint, blobs: [[UInt8]], scan: ScanAppendix?) throws {
        // A scan of the largest allowed size is written in the transaction: it gets longer than a note's.
        try pool.transaction("append entry \(entry.sequence) to \(entry.fileNumber)", deadline: scan == nil ? nil : 30) {
            [logger = pool.logger] connection in
            // The file's row lock: appends to this file wait here, whichever instance took them.
            guard try await !connection.query("SELECT 1 FROM file WHERE number = \(entry.fileNumber) FOR UPDATE", logger: logger).collect().isEmpty
            else { throw HistoryError(.unknownFile, "there is no file \(entry.fileNumber)") }
            let last = try await connection.query(
                "SELECT sequence, hash FROM entry WHERE file = \(entry.fileNumber) ORDER BY sequence DESC LIMIT 1", logger: logger
            ).collect().first.map { try $0.decode((Int, Data).self) }
            let size = last?.0 ?? 0
            let head = last.map { Array($0.1) } ?? HistoryEntry.genesis
            guard head == entry.previousHash, entry.sequence == size + 1 else {
                throw HistoryError.headMoved(file: entry.fileNumber, size: size, head: head)
            }
            if let scan {
                let closed = try await connection.query(
                    """
                    UPDATE approval_request SET status = 'closed', entry = \(entry.sequence)
                    WHERE id = \(scan.requestID) AND file = \(entry.fileNumber) AND status = 'open' RETURNING 1
                    """, logger: logger
                ).collect()
                guard !closed.isEmpty else {
                    throw HistoryError(
                        .requestClosed, "approval request \(scan.requestID) of file \(entry.fileNumber) is not open: its scan is already in")
                }
                try await Self.storeFile(scan.path, hash: scan.sha256, on: connection, logger: logger)
            }
            for blob in blobs { try await Self.store(blob, on: connection, logger: logger) }
            try await connection.query(
                """
                INSERT INTO entry (\(unescaped: Self.entryColumns)) VALUES (
                    \(entry.fileNumber), \(entry.sequence), \(entry.kind.rawValue), \(entry.noteID), \(entry.time.timeIntervalSince1970),
                    \(Data(entry.contentHash)), \(Data(entry.signatureHash)), \(Data(entry.signerFingerprint)),
                    \(entry.attachmentHash.map { Data($0) }), \(Data(entry.previousHash)), \(Data(entry.hash)))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO checkpoint (file, size, head_hash, time, signature) VALUES (
                    \(checkpoint.fileNumber), \(checkpoint.size), \(Data(checkpoint.headHash)),
                    \(checkpoint.time.timeIntervalSince1970), \(Data(checkpoint.signature)))
                """, logger: logger)
        }
        // The scan is in the database now; the upload's file is no longer needed.
        if let scan { unlink(scan.path) }
    }

    /// A blob in one part (extracts and signatures are small), kept if the same bytes are already there.
    private static func store(_ bytes: [UInt8], on connection: PostgresConnection, logger: Logger) async throws {
        let hash = Data(SHA256Hasher.hash(bytes))
        try await connection.query(
            "INSERT INTO blob (hash, part, bytes) VALUES (\(hash), 0, \(Data(bytes))) ON CONFLICT DO NOTHING", logger: logger)
    }

    /// A checked scan, read from disk and written part by part (never whole in memory).
    private static func storeFile(_ path: String, hash: [UInt8], on connection: PostgresConnection, logger: Logger) async throws {
        let key = Data(hash)
        guard try await connection.query("SELECT 1 FROM blob WHERE hash = \(key) LIMIT 1", logger: logger).collect().isEmpty else { return }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HistoryError(.storage, "cannot read the checked scan at \(path)")
        }
        defer { try? handle.close() }
        var index = 0
        while let data = try handle.read(upToCount: part), !data.isEmpty {
            try await connection.query("INSERT INTO blob (hash, part, bytes) VALUES (\(key), \(index), \(data))", logger: logger)
            index += 1
        }
        if index == 0 { try await connection.query("INSERT INTO blob (hash, part, bytes) VALUES (\(key), 0, \(Data()))", logger: logger) }
    }

    public func blob(_ hash: [UInt8]) throws -> [UInt8]? {
        guard hash.count == 32 else { return nil }
        return try pool.run("read a blob") { [logger = pool.logger] connection in
            var bytes = [UInt8]()
            var found = false
            for try await part in try await connection.query(
                "SELECT bytes FROM blob WHERE hash = \(Data(hash)) ORDER BY part", logger: logger
            ).decode(Data.self) {
                found = true
                bytes += part
            }
            return found ? bytes : nil
        }
    }

    /// Blobs are rows, not files.
    public func blobFile(_ hash: [UInt8]) -> String? { nil }

    // MARK: Approval requests

    public func createApprovalRequest(_ request: ApprovalRequest) throws {
        try pool.transaction("store approval request \(request.id)") { [logger = pool.logger] connection in
            guard try await !connection.query("SELECT 1 FROM file WHERE number = \(request.fileNumber)", logger: logger).collect().isEmpty else {
                throw HistoryError(.unknownFile, "there is no file \(request.fileNumber)")
            }
            try await connection.query(
                """
                INSERT INTO approval_request (id, file, note, extract_hash, minister, pps, issued, status, qr) VALUES (
                    \(request.id), \(request.fileNumber), \(request.noteID), \(Data(request.extractHash)), \(request.minister),
                    \(request.authorisedPPS.map { Hex.encode($0) }.joined(separator: ",")), \(request.issuedAt.timeIntervalSince1970),
                    \(request.status.rawValue), \(request.qrText))
                """, logger: logger)
        }
    }

    static let requestColumns = "id, file, note, extract_hash, minister, pps, issued, status, qr"

    static func approvalRequest(_ row: PostgresRow) throws -> ApprovalRequest {
        let (id, file, note, extract, minister, pps, issued, status, qr) = try row.decode(
            (String, String, String, Data, String, String, Double, String, String).self)
        return ApprovalRequest(
            id: id, fileNumber: file, noteID: note, extractHash: Array(extract), minister: minister,
            authorisedPPS: pps.split(separator: ",").compactMap { Hex.decode(String($0)) }, issuedAt: Date(timeIntervalSince1970: issued),
            status: ApprovalRequest.Status(rawValue: status) ?? .closed, qrText: qr)
    }

    public func approvalRequest(_ id: String) throws -> ApprovalRequest? {
        try pool.run("read approval request \(id)") { [logger = pool.logger] connection in
            try await connection.query("SELECT \(unescaped: Self.requestColumns) FROM approval_request WHERE id = \(id)", logger: logger)
                .collect().first.map(Self.approvalRequest)
        }
    }

    public func approvalRequests(of number: String) throws -> [ApprovalRequest] {
        try pool.run("list the approval requests of \(number)") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT \(unescaped: Self.requestColumns) FROM approval_request WHERE file = \(number) ORDER BY issued, id", logger: logger
            ).collect().map(Self.approvalRequest)
        }
    }
}
