import Foundation
import Synchronization

/// What `signctl history verify` finds in a bundle: one line per entry (who did what, when, as what, verdict), and
/// every problem named.
public struct HistoryReport: Codable, Sendable {
    public var schema = "signservice.history-report/1"
    public var file: FileRecord?
    public var entries: [EntryResult]
    public var checkpoints: [CheckpointResult]
    /// The department log's tree head the entries are proven against, when the bundle carries one.
    public var log: LogResult? = nil
    public var seal: String
    /// Who sealed the bundle and when, when the seal holds (for reports in other languages than `seal`'s words).
    public var sealedBy: String? = nil
    public var sealedAt: Date? = nil
    public var findings: [Finding]
    public var passed: Bool
    public var summary: String
    public var validationTime: Date
    public var verifier: String

    public struct EntryResult: Codable, Sendable {
        public var sequence: Int
        public var kind: String
        public var noteID: String
        public var signer: String?
        public var signerKind: String?
        public var signingTime: Date?
        public var signingTimeSource: String?
        public var indication: String
        public var subIndication: String?
        public var verdict: String
        public var contentHash: String? = nil
        public var signerFingerprint: String? = nil
        public var issuer: String? = nil
        public var revocation: String? = nil
        /// For a scan approval, what it is in words: approved by hand on paper, uploaded and attested by the PPS/PS
        /// (never the Minister's digital signature).
        public var approval: String? = nil
        /// For a scan approval, what the QR code on the scan said.
        public var qr: String? = nil
        /// For a scan approval, the facts `approval` and `qr` put in words.
        public var scan: ScanApprovalFacts? = nil
        /// The entry's leaf in the department log and the leaf's hash (hex), when its inclusion proof holds.
        public var leafIndex: Int? = nil
        public var leafHash: String? = nil
    }

    /// A scan approval's facts: the Minister who approved by hand, the PPS/PS who uploaded and attested the scan
    /// (their name and certificate serial), the approval request and what the QR code on the scan said.
    public struct ScanApprovalFacts: Codable, Sendable {
        public var minister: String
        public var attestedBy: String
        public var certificateSerial: String
        public var request: String
        public var qr: QRFinding
    }

    /// The bundle's tree head: which log, its size and root, who signed and who cosigned it.
    public struct LogResult: Codable, Sendable {
        public var origin: String
        public var treeSize: Int
        public var rootHash: String
        /// The signed note as the bundle carries it.
        public var checkpoint: String
        /// The document signer whose key signed the head, when its signature holds.
        public var signedBy: String?
        public var signerFingerprint: String?
        /// The names of the other keys with lines on the note (witnesses; checked only against keys the verifier names).
        public var cosignatureNames: [String]
        public var valid: Bool
    }

    public struct CheckpointResult: Codable, Sendable {
        public var size: Int
        public var time: Date
        public var valid: Bool
        public var detail: String
    }

    public struct Finding: Codable, Sendable, Hashable {
        public enum Code: String, Codable, Sendable {
            case missingEntry = "missing-entry"
            case outOfOrder = "out-of-order"
            case brokenChain = "broken-chain"
            case alteredEntry = "altered-entry"
            case contentChanged = "content-changed"
            case signatureReplaced = "signature-replaced"
            case signatureNotValid = "signature-not-valid"
            case contextMismatch = "context-mismatch"
            case checkpointForged = "checkpoint-forged"
            case checkpointMismatch = "checkpoint-mismatch"
            case cutShort = "cut-short"
            case unsealed
            case sealNotValid = "seal-not-valid"
            case missingMember = "missing-member"
            /// An entry whose inclusion proof does not lead to the bundle's signed tree head (or that has none).
            case notInLog = "not-in-log"
            /// The bundle's tree head is missing, malformed or not signed by the service that sealed the bundle.
            case logHeadNotValid = "log-head-not-valid"
            /// The bundle's tree head contradicts one verified before (signctl history verify --state).
            case logInconsistent = "log-inconsistent"
            /// An entry differs from the one verified before at the same place (signctl history verify --state).
            case rewritten
            /// A witness the verifier requires did not cosign the bundle's tree head.
            case witnessMissing = "witness-missing"
        }
        public var code: Code
        public var entry: Int?
        public var message: String
    }

