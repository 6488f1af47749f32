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
        try admit?(fingerprint)
        // The same signature again (a retry after a lost answer, or from another instance): its entry, not a second.
        let signatureHash = SHA256Hasher.hash(signature)
        if let made = try made(number, signatureHash) { return (made.entry, verdict, made.leafIndex) }
        let head = try store.head(of: number)
        let named = context.previousEntryHash ?? HistoryEntry.genesis
        guard named == head.hash else {
            throw HistoryError(
                .contextMismatch,
                "the signature follows history entry \(Hex.encode(named.prefix(8)))…, but the file's head is "
                    + (head.size == 0 ? "empty" : "entry \(head.size) (\(Hex.encode(head.hash)))")
                    + "; sign again over the current head")
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
        let entry = HistoryEntry(
            fileNumber: number, sequence: head.size + 1, kind: kind, noteID: noteID, time: time,
            contentHash: SHA256Hasher.hash(content), signatureHash: signatureHash,
            signerFingerprint: fingerprint, attachmentHash: scan?.sha256,
            previousHash: head.hash)
        do {
            let index = try store.append(entry, checkpoint: nil, blobs: [content, signature], scan: scan)
            return (entry, verdict, index)
        } catch let error as HistoryError where error.code == .headMoved {
            // Lost a race: to a retry of this very signature (then that entry is the answer), or to another note.
            if let made = try made(number, signatureHash) { return (made.entry, verdict, made.leafIndex) }
            throw error
        }
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
