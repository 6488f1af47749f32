import Foundation

/// Signs checkpoints: the service's document-signer key (a token session in production and tests).
public struct CheckpointSigner: Sendable {
    public let certificate: X509Certificate
    public let chain: [X509Certificate]
    let sign: @Sendable ([UInt8]) throws -> TokenSignature

    public init(certificate: X509Certificate, chain: [X509Certificate] = [], sign: @escaping @Sendable ([UInt8]) throws -> TokenSignature) {
        self.certificate = certificate
        self.chain = chain
        self.sign = sign
    }

    /// A detached CAdES signature over the checkpoint's canonical bytes, its e-Office context naming the file and
    /// the head hash. It carries the document signer's certificate only: a file holds one checkpoint per entry, and
    /// the chain, the same for all of them, goes into each bundle once (`HistoryBundle.export`).
    func signature(for checkpoint: Checkpoint) throws -> [UInt8] {
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: checkpoint.fileNumber, noteID: "checkpoint-\(checkpoint.size)", previousEntryHash: checkpoint.headHash),
            commitment: .proofOfOrigin, signingTime: checkpoint.time, chain: [])
        return try CAdES.signDetached(
            contentDigest: SHA256Hasher.hash(checkpoint.canonicalBytes), certificate: certificate,
            parameters: parameters, sign: sign)
    }
}

/// Appending to file histories: each new entry's signature must verify (TOTAL-PASSED) and its e-Office context must
/// name this file, this note and the file's current head; then the entry and its department-log leaf commit
/// together. Nothing is signed per append: the log's next tree head covers the leaf (DepartmentLog.publish).
public final class FileHistory: Sendable {
    public let store: any HistoryStore
    public let verifier: Verifier

    public init(store: any HistoryStore, verifier: Verifier) {
        self.store = store
        self.verifier = verifier
    }

    /// A signature judged fit for a file before anything is stored: its verdict, the signer's certificate
    /// fingerprint, the head its context names, and the hash of the signature (an append is identified by it).
    public struct Judged: Sendable {
        public let file: String
        public let kind: EntryKind
        public let noteID: String
        public let content: [UInt8]
        public let signature: [UInt8]
        public let verdict: Verdict
        public let signerFingerprint: [UInt8]
        /// The head hash the signature's e-Office context names as previous entry.
        public let previousHash: [UInt8]
        public let signatureHash: [UInt8]
    }

    /// Checks a signature for `kind` in file `number`, note `noteID`, without touching the store: it must verify
    /// (TOTAL-PASSED), not be a login signature, carry an e-Office context naming this file and note, and the
    /// kind's commitment. `admit` sees the verified signer's certificate fingerprint and may refuse it.
    public func judge(
        file number: String, kind: EntryKind, noteID: String, content: [UInt8], signature: [UInt8],
        admit: ((_ signerFingerprint: [UInt8]) throws -> Void)? = nil, at time: Date
    ) throws -> Judged {
        let verdict: Verdict
        do {
            verdict = try verifier.verify(signature: signature, content: .bytes(content), at: time)
        } catch {
            throw HistoryError(.signatureNotValid, "the signature does not read: \(error.description)")
        }
        // Revocation data that cannot be had now (a CRL server or OCSP responder away) is the service's trouble, not
        // the signature's: the signer is told to send it again, not that it is bad.
        if verdict.indication == .indeterminate && verdict.subIndication == .tryLater {
            throw HistoryError(
                .revocationUnavailable,
                "the signature cannot be judged now: \(verdict.summary); nothing was stored; send it again shortly")
        }
        guard verdict.indication == .totalPassed else {
            throw HistoryError(
                .signatureNotValid,
                "the signature is \(verdict.indication.rawValue)"
                    + (verdict.subIndication.map { " \($0.rawValue)" } ?? "") + ": \(verdict.summary)")
        }
        if let login = verdict.login {
            throw HistoryError(
                .signatureNotValid,
                "this is a login signature (to \(login.service)): a login signature cannot be a note or an approval; sign the extract itself")
        }
        guard let context = verdict.context else {
            throw HistoryError(.contextMismatch, "the signature carries no e-Office context: it is not bound to any file or note")
        }
        guard context.fileNumber == number else {
            throw HistoryError(.contextMismatch, "the signature was made for file \(context.fileNumber), not \(number)")
        }
        guard context.noteID == noteID else {
            throw HistoryError(.contextMismatch, "the signature was made for note \(context.noteID), not \(noteID)")
        }
        guard let signer = verdict.signer, let fingerprint = Hex.decode(signer.sha256Fingerprint) else {
            throw HistoryError(.signatureNotValid, "the verdict names no signer")
        }
        let expected: String? =
            switch kind {
            case .note: Commitment.proofOfOrigin.rawValue
            case .approval: Commitment.proofOfApproval.rawValue
            default: nil
            }
        if let expected, verdict.commitment != expected {
            throw HistoryError(.contextMismatch, "a \(kind) needs the \(expected) commitment; the signature states \(verdict.commitment ?? "none")")
        }
        try admit?(fingerprint)
        return Judged(
            file: number, kind: kind, noteID: noteID, content: content, signature: signature, verdict: verdict, signerFingerprint: fingerprint,
            previousHash: context.previousEntryHash ?? HistoryEntry.genesis, signatureHash: SHA256Hasher.hash(signature))
    }