    /// A problem found beyond the bundle itself (signctl history verify's witnesses and memory): the report no longer
    /// passes.
    public mutating func add(_ code: Finding.Code, _ entry: Int?, _ message: String) {
        findings.append(Finding(code: code, entry: entry, message: message))
        passed = false
        summary = "Not a valid history: \(findings.count) problem\(findings.count == 1 ? "" : "s") found."
    }
}

extension HistoryBundle {
    /// `transform` for every index below `count` on every core, the results in order, each written in place by the
    /// worker that made it. Each worker has its own `state` (made by the worker): objects shared between cores cost
    /// an atomic reference-count update on a shared cache line at every use, which kept two cores verifying
    /// signatures through one `Verifier` at 1.3 times the speed of one. Indexes are taken in chunks from a shared
    /// counter, so a slow item does not hold up the others.
    static func parallelMap<R, State>(_ count: Int, state makeState: () -> State, _ transform: (inout State, Int) -> R) -> [R] {
        [R](unsafeUninitializedCapacity: count) { slots, initialized in
            guard count > 0 else { return }
            let workers = min(ProcessInfo.processInfo.activeProcessorCount, count)
            let chunk = max(1, min(64, count / (workers * 8)))
            let next = Atomic<Int>(0)
            let shared = UnsafeSendable(slots)
            withoutActuallyEscaping(makeState) { makeState in
                withoutActuallyEscaping(transform) { transform in
                    let work = UnsafeSendable((makeState, transform))
                    DispatchQueue.concurrentPerform(iterations: workers) { _ in
                        var state = work.value.0()
                        while true {
                            let start = next.wrappingAdd(chunk, ordering: .relaxed).oldValue
                            guard start < count else { break }
                            for index in start..<min(start + chunk, count) {
                                (shared.value.baseAddress! + index).initialize(to: work.value.1(&state, index))  // one worker per slot
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Checks every signature (each at its own signing time, offline, with the certificates and revocation data the
    /// bundle carries), the hash chain, the checkpoints, the seal and the context bindings.
    /// `policy` and `adjunct` (certificates and CRLs given beside the bundle) apply to every signature.
    public static func verify(
        _ path: String, trust: TrustStore, at time: Date, policy: VerificationPolicy = VerificationPolicy(),
        adjunct given: AdjunctMaterial = AdjunctMaterial(),
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> HistoryReport {
        let bundle = try BundleReader(path)
        guard let manifestBytes = bundle.member("manifest.json") else { throw HistoryError(.bundle, "\(path) has no manifest.json: not a SignService bundle") }
        func unreadable(_ error: any Error) -> HistoryError {
            HistoryError(.bundle, "\(path): manifest.json does not read as signservice.bundle/1: \(error)")
        }
        let manifest: BundleManifest.Outline
        do {
            manifest = try BundleManifest.Outline(manifestBytes)
        } catch {
            throw unreadable(error)
        }
        guard manifest.schema == "signservice.bundle/1" else { throw HistoryError(.bundle, "\(path): unknown bundle schema \(manifest.schema)") }

        var findings = [HistoryReport.Finding]()
        func find(_ code: HistoryReport.Finding.Code, _ entry: Int?, _ message: String) {
            findings.append(HistoryReport.Finding(code: code, entry: entry, message: message))
        }
        let certificates = manifest.certificates.compactMap { bundle.member($0) }.compactMap { try? X509Certificate(der: $0) }
        let revocationData = manifest.revocation.compactMap { bundle.member($0) }
        let material = AdjunctMaterial(certificates: given.certificates, revocationData: revocationData + given.revocationData)
        // The seal and the checkpoints are the service's own signatures: the certificate policy inputs are about the
        // officers' entries; the revocation mode applies to every signature.
        let servicePolicy = VerificationPolicy(acceptSHA1: policy.acceptSHA1, minimumRSABits: policy.minimumRSABits, revocation: policy.revocation)
        let verifier = Verifier(
            trust: trust, intermediates: certificates,
            revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        let number = manifest.file.number

        // The department log's tree head, checked before the entries so that each worker proves its entry against it.
        let logHead = manifest.log.map { checkLogHead($0, bundle: bundle, certificates: certificates) }
        if let problem = logHead?.problem { find(.logHeadNotValid, nil, problem) }
        let logCheck = logHead?.check

        // The seal: when it holds, it covers the manifest and through it every member's hash. Its verification
        // (mostly hashing the manifest, a kilobyte per entry) runs on a thread of its own beside the entries'.
        let count = manifest.entryRanges.count
        let sealBytes = bundle.member("seal.p7s")
        let sealCheck = sealBytes.map { seal in
            BackgroundResult { try? verifier.verify(signature: seal, content: .bytes(manifestBytes), policy: servicePolicy, at: time, adjunct: material) }
        }

        // Entries and checkpoints, on every core and one at a time (a big bundle is never in memory whole): the
        // manifest's record read, the entry rebuilt and hashed, its members read and hashed, its signature verified
        // and judged; the checkpoint reference of the same position read and its signature file hashed. Each entry's
        // report line is written in place; the sequential pass afterwards (the order, the chain, the checkpoints'
        // agreement with it) reads only `Link`s, which hold no object a worker made but the (usually empty) findings.
        let certificateDERs = certificates.map(\.der)
        let makeVerifier = {
            // Each worker its own verifier and certificate objects (see parallelMap); each builds a signer's path once.
            Verifier(
                trust: trust, intermediates: certificateDERs.compactMap { try? X509Certificate(der: $0) },
                revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        }
        let checkpointCount = manifest.checkpointRanges.count
        let positions = max(count, checkpointCount)
        let done = Atomic<Int>(0)  // entries checked, for `progress` (called from the workers)
        var links = [Link]()
        let entryResults = [HistoryReport.EntryResult](unsafeUninitializedCapacity: count) { resultSlots, initialized in
            let results = UnsafeSendable(resultSlots)
            links = parallelMap(positions, state: makeVerifier) { verifier, index -> Link in
                var link = Link()
                do {
                    if index < count {
                        let entry = checkEntry(
                            try manifest.entry(index), file: number, bundle: bundle, verifier: verifier, at: time,
                            policy: policy, adjunct: material, log: logCheck)
                        (results.value.baseAddress! + index).initialize(to: entry.result)
                        link.entry = entry.link
                        if let progress { progress(done.add(1, ordering: .relaxed).newValue, count) }
                    }
                    if index < checkpointCount { link.checkpoint = CheckpointLink(try manifest.checkpoint(index), bundle: bundle) }
                } catch {
                    link.failure = unreadable(error)
                }
                if index < count, link.entry == nil {  // the slot must hold a value; the failure is thrown below
                    (results.value.baseAddress! + index).initialize(
                        to: HistoryReport.EntryResult(
                            sequence: index + 1, kind: "", noteID: "", indication: "INDETERMINATE", verdict: "unreadable"))
                }
                return link
            }
            initialized = count
        }

        // The seal's verdict (its thread is done by now, or nearly), judged before the entries' order and chain.
        var sealValid = false
        var sealText: String
        var sealer: (name: String, time: Date)? = nil
        if let sealCheck {
            let verdict = sealCheck.value
            let sealedSize = verdict?.context.flatMap { HistoryBundle.sealedSize(noteID: $0.noteID) }
            if verdict?.passed == true, verdict?.signer?.kind == .documentSigner, verdict?.context?.fileNumber == number, sealedSize == count {
                sealValid = true
                sealer = (verdict?.signer?.name ?? "?", verdict?.signingTime?.time ?? manifest.exportedAt)
                sealText = "sealed by \(sealer!.name) at \(UTCTimeText.format(sealer!.time)) over \(count) \(count == 1 ? "entry" : "entries")"
            } else if let sealedSize, sealedSize > count {
                sealText = "NOT VALID: sealed over \(sealedSize) entries"
                find(.cutShort, nil, "the history was cut short: the service sealed \(sealedSize) entries at export, the bundle holds \(count)")
            } else {
                sealText = "NOT VALID: " + (verdict?.summary ?? "the seal does not read")
                find(.sealNotValid, nil, "the bundle's seal does not cover this manifest: the bundle was changed after export")
            }
        } else {
            sealText = "absent"
            find(.unsealed, nil, "the bundle has no seal: nothing shows it is the history the service exported")
        }
        if sealValid, let signer = logHead?.result.signerFingerprint, let sealedBy = sealCheck?.value?.signer?.sha256Fingerprint,
            signer.lowercased() != sealedBy.lowercased()
        {
            find(.logHeadNotValid, nil, "the log's tree head is signed by another key than the bundle's seal: it is not the exporting service's")
        }
        var previous = InlineHash(HistoryEntry.genesis)
        var hashes = [Int: InlineHash](minimumCapacity: count)
        for index in links.indices {
            if let failure = links[index].failure { throw failure }
            guard let entry = links[index].entry else { continue }
            let sequence = entry.sequence, expected = index + 1
            if sequence > expected {
                find(
                    .missingEntry, expected,
                    "entry \(expected)\(sequence > expected + 1 ? " to \(sequence - 1)" : "") is missing: removed from the middle of the history")
            } else if sequence < expected {
                find(.outOfOrder, sequence, "entry \(sequence) appears again after entry \(expected - 1): entries were inserted or swapped")
            }
            if entry.previous != previous {
                find(
                    .brokenChain, sequence,
                    "entry \(sequence) does not follow the entry before it in the bundle (its previous hash differs): an entry was inserted, removed or moved")
            }
            previous = entry.stated
            hashes[sequence] = entry.stated
            if !entry.findings.isEmpty { findings += entry.findings }
        }

        // Checkpoints: each the service's statement of the entry at its size. Under a valid seal, each signature file
        // must be the one sealed (its hash is in the manifest) and the latest is verified in full; without a valid
        // seal, every signature is.
        let latest = links.lazy.compactMap(\.checkpoint?.size).max()
        func verdict(_ verifier: Verifier, _ index: Int) -> Verdict? {
            guard let reference = try? manifest.checkpoint(index), let signature = bundle.member(reference.signature),
                let headHash = Hex.decode(reference.headHash)
            else { return nil }
            let statement = Checkpoint(fileNumber: number, size: reference.size, headHash: headHash, time: reference.time)
            return try? verifier.verify(signature: signature, content: .bytes(statement.canonicalBytes), policy: servicePolicy, at: time, adjunct: material)
        }
        let verdicts: [Verdict?]
        if sealValid {
            let last = (0..<checkpointCount).last { links[$0].checkpoint?.size == latest }
            verdicts = (0..<checkpointCount).map { $0 == last ? verdict(verifier, $0) : nil }
        } else {
            verdicts = Self.parallelMap(checkpointCount, state: makeVerifier) { verifier, index in verdict(verifier, index) }
        }
        var checkpointResults = [HistoryReport.CheckpointResult]()
        checkpointResults.reserveCapacity(checkpointCount)
        for index in 0..<checkpointCount {
            guard let checkpoint = links[index].checkpoint else { continue }
            guard checkpoint.signaturePresent else {
                find(.missingMember, nil, "checkpoint \(checkpoint.size)'s signature is not in the bundle")
                continue
            }
            var valid: Bool
            var detail: String
            if sealValid && checkpoint.size != latest {
                valid = checkpoint.signatureSealed
                detail = valid ? "the signature the service sealed" : "not the signature the service sealed"
            } else {
                let verdict = verdicts[index]
                valid = verdict?.passed == true && verdict?.signer?.kind == .documentSigner
                detail = verdict.map { $0.passed ? "signed by \($0.signer?.name ?? "?")" : $0.summary } ?? "the signature does not read"
                if verdict?.passed == true && verdict?.signer?.kind != .documentSigner {
                    detail = "signed by \(verdict?.signer?.name ?? "?"), who is not a document signer"
                }
            }
            if !valid {
                find(.checkpointForged, nil, "checkpoint \(checkpoint.size) (\(UTCTimeText.format(checkpoint.time))) is not the service's: \(detail)")
            } else if let entryHash = hashes[checkpoint.size], entryHash != checkpoint.headHash {
                valid = false
                detail = "names a different entry \(checkpoint.size) from the bundle's"
                find(
                    .checkpointMismatch, checkpoint.size,
                    "checkpoint \(checkpoint.size) names a different entry \(checkpoint.size): the history was rewritten after it")
            }
            checkpointResults.append(HistoryReport.CheckpointResult(size: checkpoint.size, time: checkpoint.time, valid: valid, detail: detail))
        }
        if let largest = latest, largest > count {
            find(.cutShort, nil, "the history was cut short: the service's checkpoint records \(largest) entries, the bundle holds \(count)")
        }

        let passed = findings.isEmpty && entryResults.allSatisfy { $0.indication == Indication.totalPassed.rawValue }
        let checkpointsKept = checkpointResults.count
        // What held, in words: the chain; the checkpoints, when the history has any (made before the log); each
        // entry's place in the log, when the bundle carries its head; the seal.
        var held = ["the hash chain"]
        if checkpointsKept > 0 || logHead == nil { held.append("\(checkpointsKept) \(checkpointsKept == 1 ? "checkpoint" : "checkpoints")") }
        if let log = logHead?.result {
            held.append(
                "\(count == 1 ? "its" : "every") entry's inclusion in the department log under its signed tree head of \(log.treeSize) "
                    + (log.treeSize == 1 ? "leaf" : "leaves"))
        }
        let summary =
            passed
            ? "Valid history: \(count) \(count == 1 ? "entry" : "entries") of file \(number), \(count == 1 ? "its" : "every") signature TOTAL-PASSED, "
                + held.joined(separator: ", ") + " and the seal hold."
            : "Not a valid history: \(findings.count) problem\(findings.count == 1 ? "" : "s") found."
        return HistoryReport(
            file: manifest.file, entries: entryResults, checkpoints: checkpointResults, log: logHead?.result, seal: sealText, sealedBy: sealer?.name,
            sealedAt: sealer?.time, findings: findings, passed: passed, summary: summary, validationTime: time,
            verifier: Verifier.name)
    }

    /// What the workers need of the log's tree head to prove each entry against it.
    struct LogCheck: Sendable {
        let origin: String
        let size: Int
        let root: [UInt8]
    }

    /// The bundle's tree head read and its signature checked with the key of one of the bundle's certificates (the
    /// seal's signer is compared with it once the seal is judged). `check` is nil when the head does not hold: every
    /// entry is then unproven.
    static func checkLogHead(
        _ reference: BundleManifest.LogReference, bundle: BundleReader, certificates: [X509Certificate]
    ) -> (check: LogCheck?, result: HistoryReport.LogResult, problem: String?) {
        var result = HistoryReport.LogResult(
            origin: reference.origin, treeSize: reference.treeSize, rootHash: reference.rootHash, checkpoint: "", cosignatureNames: [], valid: false)
        guard let bytes = bundle.member(reference.checkpoint) else {
            return (nil, result, "the log's tree head (\(reference.checkpoint)) is not in the bundle")
        }
        result.checkpoint = String(decoding: bytes, as: UTF8.self)
        let note: SignedNote
        do {
            note = try SignedNote(parsing: bytes)
        } catch {
            return (nil, result, "the log's tree head does not read: \((error as? any CodedError)?.codedDescription ?? "\(error)")")
        }
        let keys = certificates.compactMap { try? X509NoteKey(name: reference.origin, certificate: $0) }
        guard let key = keys.first(where: { key in note.signatures.contains { key.isValid($0, over: note.text) } }) else {
            return (nil, result, "the log's tree head carries no valid signature by a certificate in the bundle under the name \(reference.origin)")
        }
        result.cosignatureNames = note.signatures.filter { !key.identifies($0) }.map(\.name)
        let head: TreeHead
        do {
            head = try TreeHead(verifying: note, origin: reference.origin, key: key)
        } catch {
            return (nil, result, "the log's tree head does not hold: \((error as? any CodedError)?.codedDescription ?? "\(error)")")
        }
        guard head.size == reference.treeSize, Hex.encode(head.rootHash) == reference.rootHash.lowercased() else {
            return (
                nil, result,
                "the manifest names a tree head of \(reference.treeSize) leaves and root \(reference.rootHash); the signed one is of \(head.size) and \(Hex.encode(head.rootHash))"
            )
        }
        result.signedBy = key.certificate.subject.commonName ?? key.certificate.subject.description
        result.signerFingerprint = Hex.encode(key.certificate.sha256Fingerprint)
        result.valid = true
        return (LogCheck(origin: head.origin, size: head.size, root: head.rootHash), result, nil)
    }

    /// A SHA-256 value held inline, so that the sequential pass reads what a worker wrote without touching a
    /// reference count on the worker's cache lines. Anything but 32 bytes (a damaged hex field) equals nothing, not
    /// even itself: such a link never holds.
    struct InlineHash: Equatable {
        private let words: (UInt64, UInt64, UInt64, UInt64)?

        init(_ bytes: [UInt8]) {
            guard bytes.count == 32 else {
                words = nil
                return
            }
            words = bytes.withUnsafeBytes { raw in
                (
                    raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                    raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
                )
            }
        }

        static func == (a: InlineHash, b: InlineHash) -> Bool {
            guard let x = a.words, let y = b.words else { return false }
            return x == y
        }
    }

    /// What the sequential pass needs of one position: the entry's place in the chain, the checkpoint's statement,
    /// or why the manifest's record there does not read.
    struct Link {
        var entry: EntryLink?
        var checkpoint: CheckpointLink?
        var failure: HistoryError?
    }

    /// An entry's sequence number, its previous hash as rebuilt, its stated hash and the problems found in its members
    /// and signature.
    struct EntryLink {
        let sequence: Int
        let previous: InlineHash
        let stated: InlineHash
        let findings: [HistoryReport.Finding]
    }

    /// A checkpoint reference's size, time and head hash, and whether its signature file is in the bundle and is the
    /// one whose hash the manifest records.
    struct CheckpointLink {
        let size: Int
        let time: Date
        let headHash: InlineHash
        let signaturePresent: Bool
        let signatureSealed: Bool

        init(_ reference: BundleManifest.CheckpointReference, bundle: BundleReader) {
            size = reference.size
            time = reference.time
            headHash = InlineHash(Hex.decode(reference.headHash) ?? [])
            let signatureHash = bundle.memberSHA256(reference.signature)
            signaturePresent = signatureHash != nil
            signatureSealed = signatureHash != nil && signatureHash == Hex.decode(reference.signatureHash)
        }
    }

    /// One entry checked on its own: its link in the chain and its report line.
    struct CheckedEntry {
        let link: EntryLink
        let result: HistoryReport.EntryResult
    }

    static func checkEntry(
        _ item: BundleManifest.Entry, file number: String, bundle: BundleReader, verifier: Verifier, at time: Date,
        policy: VerificationPolicy, adjunct material: AdjunctMaterial, log: LogCheck? = nil
    ) -> CheckedEntry {
        var findings = [HistoryReport.Finding]()
        func find(_ code: HistoryReport.Finding.Code, _ message: String) {
            findings.append(HistoryReport.Finding(code: code, entry: item.sequence, message: message))
        }
        let rebuilt = HistoryEntry(
            fileNumber: number, sequence: item.sequence, kind: EntryKind(rawValue: item.kind), noteID: item.noteID,
            time: item.time, contentHash: Hex.decode(item.contentHash) ?? [],
            signatureHash: Hex.decode(item.signatureHash) ?? [], signerFingerprint: Hex.decode(item.signerFingerprint) ?? [],
            attachmentHash: item.attachmentHash.flatMap(Hex.decode), previousHash: Hex.decode(item.previousHash) ?? [])
        let stated = Hex.decode(item.hash) ?? []
        if rebuilt.hash != stated {
            find(.alteredEntry, "entry \(item.sequence)'s recorded fields do not give its hash: the entry was altered")
        }
        // In the department log: the leaf made from the entry as rebuilt must lead to the signed head's root.
        var proven: (index: Int, hash: String)? = nil
        if let log {
            let path = item.inclusion?.compactMap { Hex.decode($0) }
            if let index = item.leafIndex, let path, path.count == item.inclusion?.count,
                let leaf = try? DepartmentLogLeaf(origin: log.origin, fileNumber: number, sequence: item.sequence, entryHash: rebuilt.hash, time: item.time),
                InclusionProof(leafIndex: index, treeSize: log.size, hashes: path).isValid(leafHash: leaf.leafHash, rootHash: log.root, using: SHA256Hasher())
            {
                proven = (index, Hex.encode(leaf.leafHash))
            } else {
                find(
                    .notInLog,
                    "entry \(item.sequence) is not in the department log: "
                        + (item.leafIndex == nil
                            ? "the bundle carries no inclusion proof for it"
                            : "its inclusion proof (leaf \(item.leafIndex!)) does not lead from this entry to the signed tree head of \(log.size) leaves"))
            }
        }
        func link() -> EntryLink {
            EntryLink(sequence: item.sequence, previous: InlineHash(rebuilt.previousHash), stated: InlineHash(stated), findings: findings)
        }
        func result(_ indication: String, _ verdict: String) -> CheckedEntry {
            CheckedEntry(
                link: link(),
                result: HistoryReport.EntryResult(
                    sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: indication, verdict: verdict,
                    leafIndex: proven?.index, leafHash: proven?.hash))
        }
        guard let content = bundle.member(item.content), let signature = bundle.member(item.signature) else {
            find(.missingMember, "entry \(item.sequence)'s extract or signature is not in the bundle (or its zip record is damaged)")
            return result("INDETERMINATE", "the extract or signature is missing")
        }
        // The signature first (its problems are reported after the members'): its verdict carries the extract's
        // SHA-256, computed over these bytes, which spares hashing them twice.
        let verification = Result { () throws(VerificationInputError) -> Verdict in
            try verifier.verify(signature: signature, content: .bytes(content), policy: policy, at: time, adjunct: material)
        }
        let contentDigest: [UInt8]
        if case .success(let verdict) = verification, let digest = verdict.content, digest.algorithm == DigestAlgorithm.sha256.rawValue,
            let bytes = Hex.decode(digest.hex), bytes.count == 32
        {
            contentDigest = bytes
        } else {
            contentDigest = SHA256Hasher.hash(content)
        }
        if contentDigest != rebuilt.contentHash {
            find(.contentChanged, "the extract of entry \(item.sequence) (note \(item.noteID)) is not the one recorded: it was changed")
        }
        if SHA256Hasher.hash(signature) != rebuilt.signatureHash {
            find(.signatureReplaced, "the signature of entry \(item.sequence) is not the one recorded: it was replaced")
        }
        if rebuilt.attachmentHash != nil {
            if let attachment = item.attachment, let scanHash = bundle.memberSHA256(attachment) {
                if scanHash != rebuilt.attachmentHash {
                    find(.contentChanged, "the scan of entry \(item.sequence) is not the one recorded: it was changed")
                }
            } else {
                find(.missingMember, "the scan of entry \(item.sequence) is not in the bundle")
            }
        }
        var scanAttestation: ScanAttestation? = nil
        if rebuilt.kind == .scanApproval {
            do {
                let read = try ScanAttestation(bytes: content)
                scanAttestation = read
                if read.scanHash != rebuilt.attachmentHash {
                    find(.contentChanged, "entry \(item.sequence)'s attestation is over another scan than the one recorded")
                }
                if read.fileNumber != number || read.noteID != item.noteID {
                    find(.contextMismatch, "entry \(item.sequence)'s attestation names file \(read.fileNumber), note \(read.noteID)")
                }
            } catch {
                find(.contentChanged, "entry \(item.sequence) is a scan approval whose attestation does not read: \(error)")
            }
        }
        let verdict: Verdict
        do {
            verdict = try verification.get()
        } catch {
            find(.signatureNotValid, "entry \(item.sequence)'s signature does not read: \(error.description)")
            return result("INDETERMINATE", error.description)
        }
        if !verdict.passed {
            find(.signatureNotValid, "entry \(item.sequence)'s signature: \(verdict.summary)")
        }
        if let signer = verdict.signer, signer.sha256Fingerprint != item.signerFingerprint {
            find(.signatureReplaced, "entry \(item.sequence) was signed by \(signer.name), not the signer recorded")
        }
        if let context = verdict.context {
            if context.fileNumber != number || context.noteID != item.noteID {
                find(
                    .contextMismatch,
                    "entry \(item.sequence)'s signature was made for file \(context.fileNumber), note \(context.noteID), not for file \(number), note \(item.noteID)"
                )
            } else if (context.previousEntryHash ?? HistoryEntry.genesis) != rebuilt.previousHash {
                find(.contextMismatch, "entry \(item.sequence)'s signature was made after another history state (its previous-entry hash differs)")
            }
        } else {
            find(.contextMismatch, "entry \(item.sequence)'s signature names no file or note")
        }
        return CheckedEntry(
            link: link(),
            result: HistoryReport.EntryResult(
                sequence: item.sequence, kind: item.kind, noteID: item.noteID, signer: verdict.signer?.name,
                signerKind: verdict.signer?.kindDescription, signingTime: verdict.signingTime?.time,
                signingTimeSource: verdict.signingTime?.source.rawValue, indication: verdict.indication.rawValue,
                subIndication: verdict.subIndication?.rawValue, verdict: verdict.summary,
                contentHash: verdict.content.map { "\($0.algorithm) \($0.hex)" }, signerFingerprint: verdict.signer?.sha256Fingerprint,
                issuer: verdict.signer?.issuer,
                revocation: verdict.revocation.first.map { "\($0.status.rawValue)\($0.source.map { " (\($0))" } ?? "")" },
                approval: scanAttestation.map { attestation in
                    "approved by hand on the printed extract by \(attestation.minister); scan uploaded and attested by "
                        + "\(verdict.signer?.name ?? "?") with DSC \(verdict.signer?.serialNumber ?? "?") (not a digital signature of \(attestation.minister))"
                },
                qr: scanAttestation.map { attestation in
                    switch attestation.qr {
                    case .matched: "the QR code on the scan matched approval request \(attestation.requestID)"
                    case .notRead: "no QR code could be read on the scan; accepted under the policy that allows it (request \(attestation.requestID))"
                    }
                },
                scan: scanAttestation.map { attestation in
                    HistoryReport.ScanApprovalFacts(
                        minister: attestation.minister, attestedBy: verdict.signer?.name ?? "?",
                        certificateSerial: verdict.signer?.serialNumber ?? "?", request: attestation.requestID,
                        qr: attestation.qr)
                },
                leafIndex: proven?.index, leafHash: proven?.hash))
    }
}

/// A value computed on a thread of its own from the moment it is made; `value` waits for it. For work that would
/// otherwise leave a core idle while the others run `parallelMap`.
final class BackgroundResult<Value: Sendable>: @unchecked Sendable {  // `result` is written once, before `done` is signalled
    private var result: Value?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            result = work()
            done.signal()
        }
        thread.start()
    }

    /// The value, once computed.
    var value: Value {
        done.wait()
        defer { done.signal() }  // a later read does not wait
        return result!
    }
}

/// Hands a value to concurrentPerform's workers; safe here because each worker touches disjoint slots.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
