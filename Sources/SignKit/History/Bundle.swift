import Foundation
import ZIPFoundation

/// A file's history as one zip that verifies offline (docs/history.md):
///
/// ```
/// manifest.json                 schema signservice.bundle/1: the file, the entries, the checkpoints, the seal
/// contents/<sha256>             each signed extract (or attestation document)
/// attachments/<sha256>          each scan of a scan approval
/// signatures/<sequence>.p7s     each entry's signature
/// checkpoints/<size>.p7s        the service's signature over each checkpoint
/// certificates/<sha256>.der     every certificate on every path (signers, CAs, the TSA's)
/// revocation/<sha256>.der       the CRLs and OCSP responses the verification used
/// log/checkpoint                the department log's signed tree head (with witnesses' cosignatures) that every
///                               entry's inclusion proof in the manifest leads to
/// seal.p7s                      the service's signature over manifest.json as written, made at export
/// ```
public struct BundleManifest: Encodable, Sendable {
    public var schema = "signservice.bundle/1"
    public var file: FileRecord
    public var exportedAt: Date
    public var exportedBy: String
    public var entries: [Entry]
    public var checkpoints: [CheckpointReference]
    public var certificates: [String]
    public var revocation: [String]
    /// The department log's tree head the entries are proven against; absent in bundles of a store without a log.
    public var log: LogReference? = nil

    /// Where the log's tree head is in the bundle, and which head it is.
    public struct LogReference: Encodable, Sendable {
        public var origin: String
        public var treeSize: Int
        /// The head's root hash, hex.
        public var rootHash: String
        /// The member holding the signed note.
        public var checkpoint: String
    }

    public struct Entry: Encodable, Sendable {
        public var sequence: Int
        public var kind: String
        public var noteID: String
        public var time: Date
        public var contentHash: String
        public var signatureHash: String
        public var signerFingerprint: String
        public var attachmentHash: String?
        public var previousHash: String
        public var hash: String
        public var content: String
        public var signature: String
        public var attachment: String?
        /// The entry's leaf in the department log and its audit path (hex) to `log`'s tree head.
        public var leafIndex: Int? = nil
        public var inclusion: [String]? = nil
    }

    public struct CheckpointReference: Encodable, Sendable {
        public var size: Int
        public var headHash: String
        public var time: Date
        public var signature: String
        /// SHA-256 of the signature file: the seal, covering the manifest, covers every checkpoint through it.
        public var signatureHash: String
    }

    static func encoder() -> JSONEncoder { JSONOutput.encoder() }

    /// Reads manifest.json whole (`Outline` and every entry and checkpoint).
    public static func parse(_ bytes: [UInt8]) throws -> BundleManifest {
        let outline = try Outline(bytes)
        return BundleManifest(
            schema: outline.schema, file: outline.file, exportedAt: outline.exportedAt, exportedBy: outline.exportedBy,
            entries: try outline.entryRanges.indices.map(outline.entry), checkpoints: try outline.checkpointRanges.indices.map(outline.checkpoint),
            certificates: outline.certificates, revocation: outline.revocation, log: outline.log)
    }

    /// manifest.json read in one pass (`JSONReader`, no intermediate tree) except for the entries and checkpoints,
    /// which are only delimited: each is read on its own (`entry(_:)`, `checkpoint(_:)`), so that the verification
    /// of a big bundle reads them on every core. Unknown keys are skipped, missing ones named; times must be in the
    /// manifest's own "2026-11-23T07:01:49Z" form.
    struct Outline {
        let bytes: [UInt8]
        var schema: String, file: FileRecord, exportedAt: Date, exportedBy: String
        var certificates: [String], revocation: [String]
        var entryRanges: [Range<Int>], checkpointRanges: [Range<Int>]
        var log: LogReference?

