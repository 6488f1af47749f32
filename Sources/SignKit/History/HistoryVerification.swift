import Foundation
import Synchronization

/// What `signctl history verify` finds in a bundle: one line per entry (who did what, when, as what, verdict), and
/// every problem named.
public struct HistoryReport: Codable, Sendable {
    public var schema = "signservice.history-report/1"
    public var file: FileRecord?
    public var entries: [EntryResult]
    public var checkpoints: [CheckpointResult]
    public var seal: String
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
        }
        public var code: Code
        public var entry: Int?
        public var message: String
    }
}

extension HistoryBundle {
    /// `transform` over `items` on every core, results in order, each worker with its own `state` (made by the worker):
    /// objects shared between cores cost an atomic reference-count update on a shared cache line at every use, which
    /// kept two cores verifying signatures through one `Verifier` at 1.3 times the speed of one. Items are taken in
    /// chunks from a shared counter, so a slow item does not hold up the others.
    static func parallelMap<T, R, State>(_ items: [T], state makeState: () -> State, _ transform: (inout State, T) -> R) -> [R] {
        let slots = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
        slots.initialize(repeating: nil)
        defer {
            slots.deinitialize()
            slots.deallocate()
        }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count))
        let chunk = max(1, min(64, items.count / (workers * 8)))
        let next = Atomic<Int>(0)
        let shared = UnsafeSendable(slots), input = UnsafeSendable(items)
        withoutActuallyEscaping(makeState) { makeState in
            withoutActuallyEscaping(transform) { transform in
                let work = UnsafeSendable((makeState, transform))
                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                    var state = work.value.0()
                    while true {
                        let start = next.wrappingAdd(chunk, ordering: .relaxed).oldValue
                        guard start < input.value.count else { break }
                        for index in start..<min(start + chunk, input.value.count) {
                            shared.value[index] = work.value.1(&state, input.value[index])  // each index written by one worker only
                        }
                    }
                }
            }
        }
        return slots.map { $0! }
    }

    /// Checks every signature (each at its own signing time, offline, with the certificates and revocation data the
    /// bundle carries), the hash chain, the checkpoints, the seal and the context bindings.
    public static func verify(_ path: String, trust: TrustStore, at time: Date = Date(),
                              progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> HistoryReport {
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
        let verifier = Verifier(trust: trust, intermediates: certificates,
                                revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        let number = manifest.file.number

        // The seal first: when it holds, it covers the manifest and through it every member's hash.
        let count = manifest.entryRanges.count
        var sealValid = false
        var sealText: String
        if let seal = bundle.member("seal.p7s") {
            let verdict = try? verifier.verify(signature: seal, content: .bytes(manifestBytes), at: time, revocationData: revocationData)
            let sealedSize = verdict?.context.flatMap { HistoryBundle.sealedSize(noteID: $0.noteID) }
            if verdict?.passed == true, verdict?.signer?.kind == .documentSigner, verdict?.context?.fileNumber == number, sealedSize == count {
                sealValid = true
                sealText = "sealed by \(verdict?.signer?.name ?? "?") at \(UTCTimeText.format(verdict?.signingTime?.time ?? manifest.exportedAt)) over \(count) entries"
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

        // Entries and checkpoints, on every core and one at a time (a big bundle is never in memory whole): the
        // manifest's record read, the entry rebuilt and hashed, its members read and hashed, its signature verified
        // and judged; the checkpoint reference of the same position read and its signature file hashed. Only the
        // order, the chain and the checkpoints' agreement with it are judged in sequence afterwards.
        let certificateDERs = certificates.map(\.der)
        let makeVerifier = {
            // Each worker its own verifier and certificate objects (see parallelMap); each builds a signer's path once.
            Verifier(trust: trust, intermediates: certificateDERs.compactMap { try? X509Certificate(der: $0) },
                     revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        }
        let positions = max(count, manifest.checkpointRanges.count)
        let done = Atomic<Int>(0)  // entries checked, for `progress` (called from the workers)
        let checked = Self.parallelMap(Array(0..<positions), state: makeVerifier) { verifier, index -> Result<(CheckedEntry?, HashedCheckpoint?), HistoryError> in
            do {
                let entry = try index < count ? checkEntry(manifest.entry(index), file: number, bundle: bundle, verifier: verifier, at: time,
                                                           revocationData: revocationData) : nil
                if entry != nil, let progress { progress(done.add(1, ordering: .relaxed).newValue, count) }
                let checkpoint = try index < manifest.checkpointRanges.count ? HashedCheckpoint(manifest.checkpoint(index), bundle: bundle) : nil
                return .success((entry, checkpoint))
            } catch {
                return .failure(unreadable(error))
            }
        }
        var entryResults = [HistoryReport.EntryResult]()
        entryResults.reserveCapacity(count)
        var previous = HistoryEntry.genesis
        var hashes = [Int: [UInt8]](minimumCapacity: count)
        var checkpoints = [HashedCheckpoint]()
        checkpoints.reserveCapacity(manifest.checkpointRanges.count)
        for (index, outcome) in checked.enumerated() {
            let (checkedEntry, checkpoint) = try outcome.get()
            if let checkpoint { checkpoints.append(checkpoint) }
            guard let entry = checkedEntry else { continue }
            let sequence = entry.result.sequence, expected = index + 1
            if sequence > expected {
                find(.missingEntry, expected, "entry \(expected)\(sequence > expected + 1 ? " to \(sequence - 1)" : "") is missing: removed from the middle of the history")
            } else if sequence < expected {
                find(.outOfOrder, sequence, "entry \(sequence) appears again after entry \(expected - 1): entries were inserted or swapped")
            }
            if entry.rebuilt.previousHash != previous {
                find(.brokenChain, sequence, "entry \(sequence) does not follow the entry before it in the bundle (its previous hash differs): an entry was inserted, removed or moved")
            }
            previous = entry.statedHash
            hashes[sequence] = entry.statedHash
            findings += entry.findings
            entryResults.append(entry.result)
        }

        // Checkpoints: each the service's statement of the entry at its size. Under a valid seal, each signature file
        // must be the one sealed (its hash is in the manifest) and the latest is verified in full; without a valid
        // seal, every signature is.
        let latest = checkpoints.map(\.reference.size).max()
        func verdict(_ verifier: Verifier, _ checkpoint: HashedCheckpoint) -> Verdict? {
            guard let signature = bundle.member(checkpoint.reference.signature) else { return nil }
            let statement = Checkpoint(fileNumber: number, size: checkpoint.reference.size, headHash: checkpoint.headHash, time: checkpoint.reference.time)
            return try? verifier.verify(signature: signature, content: .bytes(statement.canonicalBytes), at: time, revocationData: revocationData)
        }
        let verdicts: [Verdict?]
        if sealValid {
            let last = checkpoints.lastIndex { $0.reference.size == latest }
            verdicts = checkpoints.indices.map { $0 == last ? verdict(verifier, checkpoints[$0]) : nil }
        } else {
            verdicts = Self.parallelMap(checkpoints, state: makeVerifier) { verifier, checkpoint in verdict(verifier, checkpoint) }
        }
        var checkpointResults = [HistoryReport.CheckpointResult]()
        checkpointResults.reserveCapacity(checkpoints.count)
        for (checkpoint, verdict) in zip(checkpoints, verdicts) {
            let reference = checkpoint.reference
            guard let signatureHash = checkpoint.signatureHash else {
                find(.missingMember, nil, "checkpoint \(reference.size)'s signature is not in the bundle")
                continue
            }
            var valid: Bool
            var detail: String
            if sealValid && reference.size != latest {
                valid = signatureHash == reference.signatureHash
                detail = valid ? "the signature the service sealed" : "not the signature the service sealed"
            } else {
                valid = verdict?.passed == true && verdict?.signer?.kind == .documentSigner
                detail = verdict.map { $0.passed ? "signed by \($0.signer?.name ?? "?")" : $0.summary } ?? "the signature does not read"
                if verdict?.passed == true && verdict?.signer?.kind != .documentSigner {
                    detail = "signed by \(verdict?.signer?.name ?? "?"), who is not a document signer"
                }
            }
            if !valid {
                find(.checkpointForged, nil, "checkpoint \(reference.size) (\(UTCTimeText.format(reference.time))) is not the service's: \(detail)")
            } else if let entryHash = hashes[reference.size], entryHash != checkpoint.headHash {
                valid = false
                detail = "names a different entry \(reference.size) from the bundle's"
                find(.checkpointMismatch, reference.size, "checkpoint \(reference.size) names a different entry \(reference.size): the history was rewritten after it")
            }
            checkpointResults.append(HistoryReport.CheckpointResult(size: reference.size, time: reference.time, valid: valid, detail: detail))
        }
        if let largest = latest, largest > count {
            find(.cutShort, nil, "the history was cut short: the service's checkpoint records \(largest) entries, the bundle holds \(count)")
        }

        let passed = findings.isEmpty && entryResults.allSatisfy { $0.indication == Indication.totalPassed.rawValue }
        let summary = passed
            ? "Valid history: \(count) entries of file \(number), every signature TOTAL-PASSED, the hash chain, \(checkpointResults.count) checkpoints and the seal hold."
            : "Not a valid history: \(findings.count) problem\(findings.count == 1 ? "" : "s") found."
        return HistoryReport(file: manifest.file, entries: entryResults, checkpoints: checkpointResults, seal: sealText, findings: findings,
                             passed: passed, summary: summary, validationTime: time, verifier: Verifier.name)
    }

    /// A checkpoint reference with its head hash decoded and the SHA-256 (hex) of its signature file, if present.
    struct HashedCheckpoint {
        let reference: BundleManifest.CheckpointReference
        let headHash: [UInt8]
        let signatureHash: String?

        init(_ reference: BundleManifest.CheckpointReference, bundle: BundleReader) {
            self.reference = reference
            headHash = Hex.decode(reference.headHash) ?? []
            signatureHash = bundle.member(reference.signature).map { Hex.encode(SHA256Hasher.hash($0)) }
        }
    }

    /// One entry checked on its own: what the chain needs (its rebuilt fields, its stated hash), its report line and
    /// the problems found in its members and signature.
    struct CheckedEntry {
        let rebuilt: HistoryEntry
        let statedHash: [UInt8]
        let findings: [HistoryReport.Finding]
        let result: HistoryReport.EntryResult
    }

    static func checkEntry(_ item: BundleManifest.Entry, file number: String, bundle: BundleReader, verifier: Verifier, at time: Date,
                           revocationData: [[UInt8]]) -> CheckedEntry {
        var findings = [HistoryReport.Finding]()
        func find(_ code: HistoryReport.Finding.Code, _ message: String) {
            findings.append(HistoryReport.Finding(code: code, entry: item.sequence, message: message))
        }
        let rebuilt = HistoryEntry(fileNumber: number, sequence: item.sequence, kind: EntryKind(rawValue: item.kind), noteID: item.noteID,
                                   time: item.time, contentHash: Hex.decode(item.contentHash) ?? [],
                                   signatureHash: Hex.decode(item.signatureHash) ?? [], signerFingerprint: Hex.decode(item.signerFingerprint) ?? [],
                                   attachmentHash: item.attachmentHash.flatMap(Hex.decode), previousHash: Hex.decode(item.previousHash) ?? [])
        let stated = Hex.decode(item.hash) ?? []
        if rebuilt.hash != stated {
            find(.alteredEntry, "entry \(item.sequence)'s recorded fields do not give its hash: the entry was altered")
        }
        func result(_ indication: String, _ verdict: String) -> CheckedEntry {
            CheckedEntry(rebuilt: rebuilt, statedHash: stated, findings: findings, result: HistoryReport.EntryResult(
                sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: indication, verdict: verdict))
        }
        guard let content = bundle.member(item.content), let signature = bundle.member(item.signature) else {
            find(.missingMember, "entry \(item.sequence)'s extract or signature is not in the bundle (or its zip record is damaged)")
            return result("INDETERMINATE", "the extract or signature is missing")
        }
        if SHA256Hasher.hash(content) != rebuilt.contentHash {
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
            verdict = try verifier.verify(signature: signature, content: .bytes(content), at: time, revocationData: revocationData)
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
                find(.contextMismatch, "entry \(item.sequence)'s signature was made for file \(context.fileNumber), note \(context.noteID), not for file \(number), note \(item.noteID)")
            } else if (context.previousEntryHash ?? HistoryEntry.genesis) != rebuilt.previousHash {
                find(.contextMismatch, "entry \(item.sequence)'s signature was made after another history state (its previous-entry hash differs)")
            }
        } else {
            find(.contextMismatch, "entry \(item.sequence)'s signature names no file or note")
        }
        return CheckedEntry(rebuilt: rebuilt, statedHash: stated, findings: findings, result: HistoryReport.EntryResult(
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
            }))
    }
}

/// Hands a value to concurrentPerform's workers; safe here because each worker touches disjoint slots.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
