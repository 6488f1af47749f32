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

    @discardableResult
    public func append(_ entry: HistoryEntry, checkpoint: Checkpoint?, blobs: [[UInt8]], scan: ScanAppendix?) throws -> Int {
        // A scan of the largest allowed size is written in the transaction: it gets longer than a note's.
        let index = try pool.transaction("append entry \(entry.sequence) to \(entry.fileNumber)", deadline: scan == nil ? nil : 30) {
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
            if let checkpoint {
                try await connection.query(
                    """
                    INSERT INTO checkpoint (file, size, head_hash, time, signature) VALUES (
                        \(checkpoint.fileNumber), \(checkpoint.size), \(Data(checkpoint.headHash)),
                        \(checkpoint.time.timeIntervalSince1970), \(Data(checkpoint.signature)))
                    """, logger: logger)
            }
            // The log's next leaf, last: log_state's row lock orders every append of every instance, and is held
            // from here to the commit only, so leaves commit in index order and the committed ones are a prefix.
            let rows = try await connection.query(
                """
                WITH next AS (UPDATE log_state SET size = size + 1 WHERE id = 1 RETURNING size)
                INSERT INTO log_leaf (leaf_index, file, sequence) SELECT size - 1, \(entry.fileNumber), \(entry.sequence) FROM next
                RETURNING leaf_index
                """, logger: logger
            ).collect()
            guard let row = rows.first else { throw HistoryError(.storage, "the database has no log_state row: its migration 3-department-log is missing") }
            return try row.decode(Int.self)
        }
        // The scan is in the database now; the upload's file is no longer needed.
        if let scan { unlink(scan.path) }
        return index
    }

    /// One transaction for the whole batch: the files' row locks taken in one order (so two batches cannot deadlock),
    /// their heads read once, every accepted entry's blobs, rows and leaves written in three statements, log_state
    /// last (its lock held only to the commit, as for one append).
    public func appendBatch(_ items: [(entry: HistoryEntry, blobs: [[UInt8]])]) throws -> [Result<Int, HistoryError>] {
        guard !items.isEmpty else { return [] }
        let files = Array(Set(items.map(\.entry.fileNumber))).sorted()
        return try pool.transaction("append \(items.count) entries") { [logger = pool.logger] connection in
            var known = Set<String>()
            for try await number in try await connection.query(
                "SELECT number FROM file WHERE number = ANY(\(files)) ORDER BY number FOR UPDATE", logger: logger
            ).decode(String.self) {
                known.insert(number)
            }
            var heads = [String: (size: Int, hash: [UInt8])]()
            for try await (file, sequence, hash) in try await connection.query(
                "SELECT DISTINCT ON (file) file, sequence, hash FROM entry WHERE file = ANY(\(files)) ORDER BY file, sequence DESC", logger: logger
            ).decode((String, Int, Data).self) {
                heads[file] = (sequence, Array(hash))
            }
            var results = [Result<Int, HistoryError>]()
            var accepted = [(position: Int, entry: HistoryEntry, blobs: [[UInt8]])]()
            for (position, item) in items.enumerated() {
                let entry = item.entry
                guard known.contains(entry.fileNumber) else {
                    results.append(.failure(HistoryError(.unknownFile, "there is no file \(entry.fileNumber)")))
                    continue
                }
                let head = heads[entry.fileNumber] ?? (0, HistoryEntry.genesis)
                guard head.hash == entry.previousHash, entry.sequence == head.size + 1 else {
                    results.append(.failure(HistoryError.headMoved(file: entry.fileNumber, size: head.size, head: head.hash)))
                    continue
                }
                heads[entry.fileNumber] = (entry.sequence, entry.hash)
                accepted.append((position, entry, item.blobs))
                results.append(.success(-1))  // the leaf index, set below
            }
            guard !accepted.isEmpty else { return results }
            // The blobs (each once), the entries, then the leaves with log_state.
            var seen = Set<[UInt8]>()
            var blobs = PostgresBindings(), blobRows = [String]()
            for blob in accepted.flatMap(\.blobs) {
                let hash = SHA256Hasher.hash(blob)
                guard seen.insert(hash).inserted else { continue }
                try blobs.append(Data(hash))
                try blobs.append(Data(blob))
                blobRows.append("($\(blobs.count - 1), 0, $\(blobs.count))")
            }
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "INSERT INTO blob (hash, part, bytes) VALUES \(blobRows.joined(separator: ", ")) ON CONFLICT DO NOTHING", binds: blobs),
                logger: logger)
            var rows = PostgresBindings(), entryRows = [String]()
            for (_, entry, _) in accepted {
                let first = rows.count + 1
                try rows.append(entry.fileNumber)
                try rows.append(entry.sequence)
                try rows.append(entry.kind.rawValue)
                try rows.append(entry.noteID)
                try rows.append(entry.time.timeIntervalSince1970)
                try rows.append(Data(entry.contentHash))
                try rows.append(Data(entry.signatureHash))
                try rows.append(Data(entry.signerFingerprint))
                try rows.append(entry.attachmentHash.map { Data($0) })
                try rows.append(Data(entry.previousHash))
                try rows.append(Data(entry.hash))
                entryRows.append("(" + (first..<first + 11).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "INSERT INTO entry (\(Self.entryColumns)) VALUES \(entryRows.joined(separator: ", "))", binds: rows),
                logger: logger)
            var leaves = PostgresBindings(), leafRows = [String]()
            for (offset, item) in accepted.enumerated() {
                try leaves.append(item.entry.fileNumber)
                try leaves.append(item.entry.sequence)
                try leaves.append(offset)
                leafRows.append("($\(leaves.count - 2)::text, $\(leaves.count - 1)::integer, $\(leaves.count)::bigint)")
            }
            let count = accepted.count
            let rowsAnswer = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        WITH next AS (UPDATE log_state SET size = size + \(count) WHERE id = 1 RETURNING size),
                        added AS (
                            INSERT INTO log_leaf (leaf_index, file, sequence)
                            SELECT next.size - \(count) + v.ordinal, v.file, v.sequence FROM next, (VALUES \(leafRows.joined(separator: ", "))) AS v(file, sequence, ordinal)
                            RETURNING 1)
                        SELECT size - \(count) FROM next
                        """, binds: leaves),
                logger: logger
            ).collect()
            guard let base = try rowsAnswer.first?.decode(Int.self) else {
                throw HistoryError(.storage, "the database has no log_state row: its migration 3-department-log is missing")
            }
            for (offset, item) in accepted.enumerated() { results[item.position] = .success(base + offset) }
            return results
        }
    }

    public func entries(signedWith signatures: [(file: String, signatureHash: [UInt8])]) throws
        -> [SignedEntryKey: (entry: HistoryEntry, leafIndex: Int)]
    {
        guard !signatures.isEmpty else { return [:] }
        let files = Array(Set(signatures.map(\.file))), hashes = signatures.map { ByteBuffer(bytes: $0.signatureHash) }
        let wanted = Set(signatures.map { SignedEntryKey(file: $0.file, signatureHash: $0.signatureHash) })
        return try pool.run("look up \(signatures.count) signatures") { [logger = pool.logger] connection in
            var found = [SignedEntryKey: (entry: HistoryEntry, leafIndex: Int)]()
            for row in try await connection.query(
                """
                SELECT \(unescaped: Self.entryColumns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")),
                       l.leaf_index
                FROM entry e JOIN log_leaf l ON l.file = e.file AND l.sequence = e.sequence
                WHERE e.file = ANY(\(files)) AND e.signature_hash = ANY(\(hashes))
                """, logger: logger
            ).collect() {
                let entry = try Self.entry(row)
                let index = try row.decode((String, Int, String, String, Double, Data, Data, Data, Data?, Data, Data, Int).self).11
                let key = SignedEntryKey(file: entry.fileNumber, signatureHash: entry.signatureHash)
                if wanted.contains(key) { found[key] = (entry, index) }
            }
            return found
        }
    }

    public func files(_ numbers: [String]) throws -> [String: FileRecord] {
        guard !numbers.isEmpty else { return [:] }
        return try pool.run("read \(numbers.count) files") { [logger = pool.logger] connection in
            var found = [String: FileRecord]()
            for try await (number, subject, department) in try await connection.query(
                "SELECT number, subject, department FROM file WHERE number = ANY(\(numbers))", logger: logger
            ).decode((String, String, String).self) {
                found[number] = FileRecord(number: number, subject: subject, department: department)
            }
            return found
        }
    }

    public func heads(of numbers: [String]) throws -> [String: (size: Int, hash: [UInt8])] {
        guard !numbers.isEmpty else { return [:] }
        return try pool.run("read the heads of \(numbers.count) files") { [logger = pool.logger] connection in
            var heads = [String: (size: Int, hash: [UInt8])]()
            for try await (file, sequence, hash) in try await connection.query(
                "SELECT DISTINCT ON (file) file, sequence, hash FROM entry WHERE file = ANY(\(numbers)) ORDER BY file, sequence DESC", logger: logger
            ).decode((String, Int, Data).self) {
                heads[file] = (sequence, Array(hash))
            }
            return heads
        }
    }

    // MARK: The department log

    public func logSize() throws -> Int {
        try pool.run("read the log's size") { [logger = pool.logger] connection in
            try await connection.query("SELECT size FROM log_state WHERE id = 1", logger: logger).collect().first?.decode(Int.self) ?? 0
        }
    }

    public func logLeaves(in range: Range<Int>) throws -> [LogLeafRecord] {
        try pool.run("read log leaves \(range.lowerBound)..<\(range.upperBound)") { [logger = pool.logger] connection in
            try await connection.query(
                """
                SELECT l.leaf_index, l.file, l.sequence, e.hash, e.time FROM log_leaf l
                JOIN entry e ON e.file = l.file AND e.sequence = l.sequence
                WHERE l.leaf_index >= \(range.lowerBound) AND l.leaf_index < \(range.upperBound) ORDER BY l.leaf_index
                """, logger: logger
            ).collect().map { row in
                let (index, file, sequence, hash, time) = try row.decode((Int, String, Int, Data, Double).self)
                return LogLeafRecord(index: index, fileNumber: file, sequence: sequence, entryHash: Array(hash), time: Date(timeIntervalSince1970: time))
            }
        }
    }

    public func leafIndexes(of number: String) throws -> [Int: Int] {
        try pool.run("read the leaf indexes of \(number)") { [logger = pool.logger] connection in
            var indexes = [Int: Int]()
            for try await (sequence, index) in try await connection.query(
                "SELECT sequence, leaf_index FROM log_leaf WHERE file = \(number)", logger: logger
            ).decode((Int, Int).self) {
                indexes[sequence] = index
            }
            return indexes
        }
    }

    static func treeHead(_ row: PostgresRow) throws -> StoredTreeHead {
        let (size, root, note, time) = try row.decode((Int, Data, String, Double).self)
        return StoredTreeHead(size: size, rootHash: Array(root), note: note, time: Date(timeIntervalSince1970: time))
    }

    public func latestTreeHead() throws -> StoredTreeHead? {
        try pool.run("read the latest tree head") { [logger = pool.logger] connection in
            try await connection.query("SELECT size, root, note, time FROM tree_head ORDER BY size DESC LIMIT 1", logger: logger)
                .collect().first.map(Self.treeHead)
        }
    }

    public func treeHead(size: Int) throws -> StoredTreeHead? {
        try pool.run("read the tree head of size \(size)") { [logger = pool.logger] connection in
            try await connection.query("SELECT size, root, note, time FROM tree_head WHERE size = \(size)", logger: logger)
                .collect().first.map(Self.treeHead)
        }
    }

    public func addTreeHead(_ head: StoredTreeHead) throws -> Bool {
        try pool.transaction("store the tree head of size \(head.size)") { [logger = pool.logger] connection in
            // One head stored at a time across instances, so the size check below cannot race another instance's.
            try await connection.query("SELECT pg_advisory_xact_lock(7318350122)", logger: logger)
            let leaves = try await connection.query("SELECT size FROM log_state WHERE id = 1", logger: logger).collect().first?.decode(Int.self) ?? 0
            guard leaves >= head.size else {
                throw HistoryError(.storage, "a tree head of size \(head.size) cannot be stored: the log holds \(leaves) leaves")
            }
            guard try await connection.query("SELECT 1 FROM tree_head WHERE size >= \(head.size) LIMIT 1", logger: logger).collect().isEmpty
            else { return false }
            try await connection.query(
                """
                INSERT INTO tree_head (size, root, note, time)
                VALUES (\(head.size), \(Data(head.rootHash)), \(head.note), \(head.time.timeIntervalSince1970))
                """, logger: logger)
            return true
        }
    }

    public func addCosignature(_ cosignature: StoredCosignature) throws {
        try pool.run("store a cosignature of the tree head of size \(cosignature.size)") { [logger = pool.logger] connection in
            try await connection.query(
                """
                INSERT INTO cosignature (size, line, certificate) VALUES (\(cosignature.size), \(cosignature.line), \(Data(cosignature.certificate)))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }

    public func cosignatures(size: Int) throws -> [StoredCosignature] {
        try pool.run("read the cosignatures of the tree head of size \(size)") { [logger = pool.logger] connection in
            try await connection.query("SELECT size, line, certificate FROM cosignature WHERE size = \(size) ORDER BY line", logger: logger)
                .collect().map { row in
                    let (size, line, certificate) = try row.decode((Int, String, Data).self)
                    return StoredCosignature(size: size, line: line, certificate: Array(certificate))
                }
        }
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