        init(_ bytes: [UInt8]) throws {
            self.bytes = bytes
            var reader = JSONReader(bytes)
            var schema: String?, file: FileRecord?, exportedAt: Date?, exportedBy: String?
            var entries: [Range<Int>]?, checkpoints: [Range<Int>]?, certificates: [String]?, revocation: [String]?
            var log: LogReference?
            try reader.object("the manifest") { reader, key in
                switch key {
                case "schema": schema = try reader.string(key)
                case "file": file = try parseFile(&reader)
                case "exportedAt": exportedAt = try time(&reader, key)
                case "exportedBy": exportedBy = try reader.string(key)
                case "entries": entries = try reader.elementRanges(key)
                case "checkpoints": checkpoints = try reader.elementRanges(key)
                case "certificates": certificates = try strings(&reader, key)
                case "revocation": revocation = try strings(&reader, key)
                case "log": log = try parseLog(&reader)
                default: try reader.skip()
                }
            }
            try reader.end()
            guard let schema else { throw missing("schema", in: "the manifest") }
            guard let file else { throw missing("file", in: "the manifest") }
            guard let exportedAt else { throw missing("exportedAt", in: "the manifest") }
            guard let exportedBy else { throw missing("exportedBy", in: "the manifest") }
            guard let entries else { throw missing("entries", in: "the manifest") }
            guard let checkpoints else { throw missing("checkpoints", in: "the manifest") }
            (self.schema, self.file, self.exportedAt, self.exportedBy) = (schema, file, exportedAt, exportedBy)
            (self.entryRanges, self.checkpointRanges, self.certificates, self.revocation) = (entries, checkpoints, certificates ?? [], revocation ?? [])
            self.log = log
        }

        /// Entry `index` (from 0).
        func entry(_ index: Int) throws -> Entry {
            var reader = JSONReader(bytes, range: entryRanges[index])
            let entry = try parseEntry(&reader, position: index + 1)
            try reader.end()
            return entry
        }

        /// Checkpoint reference `index` (from 0).
        func checkpoint(_ index: Int) throws -> CheckpointReference {
            var reader = JSONReader(bytes, range: checkpointRanges[index])
            let checkpoint = try parseCheckpoint(&reader, position: index + 1)
            try reader.end()
            return checkpoint
        }
    }

    static func missing(_ key: String, in what: String) -> JSONReader.Failure { JSONReader.Failure(description: "\(what) has no \"\(key)\"") }

    static func time(_ reader: inout JSONReader, _ what: String) throws -> Date {
        let text = try reader.string(what)
        guard let date = UTCTimeText.parse(text) else {
            throw JSONReader.Failure(description: "\(what) \"\(text)\" is not a time like 2026-11-23T07:01:49Z")
        }
        return date
    }

    static func strings(_ reader: inout JSONReader, _ what: String) throws -> [String] {
        var list = [String]()
        try reader.array(what) { reader in list.append(try reader.string(what)) }
        return list
    }

    static func parseFile(_ reader: inout JSONReader) throws -> FileRecord {
        var number: String?, subject: String?, department: String?
        try reader.object("file") { reader, key in
            switch key {
            case "number": number = try reader.string(key)
            case "subject": subject = try reader.string(key)
            case "department": department = try reader.string(key)
            default: try reader.skip()
            }
        }
        guard let number else { throw missing("number", in: "file") }
        return FileRecord(number: number, subject: subject ?? "", department: department ?? "")
    }

    static func parseLog(_ reader: inout JSONReader) throws -> LogReference {
        var origin: String?, treeSize: Int?, rootHash: String?, checkpoint: String?
        try reader.object("log") { reader, key in
            switch key {
            case "origin": origin = try reader.string(key)
            case "treeSize": treeSize = try reader.count(key)
            case "rootHash": rootHash = try reader.string(key)
            case "checkpoint": checkpoint = try reader.string(key)
            default: try reader.skip()
            }
        }
        guard let origin else { throw missing("origin", in: "log") }
        guard let treeSize else { throw missing("treeSize", in: "log") }
        guard let rootHash else { throw missing("rootHash", in: "log") }
        guard let checkpoint else { throw missing("checkpoint", in: "log") }
        return LogReference(origin: origin, treeSize: treeSize, rootHash: rootHash, checkpoint: checkpoint)
    }

