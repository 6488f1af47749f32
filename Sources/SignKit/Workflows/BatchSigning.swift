import Foundation

/// What caps a batch: how many notes, and how long the token's part (one login, every signature) may take.
public struct BatchLimits: Sendable {
    public var maximumNotes: Int
    public var seconds: Double

    public init(maximumNotes: Int = 10, seconds: Double = 60) {
        self.maximumNotes = maximumNotes
        self.seconds = seconds
    }
}

/// Several notes signed with one key after one PIN: the officer sees every note and its digest in one dialog.
public struct SignedBatch: Sendable {
    public let requests: [ExtractSigningRequest]
    public let signatures: [SignedExtract]
    /// The one certificate every signature of the batch was made with.
    public let certificate: X509Certificate
}

extension ExtractSigner {
    /// Signs every request of a batch with their one key: the requests are checked (same key, origin and chain; no
    /// note twice; at most `limits.maximumNotes`), the key is resolved and checked, the PIN is asked once with every
    /// note shown, the token signs them on one session within `limits.seconds`, and each signature is checked,
    /// time-stamped when asked and audited on its own. Nothing is handed out unless every note was signed.
    public func signBatch(_ requests: [ExtractSigningRequest], pin source: any PINSource, limits: BatchLimits, at time: Date) throws -> SignedBatch {
        let origin = requests.first?.origin
        func audited(_ result: String, _ detail: String, certificate: String? = nil) throws {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign-batch", result: result, origin: origin, certificate: certificate,
                    detail: "\(requests.count) notes: " + detail), committed: false)
        }
        let (prepared, signatures) = try Self.auditingFailures(audited) { () -> ([CAdES.Prepared], [TokenSignature]) in
            try Self.check(batch: requests, limits: limits)
            let key = requests[0].key
            let pin = try source.pin {
                let (token, certificate) = try signingKey(key, login: requests[0].login, at: time)
                let prompt = SigningPrompt(
                    tokenLabel: token.info.label, signerName: certificate.certificate.subject.commonName ?? certificate.label,
                    pinState: token.info.pinState, request: nil, batch: requests)
                guard prompt.fitsOneDialog else {
                    throw SigningRequestError("these \(requests.count) notes do not fit one PIN dialog; send fewer in a batch")
                }
                return prompt
            }
            defer { pin.wipe() }
            let end = ContinuousClock.now + .seconds(limits.seconds)
            return try sessions.withFreshSession(key, pin: pin, tokens: tokens, options: requests[0].login, at: time, deadline: limits.seconds) {
                session, pin in
                var prepared = [CAdES.Prepared](), signatures = [TokenSignature]()
                for request in requests {
                    // A token slower than the cap stops the batch between two signatures; the deadline stops the wait.
                    guard ContinuousClock.now < end else {
                        throw TokenError(.timeout, "the batch took longer than \(Int(limits.seconds)) s; nothing was handed out", retryable: true)
                    }
                    let ready = try CAdES.Prepared(
                        contentDigest: request.extractDigest, certificate: session.certificate, parameters: request.parameters(at: time))
                    prepared.append(ready)
                    signatures.append(try session.sign(ready.toBeSigned, pin: pin))
                }
                return (prepared, signatures)
            }
        }
        var signed = [SignedExtract]()
        for (index, request) in requests.enumerated() {
            func auditedNote(_ result: String, _ detail: String, certificate: String? = nil) throws {
                try audit?.record(
                    AuditRecord(
                        time: time, action: "sign", result: result, origin: request.origin, file: request.fileNumber, note: request.noteID,
                        certificate: certificate, detail: detail + " (batch, note \(index + 1) of \(requests.count))"), committed: false)
            }
            signed.append(
                try Self.auditingFailures(auditedNote) {
                    let one = SignedExtract(
                        signature: try prepared[index].finish(signatures[index]), certificate: prepared[index].certificate,
                        commitment: request.commitment, timeStamped: request.timeStampAuthority != nil,
                        timeStampAuthority: request.timeStampAuthority?.url)
                    try auditedNote("ok", request.signedDetail(timeStamped: one.timeStamped), certificate: Hex.encode(one.certificate.sha256Fingerprint))
                    return one
                })
        }
        return SignedBatch(requests: requests, signatures: signed, certificate: prepared[0].certificate)
    }

    static func check(batch requests: [ExtractSigningRequest], limits: BatchLimits) throws {
        guard !requests.isEmpty else { throw SigningRequestError("a batch needs at least one note") }
        guard requests.count <= limits.maximumNotes else {
            throw SigningRequestError("a batch may have at most \(limits.maximumNotes) notes (this one has \(requests.count))")
        }
        var seen = Set<String>()
        for request in requests {
            try request.check()
            guard request.key.description == requests[0].key.description, request.origin == requests[0].origin else {
                throw SigningRequestError("every note of a batch is signed with the same key for the same page")
            }
            guard seen.insert(request.fileNumber + "\u{0}" + request.noteID).inserted else {
                throw SigningRequestError("note \(request.noteID) of file \(request.fileNumber) is twice in the batch")
            }
        }
    }
}

extension ExtractSigningRequest {
    /// The signed attributes' inputs for this request at `time`.
    func parameters(at time: Date) -> SignatureParameters {
        SignatureParameters(
            context: EOfficeContext(fileNumber: fileNumber, noteID: noteID, previousEntryHash: previousHash, origin: origin),
            commitment: commitment, signingTime: time, chain: chain, timeStampAuthority: timeStampAuthority)
    }

    /// The audit record's detail of a signature made for this request.
    func signedDetail(timeStamped: Bool) -> String {
        "signed \(extractSize) bytes, SHA-256 \(Hex.encode(extractDigest)), \(commitment.rawValue)" + (timeStamped ? ", time-stamped" : "")
    }
}

extension SigningPrompt {
    /// A pinentry takes one Assuan line of at most 1,000 bytes for its text.
    var fitsOneDialog: Bool { PINEntry.escapedLength(dialogText) <= 900 }
}

extension ExtractSigner {
    /// A batch request as the agent's API carries it (POST /v1/sign/batch): each note read and checked as a single
    /// sign request would be, the PIN taken as `settings` say, then signed as `signBatch(_:pin:limits:at:)` does.
    public func signBatch(
        _ body: BatchSignRequestBody, origin: String?, settings: AgentSigningSettings, limits: BatchLimits, at time: Date
    ) throws -> SignedBatch {
        let (requests, source): ([ExtractSigningRequest], any PINSource)
        do {
            guard body.notes.count <= limits.maximumNotes else {
                throw SigningRequestError("a batch may have at most \(limits.maximumNotes) notes (this one has \(body.notes.count))")
            }
            var read = [ExtractSigningRequest]()
            var total = 0
            for index in body.notes.indices {
                let request = try Self.request(body.single(index), origin: origin, settings: settings)
                total += request.extractSize
                guard total <= settings.maximumExtractBytes else {
                    throw SigningRequestError("the batch's extracts together are larger than maximumRequestBytes (\(settings.maximumExtractBytes))")
                }
                read.append(request)
            }
            (requests, source) = (read, try Self.pinSource(body.pin, settings: settings))
        } catch {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign-batch", result: "refused", origin: origin,
                    detail: "\(body.notes.count) notes: " + ((error as? any CodedError)?.codedDescription ?? "\(error)")), committed: false)
            throw error
        }
        return try signBatch(requests, pin: source, limits: limits, at: time)
    }
}
