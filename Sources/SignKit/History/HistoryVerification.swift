import Foundation

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
    /// `transform` over `items` on every core, results in order.
    static func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
        let slots = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
        slots.initialize(repeating: nil)
        defer {
            slots.deinitialize()
            slots.deallocate()
        }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count))
        let shared = UnsafeSendable(slots), input = UnsafeSendable(items)
        withoutActuallyEscaping(transform) { transform in
            let work = UnsafeSendable(transform)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var index = worker
                while index < input.value.count {
                    shared.value[index] = work.value(input.value[index])  // each index written by one worker only
                    index += workers
                }
            }
        }
        return slots.map { $0! }
    }

    /// Checks every signature (each at its own signing time, offline, with the certificates and revocation data the
    /// bundle carries), the hash chain, the checkpoints, the seal and the context bindings.
    public static func verify(_ path: String, trust: TrustStore, at time: Date = Date(),
                              progress: ((Int, Int) -> Void)? = nil) throws -> HistoryReport {
        let members = try read(path)
        guard let manifestBytes = members["manifest.json"] else { throw HistoryError(.bundle, "\(path) has no manifest.json: not a SignService bundle") }
        let manifest: BundleManifest
        do {
            manifest = try BundleManifest.decoder().decode(BundleManifest.self, from: Data(manifestBytes))
        } catch {
            throw HistoryError(.bundle, "\(path): manifest.json does not read as signservice.bundle/1: \(error)")
        }
        guard manifest.schema == "signservice.bundle/1" else { throw HistoryError(.bundle, "\(path): unknown bundle schema \(manifest.schema)") }

        var findings = [HistoryReport.Finding]()
        func find(_ code: HistoryReport.Finding.Code, _ entry: Int?, _ message: String) {
            findings.append(HistoryReport.Finding(code: code, entry: entry, message: message))
        }
        let certificates = manifest.certificates.compactMap { members[$0] }.compactMap { try? X509Certificate(der: $0) }
        let revocationData = manifest.revocation.compactMap { members[$0] }
        let verifier = Verifier(trust: trust, intermediates: certificates,
                                revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        let number = manifest.file.number

        // The seal first: when it holds, it covers the manifest and through it every member's hash.
        let count = manifest.entries.count
        var sealValid = false
        var sealText: String
        if let seal = members["seal.p7s"] {
            let verdict = try? verifier.verify(signature: seal, content: .bytes(manifestBytes), at: time, revocationData: revocationData)
            let sealedSize = verdict?.context.flatMap { Int($0.noteID.replacingOccurrences(of: "bundle-", with: "")) }
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


        // Entries: the chain and the members in order, then the signatures, verified in parallel (each is
        // independent; the verifier's caches are shared and thread-safe).
        // The hashing of every member (extract, signature, scan, the entry's own fields) on every core first.
        struct Hashed { let rebuilt: HistoryEntry; let content: [UInt8]?; let contentHash: [UInt8]?; let signature: [UInt8]?; let signatureHash: [UInt8]?; let attachmentHash: [UInt8]? }
        let hashed = Self.parallelMap(manifest.entries) { item -> Hashed in
            let rebuilt = HistoryEntry(fileNumber: number, sequence: item.sequence, kind: EntryKind(rawValue: item.kind), noteID: item.noteID,
                                       time: item.time, contentHash: Hex.decode(item.contentHash) ?? [],
                                       signatureHash: Hex.decode(item.signatureHash) ?? [], signerFingerprint: Hex.decode(item.signerFingerprint) ?? [],
                                       attachmentHash: item.attachmentHash.flatMap(Hex.decode), previousHash: Hex.decode(item.previousHash) ?? [])
            let content = members[item.content], signature = members[item.signature]
            return Hashed(rebuilt: rebuilt, content: content, contentHash: content.map { SHA256Hasher.hash($0) }, signature: signature,
                          signatureHash: signature.map { SHA256Hasher.hash($0) },
                          attachmentHash: item.attachment.flatMap { members[$0] }.map { SHA256Hasher.hash($0) })
        }
        var results = [HistoryReport.EntryResult?](repeating: nil, count: manifest.entries.count)
        var previous = HistoryEntry.genesis
        var hashes = [Int: [UInt8]]()
        var toVerify = [(index: Int, item: BundleManifest.Entry, rebuilt: HistoryEntry, content: [UInt8], signature: [UInt8])]()
        for (index, item) in manifest.entries.enumerated() {
            progress?(index + 1, manifest.entries.count)
            let expected = index + 1
            if item.sequence > expected {
                find(.missingEntry, expected, "entry \(expected)\(item.sequence > expected + 1 ? " to \(item.sequence - 1)" : "") is missing: removed from the middle of the history")
            } else if item.sequence < expected {
                find(.outOfOrder, item.sequence, "entry \(item.sequence) appears again after entry \(expected - 1): entries were inserted or swapped")
            }
            let stated = Hex.decode(item.hash) ?? []
            let rebuilt = hashed[index].rebuilt
            if rebuilt.hash != stated {
                find(.alteredEntry, item.sequence, "entry \(item.sequence)'s recorded fields do not give its hash: the entry was altered")
            }
            if rebuilt.previousHash != previous {
                find(.brokenChain, item.sequence, "entry \(item.sequence) does not follow the entry before it in the bundle (its previous hash differs): an entry was inserted, removed or moved")
            }
            previous = stated
            hashes[item.sequence] = stated
            guard let content = hashed[index].content, let signature = hashed[index].signature else {
                find(.missingMember, item.sequence, "entry \(item.sequence)'s extract or signature is not in the bundle")
                results[index] = HistoryReport.EntryResult(sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: "INDETERMINATE",
                                                           verdict: "the extract or signature is missing")
                continue
            }
            if hashed[index].contentHash != rebuilt.contentHash {
                find(.contentChanged, item.sequence, "the extract of entry \(item.sequence) (note \(item.noteID)) is not the one recorded: it was changed")
            }
            if hashed[index].signatureHash != rebuilt.signatureHash {
                find(.signatureReplaced, item.sequence, "the signature of entry \(item.sequence) is not the one recorded: it was replaced")
            }
            if item.attachment != nil, let scanHash = hashed[index].attachmentHash, scanHash != rebuilt.attachmentHash {
                find(.contentChanged, item.sequence, "the scan of entry \(item.sequence) is not the one recorded: it was changed")
            }
            toVerify.append((index, item, rebuilt, content, signature))
        }
        let verdicts = Self.parallelMap(toVerify) { work -> Result<Verdict, VerificationInputError> in
            Result { () throws(VerificationInputError) -> Verdict in
                try verifier.verify(signature: work.signature, content: .bytes(work.content), at: time, revocationData: revocationData)
            }
        }
        for (work, outcome) in zip(toVerify, verdicts) {
            let item = work.item
            let verdict: Verdict
            switch outcome {
            case .failure(let error):
                find(.signatureNotValid, item.sequence, "entry \(item.sequence)'s signature does not read: \(error.description)")
                results[work.index] = HistoryReport.EntryResult(sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: "INDETERMINATE",
                                                                verdict: error.description)
                continue
            case .success(let made):
                verdict = made
            }
            if !verdict.passed {
                find(.signatureNotValid, item.sequence, "entry \(item.sequence)'s signature: \(verdict.summary)")
            }
            if let signer = verdict.signer, signer.sha256Fingerprint != item.signerFingerprint {
                find(.signatureReplaced, item.sequence, "entry \(item.sequence) was signed by \(signer.name), not the signer recorded")
            }
            if let context = verdict.context {
                if context.fileNumber != number || context.noteID != item.noteID {
                    find(.contextMismatch, item.sequence, "entry \(item.sequence)'s signature was made for file \(context.fileNumber), note \(context.noteID), not for file \(number), note \(item.noteID)")
                } else if (context.previousEntryHash ?? HistoryEntry.genesis) != work.rebuilt.previousHash {
                    find(.contextMismatch, item.sequence, "entry \(item.sequence)'s signature was made after another history state (its previous-entry hash differs)")
                }
            } else {
                find(.contextMismatch, item.sequence, "entry \(item.sequence)'s signature names no file or note")
            }
            results[work.index] = HistoryReport.EntryResult(
                sequence: item.sequence, kind: item.kind, noteID: item.noteID, signer: verdict.signer?.name,
                signerKind: verdict.signer?.kindDescription, signingTime: verdict.signingTime?.time,
                signingTimeSource: verdict.signingTime?.source.rawValue, indication: verdict.indication.rawValue,
                subIndication: verdict.subIndication?.rawValue, verdict: verdict.summary,
                contentHash: verdict.content.map { "\($0.algorithm) \($0.hex)" }, signerFingerprint: verdict.signer?.sha256Fingerprint,
                issuer: verdict.signer?.issuer,
                revocation: verdict.revocation.first.map { "\($0.status.rawValue)\($0.source.map { " (\($0))" } ?? "")" })
        }

        // Checkpoints: each the service's statement of the entry at its size. Under a valid seal, each signature file
        // must be the one sealed (a hash) and the latest is verified in full; without one, every signature is.
        var checkpointResults = [HistoryReport.CheckpointResult]()
        let latest = manifest.checkpoints.map(\.size).max()
        let signatureHashes = Self.parallelMap(manifest.checkpoints) { reference in members[reference.signature].map { Hex.encode(SHA256Hasher.hash($0)) } }
        let fullChecks = Self.parallelMap(manifest.checkpoints) { reference -> Verdict? in
            guard !sealValid || reference.size == latest, let signature = members[reference.signature] else { return nil }
            let checkpoint = Checkpoint(fileNumber: number, size: reference.size, headHash: Hex.decode(reference.headHash) ?? [], time: reference.time)
            return try? verifier.verify(signature: signature, content: .bytes(checkpoint.canonicalBytes), at: time, revocationData: revocationData)
        }
        for (position, (reference, verdict)) in zip(manifest.checkpoints, fullChecks).enumerated() {
            guard let signatureHash = signatureHashes[position] else {
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
            } else if let entryHash = hashes[reference.size], entryHash != Hex.decode(reference.headHash) {
                valid = false
                detail = "names a different entry \(reference.size) from the bundle's"
                find(.checkpointMismatch, reference.size, "checkpoint \(reference.size) names a different entry \(reference.size): the history was rewritten after it")
            }
            checkpointResults.append(HistoryReport.CheckpointResult(size: reference.size, time: reference.time, valid: valid, detail: detail))
        }
        if let largest = latest, largest > count {
            find(.cutShort, nil, "the history was cut short: the service's checkpoint records \(largest) entries, the bundle holds \(count)")
        }

        let entryResults = results.compactMap { $0 }
        let passed = findings.isEmpty && entryResults.allSatisfy { $0.indication == Indication.totalPassed.rawValue }
        let summary = passed
            ? "Valid history: \(count) entries of file \(number), every signature TOTAL-PASSED, the hash chain, \(checkpointResults.count) checkpoints and the seal hold."
            : "Not a valid history: \(findings.count) problem\(findings.count == 1 ? "" : "s") found."
        return HistoryReport(file: manifest.file, entries: entryResults, checkpoints: checkpointResults, seal: sealText, findings: findings,
                             passed: passed, summary: summary, validationTime: time, verifier: Verifier.name)
    }
}

/// Hands a value to concurrentPerform's workers; safe here because each worker touches disjoint slots.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