    /// The entry `judged` makes after `head`; `context-mismatch` naming the head when its signature follows another.
    static func entry(_ judged: Judged, after head: (size: Int, hash: [UInt8]), attachmentHash: [UInt8]? = nil, at time: Date) throws -> HistoryEntry {
        guard judged.previousHash == head.hash else {
            throw HistoryError(
                .contextMismatch,
                "the signature follows history entry \(Hex.encode(judged.previousHash.prefix(8)))…, but the file's head is "
                    + (head.size == 0 ? "empty" : "entry \(head.size) (\(Hex.encode(head.hash)))") + "; sign again over the current head")
        }
        return HistoryEntry(
            fileNumber: judged.file, sequence: head.size + 1, kind: judged.kind, noteID: judged.noteID, time: time,
            contentHash: SHA256Hasher.hash(judged.content), signatureHash: judged.signatureHash,
            signerFingerprint: judged.signerFingerprint, attachmentHash: attachmentHash, previousHash: head.hash)
    }

    /// Appends a signed extract (note or approval) or an attested scan (scan-approval: `content` is the attestation
    /// document, `scan` the checked upload and the request it closes). Returns the entry, the signature's verdict and
    /// the entry's leaf index in the department log.
    /// `admit` sees the verified signer's certificate fingerprint before anything is stored and may refuse it.
    @discardableResult
    public func append(
        file number: String, kind: EntryKind, noteID: String, content: [UInt8], signature: [UInt8],
        scan: ScanAppendix? = nil, admit: ((_ signerFingerprint: [UInt8]) throws -> Void)? = nil, at time: Date
    ) throws -> (entry: HistoryEntry, verdict: Verdict, leafIndex: Int) {
        guard try store.file(number) != nil else { throw HistoryError(.unknownFile, "there is no file \(number)") }
        let judged = try judge(file: number, kind: kind, noteID: noteID, content: content, signature: signature, admit: admit, at: time)
        // The same signature again (a retry after a lost answer, or from another instance): its entry, not a second.
        if let made = try made(number, judged.signatureHash) { return (made.entry, judged.verdict, made.leafIndex) }
        let entry = try Self.entry(judged, after: try store.head(of: number), attachmentHash: scan?.sha256, at: time)
        do {
            let index = try store.append(entry, checkpoint: nil, blobs: [content, signature], scan: scan)
            return (entry, judged.verdict, index)
        } catch let error as HistoryError where error.code == .headMoved {
            // Lost a race: to a retry of this very signature (then that entry is the answer), or to another note.
            if let made = try made(number, judged.signatureHash) { return (made.entry, judged.verdict, made.leafIndex) }
            throw error
        }
    }

    /// Appends several judged signatures, of any files, in one store transaction (`HistoryStore.appendBatch`): each
    /// must follow its file's head, or the entry before it in the batch for the same file. One result per item, in
    /// order: the entry and its leaf index, or why it was refused (the others go in regardless). A signature already
    /// in its file answers with the entry it made.
    public func appendBatch(_ items: [Judged], at time: Date) throws -> [Result<(entry: HistoryEntry, leafIndex: Int), HistoryError>] {
        var results = [Result<(entry: HistoryEntry, leafIndex: Int), HistoryError>?](repeating: nil, count: items.count)
        var heads = try store.heads(of: Array(Set(items.map(\.file))))
        var staged = [(position: Int, entry: HistoryEntry, blobs: [[UInt8]])]()
        for (position, item) in items.enumerated() {
            let head = heads[item.file] ?? (0, HistoryEntry.genesis)
            do {
                let entry = try Self.entry(item, after: head, at: time)
                heads[item.file] = (entry.sequence, entry.hash)
                staged.append((position, entry, [item.content, item.signature]))
            } catch let error as HistoryError {
                results[position] = .failure(error)
            }
        }
        let stored = try store.appendBatch(staged.map { ($0.entry, $0.blobs) })
        for (slot, outcome) in zip(staged, stored) {
            results[slot.position] = outcome.map { (slot.entry, $0) }
        }
        // A refusal may be a retry of a signature already in: then its entry is the answer (looked up together).
        let refused = items.indices.filter { position in
            if case .failure(let error) = results[position], [.headMoved, .contextMismatch].contains(error.code) { true } else { false }
        }
        let made = try store.entries(signedWith: refused.map { (items[$0].file, items[$0].signatureHash) })
        for position in refused {
            if let found = made[SignedEntryKey(file: items[position].file, signatureHash: items[position].signatureHash)] {
                results[position] = .success(found)
            }
        }
        return results.map { $0! }
    }

    /// The entry an earlier append of the same signature made, with its leaf index.
    private func made(_ number: String, _ signatureHash: [UInt8]) throws -> (entry: HistoryEntry, leafIndex: Int)? {
        guard let entry = try store.entry(of: number, signatureHash: signatureHash) else { return nil }
        guard let index = try store.leafIndexes(of: number)[entry.sequence] else {
            throw HistoryError(.storage, "entry \(entry.sequence) of \(number) has no leaf in the department log")
        }
        return (entry, index)
    }
}