    static func parseEntry(_ reader: inout JSONReader, position: Int) throws -> Entry {
        var sequence: Int?, kind: String?, noteID: String?, time: Date?, contentHash: String?, signatureHash: String?
        var signerFingerprint: String?, attachmentHash: String?, previousHash: String?, hash: String?, content: String?
        var signature: String?, attachment: String?, leafIndex: Int?, inclusion: [String]?
        func what() -> String { "entry \(position)" }  // for errors only: made when one is thrown
        try reader.object(what()) { reader, key in
            switch key {
            case "sequence": sequence = try reader.count(key)
            case "kind": kind = try reader.string(key)
            case "noteID": noteID = try reader.string(key)
            case "time": time = try Self.time(&reader, key)
            case "contentHash": contentHash = try reader.string(key)
            case "signatureHash": signatureHash = try reader.string(key)
            case "signerFingerprint": signerFingerprint = try reader.string(key)
            case "attachmentHash": attachmentHash = reader.null() ? nil : try reader.string(key)
            case "previousHash": previousHash = try reader.string(key)
            case "hash": hash = try reader.string(key)
            case "content": content = try reader.string(key)
            case "signature": signature = try reader.string(key)
            case "attachment": attachment = reader.null() ? nil : try reader.string(key)
            case "leafIndex": leafIndex = reader.null() ? nil : try reader.count(key)
            case "inclusion": inclusion = reader.null() ? nil : try strings(&reader, key)
            default: try reader.skip()
            }
        }
        guard let sequence else { throw missing("sequence", in: what()) }
        guard let kind else { throw missing("kind", in: what()) }
        guard let noteID else { throw missing("noteID", in: what()) }
        guard let time else { throw missing("time", in: what()) }
        guard let contentHash else { throw missing("contentHash", in: what()) }
        guard let signatureHash else { throw missing("signatureHash", in: what()) }
        guard let signerFingerprint else { throw missing("signerFingerprint", in: what()) }
        guard let previousHash else { throw missing("previousHash", in: what()) }
        guard let hash else { throw missing("hash", in: what()) }
        guard let content else { throw missing("content", in: what()) }
        guard let signature else { throw missing("signature", in: what()) }
        return Entry(
            sequence: sequence, kind: kind, noteID: noteID, time: time, contentHash: contentHash, signatureHash: signatureHash,
            signerFingerprint: signerFingerprint, attachmentHash: attachmentHash, previousHash: previousHash, hash: hash,
            content: content, signature: signature, attachment: attachment, leafIndex: leafIndex, inclusion: inclusion)
    }

    static func parseCheckpoint(_ reader: inout JSONReader, position: Int) throws -> CheckpointReference {
        var size: Int?, headHash: String?, time: Date?, signature: String?, signatureHash: String?
        func what() -> String { "checkpoint \(position)" }  // for errors only: made when one is thrown
        try reader.object(what()) { reader, key in
            switch key {
            case "size": size = try reader.count(key)
            case "headHash": headHash = try reader.string(key)
            case "time": time = try Self.time(&reader, key)
            case "signature": signature = try reader.string(key)
            case "signatureHash": signatureHash = try reader.string(key)
            default: try reader.skip()
            }
        }
        guard let size else { throw missing("size", in: what()) }
        guard let headHash else { throw missing("headHash", in: what()) }
        guard let time else { throw missing("time", in: what()) }
        guard let signature else { throw missing("signature", in: what()) }
        guard let signatureHash else { throw missing("signatureHash", in: what()) }
        return CheckpointReference(size: size, headHash: headHash, time: time, signature: signature, signatureHash: signatureHash)
    }
}

