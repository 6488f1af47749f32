import Foundation
import GRDB

/// The embedded store: SQLite through GRDB (WAL, synchronous FULL, one transaction per append) for rows, and a
/// folder of content-addressed blobs (`blobs/ab/abcdef...`), each written and fsynced before the row that names
/// it commits. A crash leaves at most an unreferenced blob or a `.tmp-` file, which `open` removes; never a row
/// without its blob.
public final class SQLiteHistoryStore: HistoryStore {
    public let folder: String
    private let pool: DatabasePool

    /// Opens (creating when missing) the store in `folder`: `history.sqlite` and `blobs/`.
    public init(folder: String) throws {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(
                atPath: folder + "/blobs", withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            pool = try DatabasePool(path: folder + "/history.sqlite", configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE file (number TEXT PRIMARY KEY NOT NULL, subject TEXT NOT NULL, department TEXT NOT NULL);
                        CREATE TABLE entry (
                            file TEXT NOT NULL REFERENCES file(number), sequence INTEGER NOT NULL, kind TEXT NOT NULL,
                            note TEXT NOT NULL, time REAL NOT NULL, content_hash BLOB NOT NULL, signature_hash BLOB NOT NULL,
                            signer_fingerprint BLOB NOT NULL, attachment_hash BLOB, previous_hash BLOB NOT NULL,
                            hash BLOB NOT NULL UNIQUE, PRIMARY KEY (file, sequence));
                        CREATE TABLE checkpoint (
                            file TEXT NOT NULL REFERENCES file(number), size INTEGER NOT NULL, head_hash BLOB NOT NULL,
                            time REAL NOT NULL, signature BLOB NOT NULL, PRIMARY KEY (file, size));
                        """)
            }
            migrator.registerMigration("v2-approval-requests") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE approval_request (
                            id TEXT PRIMARY KEY NOT NULL, file TEXT NOT NULL REFERENCES file(number), note TEXT NOT NULL,
                            extract_hash BLOB NOT NULL, minister TEXT NOT NULL, pps TEXT NOT NULL, issued REAL NOT NULL,
                            status TEXT NOT NULL, qr TEXT NOT NULL);
                        """)
            }
            migrator.registerMigration("v3-request-entry") { db in
                // The entry that answered a closed request (its scan approval).
                try db.execute(sql: "ALTER TABLE approval_request ADD COLUMN entry INTEGER")
            }
            migrator.registerMigration("v4-signature-once") { db in
                // One signature makes one entry: an append retried after a lost answer finds the entry it made.
                try db.execute(sql: "CREATE UNIQUE INDEX entry_signature ON entry (file, signature_hash)")
            }
            migrator.registerMigration("v5-department-log") { db in
                // The department log (docs/history.md): a leaf per entry, in commit order; entries made before the
                // log existed become its first leaves, in the order they were accepted.
                try db.execute(
                    sql: """
                        CREATE TABLE log_leaf (
                            leaf_index INTEGER PRIMARY KEY NOT NULL, file TEXT NOT NULL, sequence INTEGER NOT NULL,
                            UNIQUE (file, sequence), FOREIGN KEY (file, sequence) REFERENCES entry(file, sequence));
                        INSERT INTO log_leaf (leaf_index, file, sequence)
                            SELECT ROW_NUMBER() OVER (ORDER BY time, file, sequence) - 1, file, sequence FROM entry;
                        CREATE TABLE tree_head (size INTEGER PRIMARY KEY NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, time REAL NOT NULL);
                        CREATE TABLE cosignature (
                            size INTEGER NOT NULL REFERENCES tree_head(size), line TEXT NOT NULL, certificate BLOB NOT NULL,
                            PRIMARY KEY (size, line));
                        """)
            }
            try migrator.migrate(pool)
        } catch let error as HistoryError {
            throw error
        } catch {
            throw HistoryError(.storage, "cannot open the history store in \(folder): \(error)")
        }
        removeTemporaryBlobs()
    }

    public func createFile(_ file: FileRecord) throws {
        try storage("create file \(file.number)") {
            try pool.write { db in
                if try Row.fetchOne(db, sql: "SELECT 1 FROM file WHERE number = ?", arguments: [file.number]) != nil {
                    throw HistoryError(.fileExists, "the file \(file.number) already exists")
                }
                try db.execute(
                    sql: "INSERT INTO file (number, subject, department) VALUES (?, ?, ?)",
                    arguments: [file.number, file.subject, file.department])
            }
        }
    }

    public func file(_ number: String) throws -> FileRecord? {
        try storage("read file \(number)") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT number, subject, department FROM file WHERE number = ?", arguments: [number])
                    .map { FileRecord(number: $0["number"], subject: $0["subject"], department: $0["department"]) }
            }
        }
    }

    public func files() throws -> [FileRecord] {
        try storage("list files") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT number, subject, department FROM file ORDER BY number")
                    .map { FileRecord(number: $0["number"], subject: $0["subject"], department: $0["department"]) }
            }
        }
    }

    public func entries(of number: String) throws -> [HistoryEntry] {
        try storage("read the entries of \(number)") {
            try pool.read { db in try Self.entries(db, number) }
        }
    }

    private static func entries(_ db: Database, _ number: String, where condition: String = "", _ more: StatementArguments = [])
        throws -> [HistoryEntry]
    {
        let arguments: StatementArguments = [number] + more
        return try Row.fetchAll(db, sql: "SELECT * FROM entry WHERE file = ? \(condition) ORDER BY sequence", arguments: arguments).map { row in
            var entry = HistoryEntry(
                fileNumber: row["file"], sequence: row["sequence"], kind: EntryKind(rawValue: row["kind"]), noteID: row["note"],
                time: Date(timeIntervalSince1970: row["time"]), contentHash: Array(row["content_hash"] as Data),
                signatureHash: Array(row["signature_hash"] as Data), signerFingerprint: Array(row["signer_fingerprint"] as Data),
                attachmentHash: (row["attachment_hash"] as Data?).map(Array.init), previousHash: Array(row["previous_hash"] as Data))
            entry.hash = Array(row["hash"] as Data)  // as stored: a verifier recomputes and compares
            return entry
        }
    }

    public func head(of number: String) throws -> (size: Int, hash: [UInt8]) {
        try storage("read the head of \(number)") {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM entry WHERE file = ? ORDER BY sequence DESC LIMIT 1", arguments: [number])
                else { return (0, HistoryEntry.genesis) }
                return (row["sequence"], Array(row["hash"] as Data))
            }
        }
    }

    public func entry(of number: String, signatureHash: [UInt8]) throws -> HistoryEntry? {
        try storage("look up a signature in \(number)") {
            try pool.read { db in
                try Self.entries(db, number, where: "AND signature_hash = ?", [Data(signatureHash)]).first
            }
        }
    }

    public func checkpoints(of number: String) throws -> [Checkpoint] {
        try storage("read the checkpoints of \(number)") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM checkpoint WHERE file = ? ORDER BY size", arguments: [number]).map { row in
                    Checkpoint(
                        fileNumber: row["file"], size: row["size"], headHash: Array(row["head_hash"] as Data),
                        time: Date(timeIntervalSince1970: row["time"]), signature: Array(row["signature"] as Data))
                }
            }
        }
    }

    @discardableResult
    public func append(_ entry: HistoryEntry, checkpoint: Checkpoint?, blobs: [[UInt8]], scan: ScanAppendix?) throws -> Int {
        // The blobs first, each durable before the row that names it can commit.
        for blob in blobs { try writeBlob(blob) }
        if let scan { try moveBlob(scan) }
        return try storage("append entry \(entry.sequence) to \(entry.fileNumber)") {
            try pool.write { db -> Int in
                if let scan {
                    try db.execute(
                        sql: "UPDATE approval_request SET status = 'closed', entry = ? WHERE id = ? AND file = ? AND status = 'open'",
                        arguments: [entry.sequence, scan.requestID, entry.fileNumber])
                    guard db.changesCount == 1 else {
                        throw HistoryError(.requestClosed, "approval request \(scan.requestID) of file \(entry.fileNumber) is not open: its scan is already in")
                    }
                }
                guard try Row.fetchOne(db, sql: "SELECT 1 FROM file WHERE number = ?", arguments: [entry.fileNumber]) != nil else {
                    throw HistoryError(.unknownFile, "there is no file \(entry.fileNumber)")
                }
                let last = try Row.fetchOne(
                    db, sql: "SELECT sequence, hash FROM entry WHERE file = ? ORDER BY sequence DESC LIMIT 1",
                    arguments: [entry.fileNumber])
                let headHash = last.map { Array($0["hash"] as Data) } ?? HistoryEntry.genesis
                let size: Int = last?["sequence"] ?? 0
                guard headHash == entry.previousHash, entry.sequence == size + 1 else {
                    throw HistoryError.headMoved(file: entry.fileNumber, size: size, head: headHash)
                }
                try Self.insert(entry, db)
                if let checkpoint {
                    try db.execute(
                        sql: "INSERT INTO checkpoint (file, size, head_hash, time, signature) VALUES (?, ?, ?, ?, ?)",
                        arguments: [
                            checkpoint.fileNumber, checkpoint.size, Data(checkpoint.headHash),
                            checkpoint.time.timeIntervalSince1970, Data(checkpoint.signature),
                        ])
                }
                // The log's next leaf: one writer at a time, so the index is the count so far.
                let index = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaf") ?? 0
                try db.execute(
                    sql: "INSERT INTO log_leaf (leaf_index, file, sequence) VALUES (?, ?, ?)", arguments: [index, entry.fileNumber, entry.sequence])
                return index
            }
        }
    }

    /// One write transaction for the whole batch: the blobs are written first, as for one append.
    public func appendBatch(_ items: [(entry: HistoryEntry, blobs: [[UInt8]])]) throws -> [Result<Int, HistoryError>] {
        for item in items { for blob in item.blobs { try writeBlob(blob) } }
        return try storage("append \(items.count) entries") {
            try pool.write { db -> [Result<Int, HistoryError>] in
                var next = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaf") ?? 0
                return try items.map { item -> Result<Int, HistoryError> in
                    let entry = item.entry
                    guard try Row.fetchOne(db, sql: "SELECT 1 FROM file WHERE number = ?", arguments: [entry.fileNumber]) != nil else {
                        return .failure(HistoryError(.unknownFile, "there is no file \(entry.fileNumber)"))
                    }
                    let last = try Row.fetchOne(
                        db, sql: "SELECT sequence, hash FROM entry WHERE file = ? ORDER BY sequence DESC LIMIT 1", arguments: [entry.fileNumber])
                    let headHash = last.map { Array($0["hash"] as Data) } ?? HistoryEntry.genesis
                    let size: Int = last?["sequence"] ?? 0
                    guard headHash == entry.previousHash, entry.sequence == size + 1 else {
                        return .failure(HistoryError.headMoved(file: entry.fileNumber, size: size, head: headHash))
                    }
                    try Self.insert(entry, db)
                    try db.execute(
                        sql: "INSERT INTO log_leaf (leaf_index, file, sequence) VALUES (?, ?, ?)", arguments: [next, entry.fileNumber, entry.sequence])
                    next += 1
                    return .success(next - 1)
                }
            }
        }
    }

    public func heads(of numbers: [String]) throws -> [String: (size: Int, hash: [UInt8])] {
        try storage("read the heads of \(numbers.count) files") {
            try pool.read { db in
                var heads = [String: (size: Int, hash: [UInt8])]()
                for number in numbers {
                    if let row = try Row.fetchOne(
                        db, sql: "SELECT sequence, hash FROM entry WHERE file = ? ORDER BY sequence DESC LIMIT 1", arguments: [number])
                    {
                        heads[number] = (row["sequence"], Array(row["hash"] as Data))
                    }
                }
                return heads
            }
        }
    }

    private static func insert(_ entry: HistoryEntry, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO entry (file, sequence, kind, note, time, content_hash, signature_hash, signer_fingerprint,
                                   attachment_hash, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.fileNumber, entry.sequence, entry.kind.rawValue, entry.noteID, entry.time.timeIntervalSince1970,
                Data(entry.contentHash), Data(entry.signatureHash), Data(entry.signerFingerprint),
                entry.attachmentHash.map { Data($0) }, Data(entry.previousHash), Data(entry.hash),
            ])
    }

    // MARK: The department log

    public func logSize() throws -> Int {
        try storage("read the log's size") {
            try pool.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaf") ?? 0 }
        }
    }

    public func logLeaves(in range: Range<Int>) throws -> [LogLeafRecord] {
        try storage("read log leaves \(range.lowerBound)..<\(range.upperBound)") {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT l.leaf_index, l.file, l.sequence, e.hash, e.time FROM log_leaf l
                        JOIN entry e ON e.file = l.file AND e.sequence = l.sequence
                        WHERE l.leaf_index >= ? AND l.leaf_index < ? ORDER BY l.leaf_index
                        """, arguments: [range.lowerBound, range.upperBound]
                ).map { row in
                    LogLeafRecord(
                        index: row[0], fileNumber: row[1], sequence: row[2], entryHash: Array(row[3] as Data),
                        time: Date(timeIntervalSince1970: row[4]))
                }
            }
        }
    }

    public func leafIndexes(of number: String) throws -> [Int: Int] {
        try storage("read the leaf indexes of \(number)") {
            try pool.read { db in
                var indexes = [Int: Int]()
                for row in try Row.fetchAll(db, sql: "SELECT sequence, leaf_index FROM log_leaf WHERE file = ?", arguments: [number]) {
                    indexes[row[0]] = row[1]
                }
                return indexes
            }
        }
    }

    private static func treeHead(_ row: Row) -> StoredTreeHead {
        StoredTreeHead(size: row["size"], rootHash: Array(row["root"] as Data), note: row["note"], time: Date(timeIntervalSince1970: row["time"]))
    }

    public func latestTreeHead() throws -> StoredTreeHead? {
        try storage("read the latest tree head") {
            try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tree_head ORDER BY size DESC LIMIT 1").map(Self.treeHead) }
        }
    }

    public func treeHead(size: Int) throws -> StoredTreeHead? {
        try storage("read the tree head of size \(size)") {
            try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tree_head WHERE size = ?", arguments: [size]).map(Self.treeHead) }
        }
    }

    public func addTreeHead(_ head: StoredTreeHead) throws -> Bool {
        try storage("store the tree head of size \(head.size)") {
            try pool.write { db in
                let leaves = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaf") ?? 0
                guard leaves >= head.size else {
                    throw HistoryError(.storage, "a tree head of size \(head.size) cannot be stored: the log holds \(leaves) leaves")
                }
                if try Int.fetchOne(db, sql: "SELECT 1 FROM tree_head WHERE size >= ? LIMIT 1", arguments: [head.size]) != nil { return false }
                try db.execute(
                    sql: "INSERT INTO tree_head (size, root, note, time) VALUES (?, ?, ?, ?)",
                    arguments: [head.size, Data(head.rootHash), head.note, head.time.timeIntervalSince1970])
                return true
            }
        }
    }

    public func addCosignature(_ cosignature: StoredCosignature) throws {
        try storage("store a cosignature of the tree head of size \(cosignature.size)") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR IGNORE INTO cosignature (size, line, certificate) VALUES (?, ?, ?)",
                    arguments: [cosignature.size, cosignature.line, Data(cosignature.certificate)])
            }
        }
    }

    public func cosignatures(size: Int) throws -> [StoredCosignature] {
        try storage("read the cosignatures of the tree head of size \(size)") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT size, line, certificate FROM cosignature WHERE size = ? ORDER BY line", arguments: [size]).map {
                    StoredCosignature(size: $0[0], line: $0[1], certificate: Array($0[2] as Data))
                }
            }
        }
    }

    public func blob(_ hash: [UInt8]) throws -> [UInt8]? {
        guard hash.count == 32 else { return nil }
        return FileManager.default.contents(atPath: blobPath(hash)).map(Array.init)
    }

    func blobPath(_ hash: [UInt8]) -> String {
        let hex = Hex.encode(hash)
        return "\(folder)/blobs/\(hex.prefix(2))/\(hex)"
    }

    private func writeBlob(_ bytes: [UInt8]) throws {
        let path = blobPath(SHA256Hasher.hash(bytes))
        if FileManager.default.fileExists(atPath: path) { return }  // content-addressed: the same bytes are there
        do {
            try makeFolder(for: path)
            try AtomicFile.write(bytes, to: path, mode: 0o600)
        } catch {
            throw HistoryError(.storage, "cannot store a blob at \(path): \(error)")
        }
    }

    /// A scan (fsynced by the intake, mode 0600) into the blob store by rename: no copy of a large file. The same
    /// scan already there is kept and the upload's file removed.
    private func moveBlob(_ scan: ScanAppendix) throws {
        let path = blobPath(scan.sha256)
        if FileManager.default.fileExists(atPath: path) {
            unlink(scan.path)
            return
        }
        do {
            try makeFolder(for: path)
            try AtomicFile.move(scan.path, to: path)
        } catch {
            throw HistoryError(.storage, "cannot move the scan into the store at \(path) (the intake folder must be on the store's file system): \(error)")
        }
    }

    private func makeFolder(for path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
    }

    /// Where a stored blob is on disk, if it is (a scan is streamed from here rather than read whole).
    public func blobFile(_ hash: [UInt8]) -> String? {
        guard hash.count == 32 else { return nil }
        let path = blobPath(hash)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Leftovers of writes a crash interrupted: never referenced, since rows commit only after their blobs.
    private func removeTemporaryBlobs() {
        let root = folder + "/blobs"
        guard let shards = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for shard in shards {
            let directory = root + "/" + shard
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(".tmp-") {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
        }
    }

    private func storage<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as HistoryError {
            throw error
        } catch {
            throw HistoryError(.storage, "cannot \(what): \(error)")
        }
    }

    // MARK: Approval requests

    public func createApprovalRequest(_ request: ApprovalRequest) throws {
        try storage("store approval request \(request.id)") {
            try pool.write { db in
                guard try Row.fetchOne(db, sql: "SELECT 1 FROM file WHERE number = ?", arguments: [request.fileNumber]) != nil else {
                    throw HistoryError(.unknownFile, "there is no file \(request.fileNumber)")
                }
                try db.execute(
                    sql: """
                        INSERT INTO approval_request (id, file, note, extract_hash, minister, pps, issued, status, qr)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        request.id, request.fileNumber, request.noteID, Data(request.extractHash), request.minister,
                        request.authorisedPPS.map { Hex.encode($0) }.joined(separator: ","),
                        request.issuedAt.timeIntervalSince1970, request.status.rawValue, request.qrText,
                    ])
            }
        }
    }

    public func approvalRequest(_ id: String) throws -> ApprovalRequest? {
        try storage("read approval request \(id)") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM approval_request WHERE id = ?", arguments: [id]).map(Self.approvalRequest)
            }
        }
    }

    public func approvalRequests(of number: String) throws -> [ApprovalRequest] {
        try storage("list the approval requests of \(number)") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM approval_request WHERE file = ? ORDER BY issued, id", arguments: [number])
                    .map(Self.approvalRequest)
            }
        }
    }

    private static func approvalRequest(_ row: Row) -> ApprovalRequest {
        let pps: String = row["pps"]
        return ApprovalRequest(
            id: row["id"], fileNumber: row["file"], noteID: row["note"], extractHash: Array(row["extract_hash"] as Data),
            minister: row["minister"], authorisedPPS: pps.split(separator: ",").compactMap { Hex.decode(String($0)) },
            issuedAt: Date(timeIntervalSince1970: row["issued"]),
            status: ApprovalRequest.Status(rawValue: row["status"]) ?? .closed, qrText: row["qr"])
    }
}
