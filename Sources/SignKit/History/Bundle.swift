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
/// seal.p7s                      the service's signature over manifest.json as written, made at export
/// ```
public struct BundleManifest: Codable, Sendable {
    public var schema = "signservice.bundle/1"
    public var file: FileRecord
    public var exportedAt: Date
    public var exportedBy: String
    public var entries: [Entry]
    public var checkpoints: [CheckpointReference]
    public var certificates: [String]
    public var revocation: [String]

    public struct Entry: Codable, Sendable {
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
    }

    public struct CheckpointReference: Codable, Sendable {
        public var size: Int
        public var headHash: String
        public var time: Date
        public var signature: String
        /// SHA-256 of the signature file: the seal, covering the manifest, covers every checkpoint through it.
        public var signatureHash: String
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(UTCTimeText.format(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        // The manifest's own "2026-11-23T07:01:49Z" form, read by arithmetic: ISO8601 parsing of every entry's time
        // was a large part of reading a big manifest.
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
}

/// Writing and reading bundles.
public enum HistoryBundle {
    /// The seal's e-Office context names the file and "bundle-<size>"; its content is manifest.json's bytes.
    static func sealNote(size: Int) -> String { "bundle-\(size)" }

    /// Exports `number` from `store` to a zip at `path` (written beside, then renamed: readers never see half a zip).
    /// `verifier` checks each signature once more and supplies the paths and revocation data the bundle carries;
    /// `sealer` signs the manifest.
    public static func export(file number: String, from store: any HistoryStore, verifier: Verifier, sealer: CheckpointSigner,
                              to path: String, at time: Date = Date()) throws {
        guard let file = try store.file(number) else { throw HistoryError(.unknownFile, "there is no file \(number)") }
        let entries = try store.entries(of: number)
        let checkpoints = try store.checkpoints(of: number)
        var files = [(String, [UInt8])]()
        var manifestEntries = [BundleManifest.Entry]()
        for entry in entries {
            guard let content = try store.blob(entry.contentHash), let signature = try store.blob(entry.signatureHash) else {
                throw HistoryError(.storage, "entry \(entry.sequence) of \(number) is missing its extract or signature in the store")
            }
            let attachment = try entry.attachmentHash.map { hash -> [UInt8] in
                guard let bytes = try store.blob(hash) else { throw HistoryError(.storage, "entry \(entry.sequence) is missing its scan") }
                return bytes
            }
            // Verified again so that the paths and revocation data used are known and go into the bundle.
            _ = try? verifier.verify(signature: signature, content: .bytes(content), at: time)
            let contentName = "contents/\(Hex.encode(entry.contentHash))", signatureName = "signatures/\(entry.sequence).p7s"
            files.append((contentName, content))
            files.append((signatureName, signature))
            var attachmentName: String? = nil
            if let attachment, let hash = entry.attachmentHash {
                attachmentName = "attachments/\(Hex.encode(hash))"
                files.append((attachmentName!, attachment))
            }
            manifestEntries.append(BundleManifest.Entry(
                sequence: entry.sequence, kind: entry.kind.rawValue, noteID: entry.noteID, time: entry.time,
                contentHash: Hex.encode(entry.contentHash), signatureHash: Hex.encode(entry.signatureHash),
                signerFingerprint: Hex.encode(entry.signerFingerprint), attachmentHash: entry.attachmentHash.map { Hex.encode($0) },
                previousHash: Hex.encode(entry.previousHash), hash: Hex.encode(entry.hash), content: contentName,
                signature: signatureName, attachment: attachmentName))
        }
        var checkpointReferences = [BundleManifest.CheckpointReference]()
        for checkpoint in checkpoints {
            _ = try? verifier.verify(signature: checkpoint.signature, content: .bytes(checkpoint.canonicalBytes), at: time)
            let name = "checkpoints/\(checkpoint.size).p7s"
            files.append((name, checkpoint.signature))
            checkpointReferences.append(BundleManifest.CheckpointReference(size: checkpoint.size, headHash: Hex.encode(checkpoint.headHash),
                                                                           time: checkpoint.time, signature: name,
                                                                           signatureHash: Hex.encode(SHA256Hasher.hash(checkpoint.signature))))
        }
        var certificateNames = [String]()
        for certificate in verifier.pathCertificates() + [sealer.certificate] + sealer.chain {
            let name = "certificates/\(Hex.encode(certificate.sha256Fingerprint)).der"
            if certificateNames.contains(name) { continue }
            certificateNames.append(name)
            files.append((name, certificate.der))
        }
        var revocationNames = [String]()
        for der in verifier.revocation.evidenceUsed() {
            let name = "revocation/\(Hex.encode(SHA256Hasher.hash(der))).der"
            revocationNames.append(name)
            files.append((name, der))
        }
        let manifest = BundleManifest(file: file, exportedAt: time, exportedBy: Verifier.name, entries: manifestEntries,
                                      checkpoints: checkpointReferences, certificates: certificateNames, revocation: revocationNames)
        let manifestBytes = Array(try BundleManifest.encoder().encode(manifest))
        let head = entries.last?.hash ?? HistoryEntry.genesis
        let seal = try sealer.signature(for: Checkpoint(fileNumber: number, size: entries.count, headHash: head, time: time),
                                        content: manifestBytes, noteID: sealNote(size: entries.count))
        files.insert(("manifest.json", manifestBytes), at: 0)
        files.append(("seal.p7s", seal))
        try write(files, to: path)
    }

    static func write(_ files: [(String, [UInt8])], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            let archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create)
            for (name, bytes) in files {
                let data = Data(bytes)
                // Members are stored, not deflated: DER barely compresses, extracts are small, and stored members are
                // read in place (`storedMembers`), which is most of what makes a 10,000-entry bundle quick to check.
                let method: CompressionMethod = .none
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: method) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw HistoryError(.bundle, "cannot write the bundle \(path): \(error)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw HistoryError(.bundle, "cannot move the bundle into place at \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Every member of a bundle by name. Sizes are capped; names with ".." or a leading "/" are refused.
    public static func read(_ path: String, maximumMemberSize: Int = 1 << 30) throws -> [String: [UInt8]] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw HistoryError(.bundle, "cannot read \(path): \(error)")
        }
        let bytes = data.withUnsafeBytes { Array($0.bindMemory(to: UInt8.self)) }  // one memcpy, not a byte-by-byte copy
        if let members = storedMembers(bytes) {
            for (name, member) in members {
                guard !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
                    throw HistoryError(.bundle, "the bundle holds a member with an unsafe name: \(name)")
                }
                guard member.count <= maximumMemberSize else {
                    throw HistoryError(.bundle, "the bundle member \(name) is larger than \(maximumMemberSize) bytes")
                }
            }
            return members
        }
        let archive: Archive
        do {
            // Anything else (deflated members, zip64): ZIPFoundation, on the bytes already read.
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw HistoryError(.bundle, "\(path) is not a readable zip: \(error)")
        }
        var members = [String: [UInt8]]()
        for entry in archive where entry.type == .file {
            guard !entry.path.hasPrefix("/"), !entry.path.split(separator: "/").contains("..") else {
                throw HistoryError(.bundle, "the bundle holds a member with an unsafe name: \(entry.path)")
            }
            guard entry.uncompressedSize <= maximumMemberSize else {
                throw HistoryError(.bundle, "the bundle member \(entry.path) is larger than \(maximumMemberSize) bytes")
            }
            var bytes = [UInt8]()
            do {
                // The CRC is skipped: every member is checked by its SHA-256 in the sealed manifest or by its signature.
                _ = try archive.extract(entry, skipCRC32: true) { bytes.append(contentsOf: $0) }
            } catch {
                throw HistoryError(.bundle, "the bundle member \(entry.path) does not extract: \(error)")
            }
            members[entry.path] = bytes
        }
        return members
    }
}

extension HistoryBundle {
    /// The members of a zip whose members are all stored (method 0), read from the central directory (APPNOTE
    /// 4.3.12) and each local header (4.3.7); nil when the zip uses anything else (deflate, zip64, encryption,
    /// a multi-disk archive), which the caller hands to ZIPFoundation. Any inconsistency also gives nil, never a
    /// crash: every offset is checked against the buffer.
    static func storedMembers(_ bytes: [UInt8]) -> [String: [UInt8]]? {
        func u16(_ at: Int) -> Int? { at >= 0 && at + 2 <= bytes.count ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : nil }
        func u32(_ at: Int) -> Int? {
            guard let low = u16(at), let high = u16(at + 2) else { return nil }
            return low | high << 16
        }
        // End of central directory: 22 bytes plus a comment of up to 65,535 bytes, at the end.
        var end = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while end >= lowest, u32(end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest, let disk = u16(end + 4), disk == 0, let count = u16(end + 10), let size = u32(end + 12),
              let start = u32(end + 16), count != 0xFFFF, start != 0xFFFF_FFFF, start + size <= end else { return nil }
        var members = [String: [UInt8]](minimumCapacity: count)
        var position = start
        for _ in 0..<count {
            guard u32(position) == 0x0201_4B50, let flags = u16(position + 8), flags & 0x1 == 0, let method = u16(position + 10), method == 0,
                  let compressed = u32(position + 20), let uncompressed = u32(position + 24), compressed == uncompressed,
                  compressed != 0xFFFF_FFFF, let nameLength = u16(position + 28), let extraLength = u16(position + 30),
                  let commentLength = u16(position + 32), let local = u32(position + 42), local != 0xFFFF_FFFF,
                  position + 46 + nameLength <= bytes.count else { return nil }
            let name = String(decoding: bytes[position + 46..<position + 46 + nameLength], as: UTF8.self)
            guard u32(local) == 0x0403_4B50, let localName = u16(local + 26), let localExtra = u16(local + 28) else { return nil }
            let dataStart = local + 30 + localName + localExtra
            guard dataStart + compressed <= start else { return nil }
            if !name.hasSuffix("/") { members[name] = Array(bytes[dataStart..<dataStart + compressed]) }
            position += 46 + nameLength + extraLength + commentLength
        }
        return members
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