/// Writing and reading bundles.
public enum HistoryBundle {
    /// The department log and the head a bundle's entries are proven against (it must cover them all).
    public struct LogEvidence: Sendable {
        public let log: DepartmentLog
        /// Its signed note carries the witnesses' cosignatures too (`DepartmentLog.cosigned`).
        public let head: StoredTreeHead

        public init(log: DepartmentLog, head: StoredTreeHead) {
            self.log = log
            self.head = head
        }
    }

    /// The seal's e-Office context names the file and "bundle-<size>"; its content is manifest.json's bytes.
    static func sealNote(size: Int) -> String { "bundle-\(size)" }
    /// The size a seal's note names ("bundle-12" -> 12); nil for any other note.
    static func sealedSize(noteID: String) -> Int? { noteID.hasPrefix("bundle-") ? Int(noteID.dropFirst("bundle-".count)) : nil }

    /// Exports `number` from `store` to a zip at `path` (written beside, then renamed: readers never see half a zip).
    /// `verifier` checks each signature once more and supplies the paths and revocation data the bundle carries;
    /// `sealer` signs the manifest.
    /// `log`, when given, adds the log's tree head and each entry's inclusion proof to it.
    /// Returns the number of entries written.
    @discardableResult
    public static func export(
        file number: String, from store: any HistoryStore, verifier: Verifier, sealer: CheckpointSigner,
        log: LogEvidence? = nil, to path: String, at time: Date
    ) throws -> Int {
        guard let file = try store.file(number) else { throw HistoryError(.unknownFile, "there is no file \(number)") }
        let entries = try store.entries(of: number)
        let leafIndexes = log == nil ? [:] : try store.leafIndexes(of: number)
        let checkpoints = try store.checkpoints(of: number)
        var files = [(String, Member)]()
        var manifestEntries = [BundleManifest.Entry]()
        // The evidence of this file's verifications only: never what the verifier's caches hold of other files.
        let evidence = EvidenceLog()
        for entry in entries {
            guard let content = try store.blob(entry.contentHash), let signature = try store.blob(entry.signatureHash) else {
                throw HistoryError(.storage, "entry \(entry.sequence) of \(number) is missing its extract or signature in the store")
            }
            // A scan goes into the zip straight from its file in the store when there is one (never all in memory).
            let attachment = try entry.attachmentHash.map { hash -> Member in
                if let file = store.blobFile(hash) { return .file(file) }
                guard let bytes = try store.blob(hash) else { throw HistoryError(.storage, "entry \(entry.sequence) is missing its scan") }
                return .bytes(bytes)
            }
            // Verified again so that the paths and revocation data used are known and go into the bundle.
            _ = evidence.collecting { try? verifier.verify(signature: signature, content: .bytes(content), at: time) }
            let contentName = "contents/\(Hex.encode(entry.contentHash))", signatureName = "signatures/\(entry.sequence).p7s"
            files.append((contentName, .bytes(content)))
            files.append((signatureName, .bytes(signature)))
            var attachmentName: String? = nil
            if let attachment, let hash = entry.attachmentHash {
                attachmentName = "attachments/\(Hex.encode(hash))"
                files.append((attachmentName!, attachment))
            }
            var item = BundleManifest.Entry(
                sequence: entry.sequence, kind: entry.kind.rawValue, noteID: entry.noteID, time: entry.time,
                contentHash: Hex.encode(entry.contentHash), signatureHash: Hex.encode(entry.signatureHash),
                signerFingerprint: Hex.encode(entry.signerFingerprint), attachmentHash: entry.attachmentHash.map { Hex.encode($0) },
                previousHash: Hex.encode(entry.previousHash), hash: Hex.encode(entry.hash), content: contentName,
                signature: signatureName, attachment: attachmentName)
            if let log {
                guard let index = leafIndexes[entry.sequence], index < log.head.size else {
                    throw HistoryError(.storage, "entry \(entry.sequence) of \(number) is not under the log's tree head of \(log.head.size) leaves")
                }
                item.leafIndex = index
                item.inclusion = try log.log.inclusionProof(leafIndex: index, treeSize: log.head.size).hashes.map { Hex.encode($0) }
            }
            manifestEntries.append(item)
        }
        if let log { files.append(("log/checkpoint", .bytes(Array(log.head.note.utf8)))) }
        var checkpointReferences = [BundleManifest.CheckpointReference]()
        // Checkpoint signatures carry only the document signer's certificate: its chain is the sealer's.
        let checkpointVerifier = Verifier(trust: verifier.trust, intermediates: verifier.intermediates + sealer.chain, revocation: verifier.revocation)
        for checkpoint in checkpoints {
            _ = evidence.collecting { try? checkpointVerifier.verify(signature: checkpoint.signature, content: .bytes(checkpoint.canonicalBytes), at: time) }
            let name = "checkpoints/\(checkpoint.size).p7s"
            files.append((name, .bytes(checkpoint.signature)))
            checkpointReferences.append(
                BundleManifest.CheckpointReference(
                    size: checkpoint.size, headHash: Hex.encode(checkpoint.headHash),
                    time: checkpoint.time, signature: name,
                    signatureHash: Hex.encode(SHA256Hasher.hash(checkpoint.signature))))
        }
        // The seal's own evidence (the document signer's path and its revocation data) must be in the bundle before
        // the manifest that lists it is sealed: it is collected by verifying a signature the sealer makes now over
        // the file's head, which is then dropped. (Per-entry checkpoints, which used to bring it, are no longer made.)
        let head = entries.last?.hash ?? HistoryEntry.genesis
        let probe = try sealer.signature(
            for: Checkpoint(fileNumber: number, size: entries.count, headHash: head, time: time), content: head, noteID: sealNote(size: entries.count))
        _ = evidence.collecting { try? checkpointVerifier.verify(signature: probe, content: .bytes(head), at: time) }
        var certificateNames = [String]()
        for certificate in evidence.certificates + [sealer.certificate] + sealer.chain {
            let name = "certificates/\(Hex.encode(certificate.sha256Fingerprint)).der"
            if certificateNames.contains(name) { continue }
            certificateNames.append(name)
            files.append((name, .bytes(certificate.der)))
        }
        var revocationNames = [String]()
        for der in evidence.revocation {
            let name = "revocation/\(Hex.encode(SHA256Hasher.hash(der))).der"
            revocationNames.append(name)
            files.append((name, .bytes(der)))
        }
        let manifest = BundleManifest(
            file: file, exportedAt: time, exportedBy: Verifier.name, entries: manifestEntries,
            checkpoints: checkpointReferences, certificates: certificateNames, revocation: revocationNames,
            log: log.map {
                BundleManifest.LogReference(
                    origin: $0.log.origin, treeSize: $0.head.size, rootHash: Hex.encode($0.head.rootHash), checkpoint: "log/checkpoint")
            })
        let manifestBytes = Array(try BundleManifest.encoder().encode(manifest))
        let seal = try sealer.signature(
            for: Checkpoint(fileNumber: number, size: entries.count, headHash: head, time: time),
            content: manifestBytes, noteID: sealNote(size: entries.count))
        files.insert(("manifest.json", .bytes(manifestBytes)), at: 0)
        files.append(("seal.p7s", .bytes(seal)))
        try write(members: files, to: path)
        return entries.count
    }

