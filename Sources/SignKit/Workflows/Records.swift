import Foundation

/// The records workflows over one store: files, appends, approval requests, scan uploads, the daily report and
/// bundles. The daemon's routes and signctl's local commands decode their input, call one of these, and encode the
/// answer; every decision (what is checked, in which order, what is audited) is made here.
///
/// Calls block (SQLite, the document signer's token, OpenSSL); run them off an event loop. Time is passed in.
public final class Records: Sendable {
    public let store: any HistoryStore
    /// Judges every signature offered for an entry; nil when the service has no trust store (then appends,
    /// uploads and exports answer `verifier-unavailable`).
    public let verifier: Verifier?
    let verifierProblem: String?
    /// Signs checkpoints, approval requests' QR codes and bundle seals; nil when none is configured.
    public let documentSigner: DocumentSigner?
    public let roles: ApprovalRoles?
    /// Where the roles file was, named in refusals.
    let rolesSource: String?
    /// Where uploads stream while they are checked (beside the store, so an accepted scan moves in without a copy);
    /// nil where no scans are taken (signctl on a local store).
    let intake: ScanIntake?
    /// Accept a scan on which no QR code of this service can be read (the attestation must say so).
    public let acceptWithoutQR: Bool
    public let audit: (any AuditTrail)?
    /// The department log over `store`: every entry a leaf, tree heads signed by the document signer; nil where no
    /// log is kept (signctl on a local store reads and exports without one).
    public let log: DepartmentLog?

    public init(
        store: any HistoryStore, verifier: Verifier?, verifierProblem: String? = nil, documentSigner: DocumentSigner?,
        roles: ApprovalRoles? = nil, rolesSource: String? = nil, intake: ScanIntake? = nil, acceptWithoutQR: Bool = false,
        audit: (any AuditTrail)? = nil, log: DepartmentLog? = nil
    ) {
        self.log = log
        self.store = store
        self.verifier = verifier
        self.verifierProblem = verifierProblem
        self.documentSigner = documentSigner
        self.roles = roles
        self.rolesSource = rolesSource
        self.intake = intake
        self.acceptWithoutQR = acceptWithoutQR
        self.audit = audit
    }

    // MARK: Files

    public func files(origin: String?, at time: Date) throws -> FileListAnswer {
        try audited("history-read", origin: origin, file: nil, at: time) { FileListAnswer(files: try store.files()) }
    }

    public func createFile(_ file: FileRecord, origin: String?, at time: Date) throws -> FileCreatedAnswer {
        try audited("file-created", origin: origin, file: file.number, at: time) {
            if let problem = file.problem { throw HistoryError(.invalidRequest, problem) }
            try store.createFile(file)
        }
        try record(
            committed: true,
            AuditRecord(
                time: time, action: "file-created", result: "ok", origin: origin, file: file.number,
                detail: "\(file.subject) (\(file.department))"))
        return FileCreatedAnswer(file: file)
    }

    public func history(of number: String, origin: String?, at time: Date) throws -> FileHistoryAnswer {
        try audited("history-read", origin: origin, file: number, at: time) {
            guard let file = try store.file(number) else { throw HistoryError(.unknownFile, "there is no file \(number)") }
            return FileHistoryAnswer(
                file, entries: try store.entries(of: number), checkpoints: try store.checkpoints(of: number), leafIndexes: try store.leafIndexes(of: number))
        }
    }

    // MARK: Entries

