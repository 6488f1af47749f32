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

        var results = [HistoryReport.EntryResult]()
        var previous = HistoryEntry.genesis
        var hashes = [Int: [UInt8]]()
        for (index, item) in manifest.entries.enumerated() {
            progress?(index + 1, manifest.entries.count)
            let expected = index + 1
            if item.sequence > expected {
                find(.missingEntry, expected, "entry \(expected)\(item.sequence > expected + 1 ? " to \(item.sequence - 1)" : "") is missing: removed from the middle of the history")
            } else if item.sequence < expected {
                find(.outOfOrder, item.sequence, "entry \(item.sequence) appears again after entry \(expected - 1): entries were inserted or swapped")
            }
            let stated = Hex.decode(item.hash) ?? []
            let rebuilt = HistoryEntry(fileNumber: number, sequence: item.sequence, kind: EntryKind(rawValue: item.kind), noteID: item.noteID,
                                       time: item.time, contentHash: Hex.decode(item.contentHash) ?? [],
                                       signatureHash: Hex.decode(item.signatureHash) ?? [], signerFingerprint: Hex.decode(item.signerFingerprint) ?? [],
                                       attachmentHash: item.attachmentHash.flatMap(Hex.decode), previousHash: Hex.decode(item.previousHash) ?? [])
            if rebuilt.hash != stated {
                find(.alteredEntry, item.sequence, "entry \(item.sequence)'s recorded fields do not give its hash: the entry was altered")
            }
            if rebuilt.previousHash != previous {
                find(.brokenChain, item.sequence, "entry \(item.sequence) does not follow the entry before it in the bundle (its previous hash differs): an entry was inserted, removed or moved")
            }
            previous = stated
            hashes[item.sequence] = stated

            guard let content = members[item.content], let signature = members[item.signature] else {
                find(.missingMember, item.sequence, "entry \(item.sequence)'s extract or signature is not in the bundle")
                results.append(HistoryReport.EntryResult(sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: "INDETERMINATE",
                                                         verdict: "the extract or signature is missing"))
                continue
            }
            if SHA256Hasher.hash(content) != rebuilt.contentHash {
                find(.contentChanged, item.sequence, "the extract of entry \(item.sequence) (note \(item.noteID)) is not the one recorded: it was changed")
            }
            if SHA256Hasher.hash(signature) != rebuilt.signatureHash {
                find(.signatureReplaced, item.sequence, "the signature of entry \(item.sequence) is not the one recorded: it was replaced")
            }
            if let attachmentName = item.attachment, let scan = members[attachmentName], SHA256Hasher.hash(scan) != rebuilt.attachmentHash {
                find(.contentChanged, item.sequence, "the scan of entry \(item.sequence) is not the one recorded: it was changed")
            }
            let verdict: Verdict
            do {
                verdict = try verifier.verify(signature: signature, content: .bytes(content), at: time, revocationData: revocationData)
            } catch {
                find(.signatureNotValid, item.sequence, "entry \(item.sequence)'s signature does not read: \(error.description)")
                results.append(HistoryReport.EntryResult(sequence: item.sequence, kind: item.kind, noteID: item.noteID, indication: "INDETERMINATE",
                                                         verdict: error.description))
                continue
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
                } else if (context.previousEntryHash ?? HistoryEntry.genesis) != rebuilt.previousHash {
                    find(.contextMismatch, item.sequence, "entry \(item.sequence)'s signature was made after another history state (its previous-entry hash differs)")
                }
            } else {
                find(.contextMismatch, item.sequence, "entry \(item.sequence)'s signature names no file or note")
            }
            results.append(HistoryReport.EntryResult(
                sequence: item.sequence, kind: item.kind, noteID: item.noteID, signer: verdict.signer?.name,
                signerKind: verdict.signer?.kindDescription, signingTime: verdict.signingTime?.time,
                signingTimeSource: verdict.signingTime?.source.rawValue, indication: verdict.indication.rawValue,
                subIndication: verdict.subIndication?.rawValue, verdict: verdict.summary,
                contentHash: verdict.content.map { "\($0.algorithm) \($0.hex)" }, signerFingerprint: verdict.signer?.sha256Fingerprint,
                issuer: verdict.signer?.issuer,
                revocation: verdict.revocation.first.map { "\($0.status.rawValue)\($0.source.map { " (\($0))" } ?? "")" }))
        }

        // Checkpoints: each signed by the service's document signer, each naming the entry at its size.
        var checkpointResults = [HistoryReport.CheckpointResult]()
        for reference in manifest.checkpoints {
            let checkpoint = Checkpoint(fileNumber: number, size: reference.size, headHash: Hex.decode(reference.headHash) ?? [], time: reference.time)
            guard let signature = members[reference.signature] else {
                find(.missingMember, nil, "checkpoint \(reference.size)'s signature is not in the bundle")
                continue
            }
            let verdict = try? verifier.verify(signature: signature, content: .bytes(checkpoint.canonicalBytes), at: time, revocationData: revocationData)
            var valid = verdict?.passed == true && verdict?.signer?.kind == .documentSigner
            var detail = verdict.map { $0.passed ? "signed by \($0.signer?.name ?? "?")" : $0.summary } ?? "the signature does not read"
            if verdict?.passed == true && verdict?.signer?.kind != .documentSigner {
                detail = "signed by \(verdict?.signer?.name ?? "?"), who is not a document signer"
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
        let count = manifest.entries.count
        if let largest = manifest.checkpoints.map(\.size).max(), largest > count {
            find(.cutShort, nil, "the history was cut short: the service's checkpoint records \(largest) entries, the bundle holds \(count)")
        }

        // The seal over manifest.json.
        var sealText: String
        if let seal = members["seal.p7s"] {
            let verdict = try? verifier.verify(signature: seal, content: .bytes(manifestBytes), at: time, revocationData: revocationData)
            let sealedSize = verdict?.context.flatMap { Int($0.noteID.replacingOccurrences(of: "bundle-", with: "")) }
            if verdict?.passed == true, verdict?.signer?.kind == .documentSigner, verdict?.context?.fileNumber == number, sealedSize == count {
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

        let passed = findings.isEmpty && results.allSatisfy { $0.indication == Indication.totalPassed.rawValue }
        let summary = passed
            ? "Valid history: \(count) entries of file \(number), every signature TOTAL-PASSED, the hash chain, \(checkpointResults.count) checkpoints and the seal hold."
            : "Not a valid history: \(findings.count) problem\(findings.count == 1 ? "" : "s") found."
        return HistoryReport(file: manifest.file, entries: results, checkpoints: checkpointResults, seal: sealText, findings: findings,
                             passed: passed, summary: summary, validationTime: time, verifier: Verifier.name)
    }
}