    /// Writes the zip beside `path` and moves it into place (`AtomicFile.replace`): readers never see half a bundle.
    static func write(_ files: [(String, [UInt8])], to path: String) throws {
        try write(members: files.map { ($0.0, Member.bytes($0.1)) }, to: path)
    }

    /// A member's bytes, in memory or in a file read as it is written.
    enum Member {
        case bytes([UInt8])
        case file(String)
    }

    static func write(members files: [(String, Member)], to path: String) throws {
        do {
            try AtomicFile.replace(path) { temporary in
                let archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create)
                for (name, member) in files {
                    // Members are stored, not deflated: DER barely compresses, extracts are small, and stored members
                    // are read in place (`BundleReader`), which is most of what makes a big bundle quick to check.
                    switch member {
                    case .bytes(let bytes):
                        let data = Data(bytes)
                        try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none) { position, size in
                            data.subdata(in: Int(position)..<Int(position) + size)
                        }
                    case .file(let source):
                        try archive.addEntry(with: name, fileURL: URL(fileURLWithPath: source), compressionMethod: .none)
                    }
                }
            }
        } catch {
            throw HistoryError(.bundle, "cannot write the bundle \(path): \(error)")
        }
    }

    /// Every member of a bundle by name, read into memory (tests and small bundles; `BundleReader` reads on demand).
    public static func read(_ path: String, maximumMemberSize: Int = 1 << 30) throws -> [String: [UInt8]] {
        let reader = try BundleReader(path, maximumMemberSize: maximumMemberSize)
        var members = [String: [UInt8]](minimumCapacity: reader.names.count)
        for name in reader.names {
            guard let bytes = reader.member(name) else { throw HistoryError(.bundle, "the bundle member \(name) does not read: the zip is damaged") }
            members[name] = bytes
        }
        return members
    }
}