    /// Appends a signed note or approval: the signature must verify (TOTAL-PASSED) and name this file, this note and
    /// the file's head; the entry and its log leaf commit together, then the append is audited. The answer carries the
    /// leaf index, and the inclusion proof when a tree head covers the leaf already (`inclusion(leafIndex:)` later).
    ///
    /// `signer`, when given, is shown the verified signer's certificate fingerprint before anything is stored and
    /// may refuse it (the records service: the signer must be the logged-in officer).
    public func append(
        _ body: AppendRequestBody, to number: String, origin: String?, signer: (@Sendable ([UInt8]) throws -> Void)? = nil, at time: Date
    ) throws -> AppendAnswer {
        let answer = try audited("history-append", origin: origin, file: number, at: time) { () throws -> AppendAnswer in
            let kind = try Self.kind(body.kind)
            guard !body.noteID.isEmpty else { throw HistoryError(.invalidRequest, "noteID must not be empty") }
            guard let content = Data(base64Encoded: body.content), let given = Data(base64Encoded: body.signature) else {
                throw HistoryError(.invalidRequest, "content and signature must be base64")
            }
            let signature = try Self.derSignature(Array(given))
            let history = FileHistory(store: store, verifier: try requireVerifier())
            let (entry, verdict, leafIndex) = try history.append(
                file: number, kind: kind, noteID: body.noteID, content: Array(content),
                signature: signature, admit: signer, at: time)
            return AppendAnswer(
                entry: EntryView(entry, leafIndex: leafIndex), signer: verdict.signer?.name ?? "?", indication: verdict.indication.rawValue,
                leafIndex: leafIndex)
        }
        try record(
            committed: true,
            AuditRecord(
                time: time, action: "history-append", result: "ok", origin: origin, file: number, note: body.noteID,
                certificate: answer.entry.signerFingerprint,
                detail: "entry \(answer.entry.sequence) (\(answer.entry.kind)) by \(answer.signer), hash \(answer.entry.hash)"))
        return answer
    }

    /// Appends several signed notes or approvals, of any files, in one store transaction: each judged as `append`
    /// judges one, each refused on its own (the others go in), each audited. `refused` holds the items the caller
    /// turned away already (not allowed to append there), by position. One result per item, in order.
    public func appendBatch(
        _ items: [BatchAppendRequestBody.Item], refused: [Int: any Error] = [:], origin: String?,
        signer: (@Sendable ([UInt8]) throws -> Void)? = nil, at time: Date
    ) throws -> [Result<AppendAnswer, any Error>] {
        guard items.count <= BatchAppendRequestBody.maximumEntries else {
            throw HistoryError(.invalidRequest, "at most \(BatchAppendRequestBody.maximumEntries) entries in one request, not \(items.count)")
        }
        let history = FileHistory(store: store, verifier: try requireVerifier())
        var results = [Result<AppendAnswer, any Error>?](repeating: nil, count: items.count)
        var judged = [(position: Int, judged: FileHistory.Judged)]()
        for (position, item) in items.enumerated() {
            if let error = refused[position] {
                results[position] = .failure(error)
                continue
            }
            do {
                let kind = try Self.kind(item.kind)
                guard !item.noteID.isEmpty else { throw HistoryError(.invalidRequest, "noteID must not be empty") }
                guard let content = Data(base64Encoded: item.content), let given = Data(base64Encoded: item.signature) else {
                    throw HistoryError(.invalidRequest, "content and signature must be base64")
                }
                judged.append(
                    (
                        position,
                        try history.judge(
                            file: item.file, kind: kind, noteID: item.noteID, content: Array(content), signature: try Self.derSignature(Array(given)),
                            admit: signer, at: time)
                    ))
            } catch {
                results[position] = .failure(error)
            }
        }
        let stored = try history.appendBatch(judged.map(\.judged), at: time)
        for ((position, item), outcome) in zip(judged, stored) {
            results[position] = outcome.map { made in
                AppendAnswer(
                    entry: EntryView(made.entry, leafIndex: made.leafIndex), signer: item.verdict.signer?.name ?? "?",
                    indication: item.verdict.indication.rawValue, leafIndex: made.leafIndex)
            }.mapError { $0 as any Error }
        }
        // Every item audited, as a single append would be, in one write of the audit log.
        let trail = zip(items, results).map { item, result in
            switch result! {
            case .success(let answer):
                AuditRecord(
                    time: time, action: "history-append", result: "ok", origin: origin, file: item.file, note: item.noteID,
                    certificate: answer.entry.signerFingerprint,
                    detail:
                        "entry \(answer.entry.sequence) (\(answer.entry.kind)) by \(answer.signer), hash \(answer.entry.hash), leaf \(answer.leafIndex) (batch)"
                )
            case .failure(let error):
                AuditRecord(
                    time: time, action: "history-append", result: Self.isFailure(error) ? "failed" : "refused", origin: origin,
                    file: item.file, note: item.noteID, detail: Self.coded(error) + " (batch)")
            }
        }
        try audit?.record(trail, committed: results.contains { if case .success = $0! { true } else { false } })
        return results.map { $0! }
    }