/// A bundle opened for reading. A zip whose members are all stored (as `HistoryBundle.write` makes them) is mapped
/// read-only and indexed from its central directory; each member is copied out of the mapping when asked for
/// (page-cache pages, no zero-filled copy of the whole bundle, never all in memory at once). Anything else
/// (deflated members, zip64, a file that cannot be mapped) is extracted whole through ZIPFoundation, each member
/// capped at `maximumMemberSize` while it inflates. Member names with ".." or a leading "/" are refused.
/// The mapping assumes nobody truncates the file while it is being verified (as any reader of a mapped file does).
public final class BundleReader: @unchecked Sendable {  // immutable after init
    public let path: String
    private enum Storage {
        /// The names are keys into the mapping's central directory (see `StoredZip.Name`).
        case mapped(UnsafeRawBufferPointer, index: [StoredZip.Name: StoredZip.Member], order: [StoredZip.Name], centralDirectory: Int)
        case extracted([String: [UInt8]], order: [String])
    }
    private let storage: Storage

    /// The members' names, in central-directory order.
    public var names: [String] {
        switch storage {
        case .mapped(_, _, let order, _): order.map { String(decoding: $0.bytes, as: UTF8.self) }
        case .extracted(_, let order): order
        }
    }

    /// True when the members are read in place from the mapped file (the fast path).
    public var readsInPlace: Bool {
        if case .mapped = storage { return true }
        return false
    }

    public init(_ path: String, maximumMemberSize: Int = 1 << 30) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw HistoryError(.bundle, "cannot read \(path): \(String(cString: strerror(errno)))") }
        var status = stat()
        let regular = fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
        var mapping: UnsafeRawBufferPointer? = nil
        if regular, status.st_size > 0, let address = mmap(nil, Int(status.st_size), PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED {
            mapping = UnsafeRawBufferPointer(start: address, count: Int(status.st_size))
        }
        close(descriptor)  // the mapping keeps the file's pages
        guard regular else { throw HistoryError(.bundle, "cannot read \(path): not a regular file") }
        func checked(_ name: String, _ size: Int) throws {
            guard !Self.unsafe(name) else { throw HistoryError(.bundle, "the bundle holds a member with an unsafe name: \(name)") }
            guard size <= maximumMemberSize else { throw HistoryError(.bundle, "the bundle member \(name) is larger than \(maximumMemberSize) bytes") }
        }
        if let mapping {
            if let (index, order, central) = StoredZip.index(mapping) {
                if let refused = order.first(where: { Self.unsafe($0.bytes) || index[$0]!.size > maximumMemberSize }) {
                    let name = String(decoding: refused.bytes, as: UTF8.self), size = index[refused]!.size  // before the unmapping
                    munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count)
                    try checked(name, size)
                    throw HistoryError(.bundle, "the bundle member \(name) is refused")  // not reached: `checked` names why
                }
                storage = .mapped(mapping, index: index, order: order, centralDirectory: central)
                return
            }
            munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count)
        }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw HistoryError(.bundle, "\(path) is not a readable zip: \(error)")
        }
        var members = [String: [UInt8]](), order = [String]()
        for entry in archive where entry.type == .file {
            try checked(entry.path, Int(clamping: entry.uncompressedSize))
            var bytes = [UInt8]()
            do {
                // The CRC is skipped: every member is checked by its SHA-256 in the sealed manifest or by its signature.
                // The size the zip declares is not trusted: inflating stops at the cap (a decompression bomb).
                _ = try archive.extract(entry, skipCRC32: true) { chunk in
                    guard bytes.count + chunk.count <= maximumMemberSize else {
                        throw HistoryError(.bundle, "the bundle member \(entry.path) inflates to more than \(maximumMemberSize) bytes")
                    }
                    bytes.append(contentsOf: chunk)
                }
            } catch let error as HistoryError {
                throw error
            } catch {
                throw HistoryError(.bundle, "the bundle member \(entry.path) does not extract: \(error)")
            }
            members[entry.path] = bytes
            order.append(entry.path)
        }
        storage = .extracted(members, order: order)
    }

    deinit {
        if case .mapped(let mapping, _, _, _) = storage { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count) }
    }

    /// A name that could leave the folder it is extracted to: absolute, or with a ".." component.
    static func unsafe(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { unsafe(UnsafeRawBufferPointer($0)) }
    }

    static func unsafe(_ name: UnsafeRawBufferPointer) -> Bool {
        var utf8 = name[...]
        if utf8.first == UInt8(ascii: "/") { return true }
        while !utf8.isEmpty {
            let component = utf8.prefix { $0 != UInt8(ascii: "/") }
            if component.elementsEqual("..".utf8) { return true }
            utf8 = utf8.dropFirst(component.count + 1)
        }
        return false
    }

    /// The member's bytes; nil when there is no such member or its local header is damaged.
    /// SHA-256 of a member, hashed where it lies in a mapped bundle (a large scan is never copied); nil when absent.
    public func memberSHA256(_ name: String) -> [UInt8]? {
        switch storage {
        case .extracted(let members, _):
            return members[name].map { SHA256Hasher.hash($0) }
        case .mapped(let mapping, let index, _, let centralDirectory):
            guard let member = StoredZip.Name.lookUp(name, in: index), let region = StoredZip.region(of: member, in: mapping, before: centralDirectory) else {
                return nil
            }
            let hasher = SHA256Hasher()
            hasher.update(region)
            return hasher.finalize()
        }
    }

    public func member(_ name: String) -> [UInt8]? {
        switch storage {
        case .extracted(let members, _):
            return members[name]
        case .mapped(let mapping, let index, _, let centralDirectory):
            guard let member = StoredZip.Name.lookUp(name, in: index) else { return nil }
            return StoredZip.data(of: member, in: mapping, before: centralDirectory)
        }
    }
}

/// Zips whose members are all stored (method 0), read from the end-of-central-directory record (APPNOTE 4.3.16), the
/// central directory (4.3.12) and each local header (4.3.7). `index` gives nil when the zip uses anything else
/// (deflate, zip64, encryption, several disks), which the caller hands to ZIPFoundation. Every offset is checked
/// against the buffer, so damage gives nil, never a crash.
enum StoredZip {
    struct Member { let localHeader: Int; let size: Int }

    /// A member's name as the bytes where they lie in the mapped central directory: indexing 30,000 members makes no
    /// String and copies no name. A lookup by String wraps the string's own UTF-8 for the time of the lookup.
    struct Name: Hashable {
        let bytes: UnsafeRawBufferPointer

        func hash(into hasher: inout Hasher) { hasher.combine(bytes: bytes) }