    static func kind(_ text: String) throws -> EntryKind {
        switch text {
        case EntryKind.note.rawValue: .note
        case EntryKind.approval.rawValue: .approval
        default: throw HistoryError(.invalidRequest, "kind must be note or approval (scan approvals have their own upload)")
        }
    }

    /// A signature as DER: PEM is decoded, anything else passed on for the verifier to judge.
    static func derSignature(_ given: [UInt8]) throws -> [UInt8] {
        guard given.starts(with: Array("-----BEGIN ".utf8)) else { return given }
        guard let decoded = PEM.decode(String(decoding: given, as: UTF8.self))?.first else {
            throw HistoryError(.invalidRequest, "the signature is PEM but does not decode")
        }
        return decoded
    }

    // MARK: Approval requests

    /// Issues an approval request for a note going to a Minister: the PPS/PS named (or, when none is named, the
    /// Minister's in the roles file) must be the Minister's in the roles file when there is one; the QR text is
    /// signed by the document signer.
    public func issueApprovalRequest(_ body: ApprovalRequestBody, file number: String, origin: String?, at time: Date) throws -> ApprovalRequest.JSON {
        let issued = try audited("approval-requested", origin: origin, file: number, at: time) { () throws -> ApprovalRequest in
            guard let extractHash = Hex.decode(body.extractSHA256), extractHash.count == 32 else {
                throw ScanError(.badRequest, "extractSHA256 must be 64 hex digits")
            }
            let named = body.pps ?? []
            var chosen = named.compactMap { Hex.decode($0) }
            guard chosen.count == named.count else { throw ScanError(.badRequest, "pps must list certificate SHA-256 fingerprints in hex") }
            if let roles {
                guard let allowed = roles.pps(of: body.minister) else {
                    throw ScanError(.badRequest, "\(body.minister) is not a Minister in the roles file (\(rolesSource ?? "configured"))")
                }
                if chosen.isEmpty { chosen = allowed }
                if let stranger = chosen.first(where: { !allowed.contains($0) }) {
                    throw ScanError(.badRequest, "certificate \(Hex.encode(stranger)) is not a PPS/PS of \(body.minister) in the roles file")
                }
            }
            guard try store.file(number) != nil else { throw HistoryError(.unknownFile, "there is no file \(number)") }
            let issued = try ApprovalRequest.issue(
                fileNumber: number, noteID: body.noteID, extractHash: extractHash, minister: body.minister,
                authorisedPPS: chosen, signer: try checkpointSigner(at: time), at: time)
            try store.createApprovalRequest(issued)
            return issued
        }
        try record(
            committed: true,
            AuditRecord(
                time: time, action: "approval-requested", result: "ok", origin: origin, file: number, note: body.noteID,
                detail: "request \(issued.id) for \(body.minister), extract SHA-256 \(body.extractSHA256.lowercased()), \(issued.authorisedPPS.count) PPS/PS"))
        return ApprovalRequest.JSON(issued)
    }

    public func approvalRequest(_ id: String, file number: String, origin: String?, at time: Date) throws -> ApprovalRequest.JSON {
        try audited("history-read", origin: origin, file: number, at: time) {
            guard let found = try store.approvalRequest(id), found.fileNumber == number else {
                throw ScanError(.unknownRequest, "file \(number) has no approval request \(id)")
            }
            return ApprovalRequest.JSON(found)
        }
    }

    // MARK: Scans

    /// What is known of a scan upload before its body is read.
    public struct ScanAdmission: Sendable {
        public let file: String
        public let request: ApprovalRequest
        public let attestation: ScanAttestation
        public let attestationBytes: [UInt8]
        public let signature: [UInt8]
        /// The uploader's name and DSC serial.
        public let uploader: String
        public let scanName: String?
        public let origin: String?
    }