        static func == (a: Name, b: Name) -> Bool {
            a.bytes.count == b.bytes.count && (a.bytes.isEmpty || memcmp(a.bytes.baseAddress!, b.bytes.baseAddress!, a.bytes.count) == 0)
        }

        static func lookUp(_ name: String, in index: [Name: Member]) -> Member? {
            var name = name
            return name.withUTF8 { index[Name(bytes: UnsafeRawBufferPointer($0))] }
        }
    }

    static func u16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        at >= 0 && at + 2 <= bytes.count ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : nil
    }

    static func u32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        guard let low = u16(bytes, at), let high = u16(bytes, at + 2) else { return nil }
        return low | high << 16
    }

    /// The members by name, their names in order, and where the central directory starts.
    static func index(_ bytes: UnsafeRawBufferPointer) -> ([Name: Member], [Name], Int)? {
        // End of central directory: 22 bytes plus a comment of up to 65,535 bytes, at the end.
        var end = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while end >= lowest, u32(bytes, end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest, let disk = u16(bytes, end + 4), disk == 0, let count = u16(bytes, end + 10), let length = u32(bytes, end + 12),
            let start = u32(bytes, end + 16), count != 0xFFFF, start != 0xFFFF_FFFF, start + length <= end
        else { return nil }
        var members = [Name: Member](minimumCapacity: count), order = [Name]()
        order.reserveCapacity(count)
        var position = start
        for _ in 0..<count {
            guard u32(bytes, position) == 0x0201_4B50, let flags = u16(bytes, position + 8), flags & 0x1 == 0,
                let method = u16(bytes, position + 10), method == 0,
                let compressed = u32(bytes, position + 20), let uncompressed = u32(bytes, position + 24), compressed == uncompressed,
                compressed != 0xFFFF_FFFF, let nameLength = u16(bytes, position + 28), let extraLength = u16(bytes, position + 30),
                let commentLength = u16(bytes, position + 32), let local = u32(bytes, position + 42), local != 0xFFFF_FFFF,
                local + 30 + compressed <= start, position + 46 + nameLength <= start + length
            else { return nil }
            let name = Name(bytes: UnsafeRawBufferPointer(rebasing: bytes[position + 46..<position + 46 + nameLength]))
            if name.bytes.last != UInt8(ascii: "/") {
                guard members.updateValue(Member(localHeader: local, size: compressed), forKey: name) == nil else { return nil }  // a name twice
                order.append(name)
            }
            position += 46 + nameLength + extraLength + commentLength
        }
        // The records must fill the directory exactly: a lowered count would otherwise hide members.
        guard position == start + length else { return nil }
        return (members, order, start)
    }

    /// A member's bytes, after its local header; nil when the header is damaged or the data would run into the
    /// central directory.
    static func data(of member: Member, in bytes: UnsafeRawBufferPointer, before centralDirectory: Int) -> [UInt8]? {
        region(of: member, in: bytes, before: centralDirectory).map(Array.init)
    }

    /// The member's bytes where they lie in the zip, checked against its bounds.
    static func region(of member: Member, in bytes: UnsafeRawBufferPointer, before centralDirectory: Int) -> UnsafeRawBufferPointer? {
        let header = member.localHeader
        guard u32(bytes, header) == 0x0403_4B50, let nameLength = u16(bytes, header + 26), let extraLength = u16(bytes, header + 28) else { return nil }
        let start = header + 30 + nameLength + extraLength
        guard start + member.size <= centralDirectory, centralDirectory <= bytes.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<start + member.size])
    }
}

extension CheckpointSigner {
    /// A signature over arbitrary content (the bundle's manifest) with the checkpoint's context.
    func signature(for checkpoint: Checkpoint, content: [UInt8], noteID: String) throws -> [UInt8] {
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: checkpoint.fileNumber, noteID: noteID, previousEntryHash: checkpoint.headHash),
            commitment: .proofOfOrigin, signingTime: checkpoint.time, chain: chain)
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: certificate, parameters: parameters, sign: sign)
    }
}