    /// The first half of accepting a scan, judged from the request's headers before the body is read, in order:
    /// the request is this file's and open; the attestation reads and names this request; its signature verifies
    /// and its signer is a PPS/PS the request names (and, with a roles file, the Minister's there now).
    public func admitScan(
        file number: String, request id: String, attestation encoded: String?, signature signatureText: String?,
        scanName: String?, origin: String?, at time: Date
    ) throws -> ScanAdmission {
        try refusingScan(file: number, request: id, origin: origin, at: time) {
            let verifier = try requireVerifier()
            guard let found = try store.approvalRequest(id), found.fileNumber == number else {
                throw ScanError(.unknownRequest, "file \(number) has no approval request \(id)")
            }
            guard found.status == .open else { throw HistoryError(.requestClosed, "approval request \(id) is closed: its scan is already in the history") }
            if let scanName { try ScanIntake.checkName(scanName) }
            guard let encoded, encoded.count <= 8192, let decoded = Data(base64Encoded: encoded),
                let signatureText, signatureText.count <= 128 * 1024, let signatureBytes = Data(base64Encoded: signatureText)
            else {
                throw ScanError(
                    .badRequest,
                    "send the attestation and the PPS/PS's signature over it, base64, in the "
                        + "\(ScanUploadHeader.attestation) and \(ScanUploadHeader.attestationSignature) headers")
            }
            let attestation = try ScanAttestation(bytes: Array(decoded))
            try attestation.check(against: found)
            let uploader = try Self.checkUploader(
                signature: Array(signatureBytes), attestation: Array(decoded), request: found, roles: roles,
                verifier: verifier, at: time)
            return ScanAdmission(
                file: number, request: found, attestation: attestation, attestationBytes: Array(decoded),
                signature: Array(signatureBytes), uploader: uploader, scanName: scanName, origin: origin)
        }
    }

    /// The attestation's signature must verify (TOTAL-PASSED) at `time` and its signer be one of the request's
    /// PPS/PS and, when a roles file is configured, one of the Minister's PPS/PS there now. Returns the signer's
    /// name and DSC serial.
    static func checkUploader(
        signature: [UInt8], attestation: [UInt8], request: ApprovalRequest, roles: ApprovalRoles?, verifier: Verifier,
        at time: Date
    ) throws -> String {
        let verdict: Verdict
        do {
            verdict = try verifier.verify(signature: signature, content: .bytes(attestation), at: time)
        } catch {
            throw ScanError(.attestationMismatch, "the attestation's signature does not read: \(error.description)")
        }
        guard verdict.indication == .totalPassed, let signer = verdict.signer, let fingerprint = Hex.decode(signer.sha256Fingerprint) else {
            throw ScanError(.attestationMismatch, "the attestation's signature is \(verdict.indication.rawValue): \(verdict.summary)")
        }
        let name = "\(signer.name) (DSC serial \(signer.serialNumber))"
        guard request.authorisedPPS.contains(fingerprint) else {
            throw ScanError(.unauthorisedUploader, "\(name) is not a PPS/PS named on approval request \(request.id) for \(request.minister)")
        }
        if let roles, !(roles.pps(of: request.minister) ?? []).contains(fingerprint) {
            throw ScanError(.unauthorisedUploader, "\(name) is not, or no longer, a PPS/PS of \(request.minister) in the roles file")
        }
        return name
    }

    /// Where the body of an admitted upload streams (`ScanUpload`: hashed, counted, stopped at the size limit).
    public func beginScan() throws -> ScanUpload {
        guard let intake else { throw IntakeError(.storage, "this store takes no scan uploads") }
        return try intake.begin()
    }

    /// The second half, once the scan is on disk (`intake`): it must be the scan the attestation names; the QR code
    /// read from it must be this request's (or none readable, when the policy allows) and what the attestation
    /// says; then one transaction appends the scan-approval entry and closes the request. The scan file is moved
    /// into the store, or removed on any refusal.
    public func acceptScan(_ admission: ScanAdmission, scan: ScanFile, at time: Date) throws -> ScanApprovalAnswer {
        // Whatever happens the upload's file goes: moved into the store (then this finds nothing), or refused.
        defer { unlink(scan.path) }
        let attestation = admission.attestation
        let (entry, finding) = try refusingScan(file: admission.file, request: admission.request.id, origin: admission.origin, at: time) {
            () throws -> (EntryView, QRFinding) in
            guard scan.sha256 == attestation.scanHash, scan.size == attestation.scanBytes, scan.type == attestation.scanType else {
                throw ScanError(
                    .attestationMismatch,
                    "the attestation is over another scan (SHA-256 \(Hex.encode(attestation.scanHash.prefix(8)))…, "
                        + "\(attestation.scanBytes) bytes); this upload is \(Hex.encode(scan.sha256.prefix(8)))…, \(scan.size) bytes")
            }
            let checkpointSigner = try checkpointSigner(at: time)
            let texts = try ScanQR.texts(in: scan.path, type: scan.type, pages: scan.pages)
            let finding = try QRFinding.judge(texts, request: admission.request, signer: checkpointSigner.certificate)
            if finding == .notRead && !acceptWithoutQR {
                throw ScanError(
                    .qrRequired,
                    "no QR code of this service can be read on the scan (\(texts.count) other code(s) found), "
                        + "and this service accepts scans only with the request's QR code readable: scan it again, clearer")
            }
            guard attestation.qr == finding else {
                throw ScanError(
                    .attestationMismatch, "the attestation says the QR code was \(attestation.qr.rawValue), but the service found \(finding.rawValue)")
            }
            let history = FileHistory(store: store, verifier: try requireVerifier())
            let (entry, _, leafIndex) = try history.append(
                file: admission.file, kind: .scanApproval, noteID: admission.request.noteID,
                content: admission.attestationBytes, signature: admission.signature,
                scan: ScanAppendix(path: scan.path, sha256: scan.sha256, requestID: admission.request.id), at: time)
            return (EntryView(entry, leafIndex: leafIndex), finding)
        }
        try record(
            committed: true,
            AuditRecord(
                time: time, action: "scan-upload", result: "ok", origin: admission.origin, file: admission.file, note: admission.request.noteID,
                certificate: entry.signerFingerprint,
                detail: "\(admission.request.id): entry \(entry.sequence) (scan-approval) attested by \(admission.uploader); scan "
                    + (admission.scanName.map { "\"\($0)\" " } ?? "") + "\(scan.type.mediaType) \(scan.size) bytes "
                    + "SHA-256 \(Hex.encode(scan.sha256)); QR \(finding.rawValue)"))
        return ScanApprovalAnswer(
            entry: entry, request: admission.request.id, uploadedBy: admission.uploader, qr: finding.rawValue,
            scanSHA256: Hex.encode(scan.sha256), scanType: scan.type.mediaType, scanBytes: scan.size, pages: scan.pages)
    }

    /// Audits a scan upload that failed between admission and acceptance (the body broke off, was too large, not a
    /// scan) and returns the error to answer with.
    public func refuseScan(_ error: any Error, file number: String, request id: String, origin: String?, at time: Date) -> any Error {
        do {
            try record(
                committed: false,
                AuditRecord(
                    time: time, action: "scan-upload", result: "refused", origin: origin, file: number,
                    detail: "\(id): \(Self.coded(error))"))
        } catch {
            return error
        }
        return error
    }

    private func refusingScan<T>(file number: String, request id: String, origin: String?, at time: Date, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw refuseScan(error, file: number, request: id, origin: origin, at: time)
        }
    }

    // MARK: Reports and bundles

    public func dailyReport(from: String, to: String, timeZone: TimeZone, department: String?, origin: String?, at time: Date) throws -> DailyReport {
        try audited("report-read", origin: origin, file: nil, at: time) {
            try DailyReport.build(store: store, from: from, to: to, timeZone: timeZone, department: department)
        }
    }

    /// Writes the file's sealed bundle to `path` and audits the export; returns the number of entries.
    public func exportBundle(file number: String, to path: String, origin: String?, at time: Date) throws -> Int {
        let size = try audited("history-export", origin: origin, file: number, at: time) {
            let sealer = try checkpointSigner(at: time)
            return try HistoryBundle.export(
                file: number, from: store, verifier: try requireVerifier(), sealer: sealer, log: try logEvidence(sealer, at: time),
                to: path, at: time)
        }
        try record(
            committed: false,
            AuditRecord(
                time: time, action: "history-export", result: "ok", origin: origin, file: number,
                detail: "\(size) entries"))
        return size
    }

    /// The file's history verified as anyone holding its bundle would verify it: exported and sealed to `scratch`,
    /// checked offline against this service's trust anchors at `time`, the scratch file removed. Audited as a read.
    public func historyReport(file number: String, scratch path: String, origin: String?, at time: Date) throws -> HistoryReport {
        try audited("history-report", origin: origin, file: number, at: time) {
            let verifier = try requireVerifier()
            defer { unlink(path) }
            let sealer = try checkpointSigner(at: time)
            _ = try HistoryBundle.export(
                file: number, from: store, verifier: verifier, sealer: sealer, log: try logEvidence(sealer, at: time), to: path, at: time)
            return try HistoryBundle.verify(path, trust: verifier.trust, at: time)
        }
    }

    // MARK: The department log

    /// Signs a tree head over every durable leaf when some are not yet covered (the publisher's tick, and on
    /// request); the latest head either way.
    @discardableResult
    public func publishTreeHead(at time: Date) throws -> StoredTreeHead? {
        guard let log else { return nil }
        return try log.publish(signer: try checkpointSigner(at: time), at: time)
    }

    /// The inclusion proof of leaf `leafIndex` against the latest head, with that head (and its cosignatures); nil
    /// while no head covers the leaf yet.
    public func inclusion(leafIndex: Int) throws -> InclusionView? {
        guard let log, let head = try log.latestHead(), head.size > leafIndex else { return nil }
        let proof = try log.inclusionProof(leafIndex: leafIndex, treeSize: head.size)
        return InclusionView(proof, checkpoint: head.note)
    }

    /// What a bundle carries of the log: a head covering every entry of the store (one is signed now when the latest
    /// does not), to prove each of the file's entries against.
    func logEvidence(_ sealer: CheckpointSigner, at time: Date) throws -> HistoryBundle.LogEvidence? {
        guard let log else { return nil }
        guard let head = try log.publish(signer: sealer, at: time) else { return nil }
        return HistoryBundle.LogEvidence(log: log, head: try log.cosigned(head))
    }

    // MARK: Plumbing

    func requireVerifier() throws -> Verifier {
        guard let verifier else { throw RecordsError(.verifierUnavailable, verifierProblem ?? "this service has no trust store") }
        return verifier
    }

    public func checkpointSigner(at time: Date) throws -> CheckpointSigner {
        guard let documentSigner else {
            throw HistoryError(
                .signerUnavailable,
                "this service has no documentSigner configured: it cannot sign checkpoints, "
                    + "approval requests or bundles (docs/daemon.md)")
        }
        return try documentSigner.signer(at: time)
    }

    private func record(committed: Bool, _ record: AuditRecord) throws {
        try audit?.record(record, committed: committed)
    }

    /// Runs `body`; a coded refusal or failure is audited under `action` before it is rethrown.
    private func audited<T>(_ action: String, origin: String?, file: String?, at time: Date, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AuditError {
            throw error
        } catch {
            try record(
                committed: false,
                AuditRecord(
                    time: time, action: action, result: Self.isFailure(error) ? "failed" : "refused",
                    origin: origin, file: file, detail: Self.coded(error)))
            throw error
        }
    }

    /// A failure of the service (storage, signer, verifier), as opposed to a refusal of what was asked.
    static func isFailure(_ error: any Error) -> Bool {
        switch error {
        case let error as HistoryError: [.storage, .bundle, .signerUnavailable, .unavailable, .revocationUnavailable].contains(error.code)
        case let error as IntakeError: error.code == .storage
        case is RecordsError: true
        case is any CodedError: false
        default: true
        }
    }

    static func coded(_ error: any Error) -> String {
        (error as? any CodedError)?.codedDescription ?? "storage: \(error)"
    }
}

/// The records service cannot do what was asked for a reason of its own (no trust store).
public typealias RecordsError = DomainError<RecordsErrorDomain>

/// The domain of `RecordsError`: its codes are the `ErrorCode<RecordsErrorDomain>` statics below.
public enum RecordsErrorDomain {}

extension ErrorCode where Domain == RecordsErrorDomain {
    /// Verification is unavailable (no trust store could be loaded).
    public static let verifierUnavailable = Self("verifier-unavailable")
}
