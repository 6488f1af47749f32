import Foundation

/// What a front asks to be signed: an extract (by its SHA-256) for one place in one file, with one key.
public struct ExtractSigningRequest: Sendable {
    public var extractDigest: [UInt8]
    public var extractSize: Int
    public var key: PKCS11URI
    public var fileNumber: String
    public var noteID: String
    public var commitment: Commitment
    /// The file history's head the signature follows (nil: not bound to a head).
    public var previousHash: [UInt8]?
    /// The web origin that asked, recorded in the e-Office context (nil for local programs).
    public var origin: String?
    public var chain: [X509Certificate]
    public var timeStampAuthority: TimeStampAuthority?
    public var login: LoginOptions

    public init(
        extractDigest: [UInt8], extractSize: Int, key: PKCS11URI, fileNumber: String, noteID: String,
        commitment: Commitment = .proofOfOrigin, previousHash: [UInt8]? = nil, origin: String? = nil,
        chain: [X509Certificate] = [], timeStampAuthority: TimeStampAuthority? = nil, login: LoginOptions = LoginOptions()
    ) {
        self.extractDigest = extractDigest
        self.extractSize = extractSize
        self.key = key
        self.fileNumber = fileNumber
        self.noteID = noteID
        self.commitment = commitment
        self.previousHash = previousHash
        self.origin = origin
        self.chain = chain
        self.timeStampAuthority = timeStampAuthority
        self.login = login
    }

    /// The longest file number or note id accepted: what goes into the signature is shown in the PIN dialog.
    public static let maximumFieldLength = 200

    /// Refuses, before any token is touched, what cannot be signed: a digest that is not SHA-256, an empty, overlong
    /// or control-character file number or note id, a previous hash that is not SHA-256.
    public func check() throws(SigningRequestError) {
        guard extractDigest.count == 32 else { throw SigningRequestError("the extract's digest must be a SHA-256 (32 bytes)") }
        for (name, value) in [("fileNumber", fileNumber), ("noteID", noteID)] {
            guard !value.isEmpty, value.count <= Self.maximumFieldLength else {
                throw SigningRequestError("\(name) must have 1 to \(Self.maximumFieldLength) characters")
            }
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw SigningRequestError("\(name) must not hold control characters (new lines, tabs)")
            }
        }
        if let previousHash, previousHash.count != 32 { throw SigningRequestError("previousHash must be 64 hex digits (a SHA-256)") }
    }
}

/// A sign request refused before any token was touched.
public typealias SigningRequestError = SingleCodeError<SigningRequestErrorDomain>

/// "invalid-request": a sign request refused before any token was touched.
public enum SigningRequestErrorDomain: SingleCodeDomain { public static let codeName = "invalid-request" }

/// What the officer is shown before they give the PIN: the key, its token's PIN state, and what will be signed.
public struct SigningPrompt: Sendable {
    public let tokenLabel: String
    public let signerName: String
    public let pinState: PINState
    /// The extract being signed; nil for other signatures (a bundle's seal, a login, a raw test signature).
    public let request: ExtractSigningRequest?
    /// The login being signed, when the signature is a login to a records service rather than a note.
    public let login: LoginBinding?
    /// The web origin that asked for the login (a request's origin is in the request).
    public let loginOrigin: String?
    /// The notes of a batch, all signed with this one PIN (empty for a single signature).
    public let batch: [ExtractSigningRequest]

    public init(
        tokenLabel: String, signerName: String, pinState: PINState, request: ExtractSigningRequest?, login: LoginBinding? = nil,
        loginOrigin: String? = nil, batch: [ExtractSigningRequest] = []
    ) {
        self.tokenLabel = tokenLabel
        self.signerName = signerName
        self.pinState = pinState
        self.request = request
        self.login = login
        self.loginOrigin = loginOrigin
        self.batch = batch
    }

    /// The text of a pinentry dialog (Web eID's model: with which certificate, for what, who asks).
    public var dialogText: String {
        if !batch.isEmpty { return batchText }
        var lines = ["Enter the PIN of token \"\(tokenLabel)\" to sign as \(signerName)."]
        if let login {
            lines.append("This is a LOGIN to \(login.service), not a note: nothing in any file is signed.")
            if let loginOrigin { lines.append("Asked by \(loginOrigin)") }
        }
        if let request {
            lines.append("File \(request.fileNumber), note \(request.noteID)" + (request.commitment == .proofOfApproval ? " (approval)" : ""))
            lines.append("Extract SHA-256 \(Hex.encode(request.extractDigest.prefix(8)))… (\(request.extractSize) bytes)")
            if let origin = request.origin { lines.append("Asked by \(origin)") }
        }
        if let warning { lines.append(warning + ".") }
        return lines.joined(separator: "\n")
    }

    /// A batch's dialog: every note with its digest, then who asks.
    var batchText: String {
        var lines = ["Enter the PIN of token \"\(tokenLabel)\" ONCE to sign these \(batch.count) notes as \(signerName):"]
        for (index, note) in batch.enumerated() {
            lines.append(
                "\(index + 1). File \(note.fileNumber), note \(note.noteID)" + (note.commitment == .proofOfApproval ? " (approval)" : "")
                    + ": SHA-256 \(Hex.encode(note.extractDigest.prefix(6)))… (\(note.extractSize) bytes)")
        }
        if let origin = batch[0].origin { lines.append("Asked by \(origin)") }
        if let warning { lines.append(warning + ".") }
        return lines.joined(separator: "\n")
    }

    /// One line for a terminal prompt.
    public var terminalText: String {
        let what = login.map { "LOGIN to \($0.service) as \(signerName), not a note" } ?? "signing as \(signerName)"
        return "PIN for token \"\(tokenLabel)\" (\(what))" + (warning.map { " - \($0)" } ?? "") + ": "
    }

    var warning: String? {
        if pinState.finalTry { return "LAST TRY: a wrong PIN locks the token" }
        if pinState.countLow { return "a wrong PIN was entered before" }
        return nil
    }
}

/// Where a signature's PIN comes from. `prompt` resolves the key and says what is being signed; a source that needs
/// nothing shown (a PIN that came with the request) does not call it.
public protocol PINSource: Sendable {
    func pin(_ prompt: () throws -> SigningPrompt) throws -> PIN
}

/// A PIN that came with the request (the daemon's `pinEntry: request`, a PIN file). The signer wipes it.
public struct GivenPIN: PINSource {
    public let value: PIN
    public init(_ value: PIN) { self.value = value }
    public func pin(_ prompt: () throws -> SigningPrompt) throws -> PIN { value }
}

/// Asked through a pinentry program (Assuan) on the officer's screen, showing what is signed.
public struct PinentryPIN: PINSource {
    public let program: String
    public init(program: String) { self.program = program }
    public func pin(_ prompt: () throws -> SigningPrompt) throws -> PIN {
        try PINEntry.ask(program: program, description: try prompt().dialogText)
    }
}

/// Read as one line from an open file descriptor (`--pin-fd`).
public struct DescriptorPIN: PINSource {
    public let descriptor: Int32
    public init(descriptor: Int32) { self.descriptor = descriptor }
    public func pin(_ prompt: () throws -> SigningPrompt) throws -> PIN {
        _ = try prompt()  // the key is checked before the PIN is read, as for the other sources
        return try PIN.read(fromDescriptor: descriptor)
    }
}

/// Asked on the controlling terminal with echo off.
public struct TerminalPIN: PINSource {
    public init() {}
    public func pin(_ prompt: () throws -> SigningPrompt) throws -> PIN {
        try PINPrompt.readFromTerminal(prompt: try prompt().terminalText)
    }
}

/// A signature made for a request.
public struct SignedExtract: Sendable {
    /// The detached CAdES signature, DER.
    public let signature: [UInt8]
    public let certificate: X509Certificate
    public let commitment: Commitment
    public let timeStamped: Bool
    /// The time-stamping authority that time-stamped it, when one did.
    public var timeStampAuthority: URL? = nil

    public var signerName: String { certificate.subject.commonName ?? certificate.subject.description }
}

/// Signing an extract for a request: every front (the agent's POST /v1/sign, `signctl sign`, the PPS's attestation,
/// the benchmarks) comes here. In order: the request is checked; the key is resolved and refused before any PIN is
/// asked when it is not for signing, its token locked, or at its final try without the caller saying so; the PIN is
/// obtained from the source; the token signs (on a kept session when one may serve); the signature is checked,
/// time-stamped when asked and encoded; the result is audited. A signature that cannot be audited is not handed out.
public final class ExtractSigner: Sendable {
    public let tokens: TokenManager
    public let sessions: KeptSession
    public let audit: (any AuditTrail)?

    public init(tokens: TokenManager, sessions: KeptSession = KeptSession(seconds: 0), audit: (any AuditTrail)? = nil) {
        self.tokens = tokens
        self.sessions = sessions
        self.audit = audit
    }

    /// The key `uri` names, checked as `sign` checks it before asking for a PIN.
    public func signingKey(_ uri: PKCS11URI, login: LoginOptions, at time: Date) throws -> (token: TokenEntry, certificate: TokenCertificate) {
        let inventory = tokens.inventory(at: time)
        if let problem = inventory.pcscProblem, inventory.tokens.isEmpty {
            throw TokenError(.pcscUnavailable, "no token found and PC/SC is unavailable: \(problem)")
        }
        let (token, certificate) = try tokens.resolve(uri, in: inventory)
        let name = certificate.certificate.subject.commonName ?? certificate.label
        let state = token.info.pinState
        if let reason = certificate.eligibility.reason {
            throw TokenError(.notForSigning, "certificate \"\(name)\" is not offered for signing: \(reason)")
        }
        if state.locked {
            throw TokenError(.pinLocked, "token \"\(token.info.label)\" is locked; no PIN was asked for or sent", pinState: state)
        }
        if state.finalTry && !login.acknowledgeFinalTry {
            throw TokenError(
                .pinFinalTry,
                "token \"\(token.info.label)\" has one PIN try left; no PIN was asked for or sent. "
                    + "Sign again saying you know it is the last try (signctl --last-try) if you are sure of the PIN", pinState: state)
        }
        return (token, certificate)
    }

    public func sign(_ request: ExtractSigningRequest, pin source: any PINSource, at time: Date) throws -> SignedExtract {
        func audited(_ result: String, _ detail: String, certificate: String? = nil) throws {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign", result: result, origin: request.origin, file: request.fileNumber,
                    note: request.noteID, certificate: certificate, detail: detail), committed: false)
        }
        return try Self.auditingFailures(audited) {
            try request.check()
            let pin = try source.pin {
                let (token, certificate) = try signingKey(request.key, login: request.login, at: time)
                return SigningPrompt(
                    tokenLabel: token.info.label, signerName: certificate.certificate.subject.commonName ?? certificate.label,
                    pinState: token.info.pinState, request: request)
            }
            defer { pin.wipe() }
            let parameters = request.parameters(at: time)
            // Built before and finished after the token signs: the token (and a kept session's turn) is held for the
            // signature alone, not for the CMS work or a time-stamping authority's answer.
            let (prepared, tokenSignature) = try sessions.sign(request.key, pin: pin, tokens: tokens, options: request.login, at: time) { certificate in
                try CAdES.Prepared(contentDigest: request.extractDigest, certificate: certificate, parameters: parameters)
            }
            let signed = SignedExtract(
                signature: try prepared.finish(tokenSignature), certificate: prepared.certificate,
                commitment: request.commitment, timeStamped: request.timeStampAuthority != nil,
                timeStampAuthority: request.timeStampAuthority?.url)
            try audited("ok", request.signedDetail(timeStamped: signed.timeStamped), certificate: Hex.encode(signed.certificate.sha256Fingerprint))
            return signed
        }
    }
}

extension ExtractSigner {
    /// Runs `body`; a refusal (a request that does not hold) or a failure is audited as such before it is rethrown,
    /// an audit log that cannot be written is rethrown as it is.
    static func auditingFailures<T>(_ audited: (String, String, String?) throws -> Void, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AuditError {
            throw error
        } catch let error as any CodedError {
            try audited(error is SigningRequestError ? "refused" : "failed", error.codedDescription, nil)
            throw error
        } catch {
            try audited("failed", "\(error)", nil)
            throw error
        }
    }
}

/// A login signature made for a records service's challenge.
public struct SignedLogin: Sendable {
    /// The detached CAdES signature over the challenge's bytes, DER, carrying the login attribute.
    public let signature: [UInt8]
    public let certificate: X509Certificate
    public let challenge: LoginChallenge
}

extension ExtractSigner {
    /// Signs a records service's login challenge (its canonical bytes) with a token key, through the same key
    /// checks, PIN sources, token sessions and audit trail as a note; the PIN prompt says it is a LOGIN to the
    /// service the challenge names, not a note. The signature carries the login attribute and no e-Office context
    /// (`CAdES.signLogin`), so it can never be appended to a file. The challenge's expiry is left to the service,
    /// whose clock decides it.
    public func signLogin(
        challenge bytes: [UInt8], key: PKCS11URI, login options: LoginOptions = LoginOptions(), chain: [X509Certificate] = [],
        pin source: any PINSource, origin: String?, at time: Date
    ) throws -> SignedLogin {
        var service: String? = nil
        func audited(_ result: String, _ detail: String, certificate: String? = nil) throws {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign-login", result: result, origin: origin, certificate: certificate,
                    detail: (service.map { "login to \($0): " } ?? "") + detail), committed: false)
        }
        return try Self.auditingFailures(audited) {
            let challenge: LoginChallenge
            do {
                challenge = try LoginChallenge(canonical: bytes)
            } catch let error as AccessError {
                throw SigningRequestError(error.reason)
            }
            service = challenge.service
            let binding = LoginBinding(challenge)
            let pin = try source.pin {
                let (token, certificate) = try signingKey(key, login: options, at: time)
                return SigningPrompt(
                    tokenLabel: token.info.label, signerName: certificate.certificate.subject.commonName ?? certificate.label,
                    pinState: token.info.pinState, request: nil, login: binding, loginOrigin: origin)
            }
            defer { pin.wipe() }
            let (prepared, tokenSignature) = try sessions.sign(key, pin: pin, tokens: tokens, options: options, at: time) { certificate in
                try CAdES.Prepared(challenge: bytes, certificate: certificate, binding: binding, signingTime: time, chain: chain)
            }
            let signed = SignedLogin(signature: try prepared.finish(tokenSignature), certificate: prepared.certificate, challenge: challenge)
            try audited(
                "ok", "signed login challenge nonce \(Hex.encode(challenge.nonce.prefix(8)))…",
                certificate: Hex.encode(signed.certificate.sha256Fingerprint))
            return signed
        }
    }
}

/// Where workflows write their audit records (the daemon's hash-chained log). `committed` says the action already
/// took effect (an append is stored), so a failure to record must not be reported as "nothing was done".
public protocol AuditTrail: Sendable {
    func record(_ record: AuditRecord, committed: Bool) throws
    /// Several records at once (a batch), in order; a trail that can writes them with one flush.
    func record(_ records: [AuditRecord], committed: Bool) throws
}

extension AuditTrail {
    public func record(_ records: [AuditRecord], committed: Bool) throws {
        for record in records { try self.record(record, committed: committed) }
    }
}

/// How an agent takes officers' PINs: in the sign request's body ("request"), or in a native pinentry dialog on the
/// officer's screen showing what is signed ("pinentry"; a PIN in a body is then refused).
public enum PINEntryMode: String, Codable, Sendable { case request, pinentry }

/// What an agent adds to every signature it makes for a web page or a local program.
public struct AgentSigningSettings: Sendable {
    public var pinEntry: PINEntryMode
    public var pinentryProgram: String?
    /// Intermediate CA certificates embedded in every signature.
    public var chain: [X509Certificate]
    /// The configured time-stamping authority: every signature is time-stamped with it unless its request opts out.
    public var timeStampAuthority: TimeStampAuthority?
    public var maximumExtractBytes: Int

    public init(
        pinEntry: PINEntryMode, pinentryProgram: String?, chain: [X509Certificate], timeStampAuthority: TimeStampAuthority?,
        maximumExtractBytes: Int
    ) {
        self.pinEntry = pinEntry
        self.pinentryProgram = pinentryProgram
        self.chain = chain
        self.timeStampAuthority = timeStampAuthority
        self.maximumExtractBytes = maximumExtractBytes
    }
}

extension ExtractSigner {
    /// A sign request as the agent's API carries it (POST /v1/sign): its fields read and checked, its PIN taken as
    /// `settings` say, then signed as `sign(_:pin:at:)` does. Refusals are audited as the signature would be.
    public func sign(_ body: SignRequestBody, origin: String?, settings: AgentSigningSettings, at time: Date) throws -> SignedExtract {
        let (request, source): (ExtractSigningRequest, any PINSource)
        do {
            (request, source) = try Self.read(body, origin: origin, settings: settings)
        } catch {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign", result: "refused", origin: origin, file: body.fileNumber, note: body.noteID,
                    detail: (error as? any CodedError)?.codedDescription ?? "\(error)"), committed: false)
            throw error
        }
        return try sign(request, pin: source, at: time)
    }

    static func read(_ body: SignRequestBody, origin: String?, settings: AgentSigningSettings) throws -> (ExtractSigningRequest, any PINSource) {
        (try request(body, origin: origin, settings: settings), try pinSource(body.pin, settings: settings))
    }

    /// The request a body asks for, checked (a batch reads each note so and takes its PIN once, apart).
    static func request(_ body: SignRequestBody, origin: String?, settings: AgentSigningSettings) throws -> ExtractSigningRequest {
        guard let extract = Data(base64Encoded: body.extract) else { throw SigningRequestError("extract must be base64") }
        guard extract.count <= settings.maximumExtractBytes else {
            throw SigningRequestError("the extract is larger than maximumRequestBytes (\(settings.maximumExtractBytes))")
        }
        guard let commitment = Commitment(apiName: body.commitment ?? Commitment.proofOfOrigin.apiName) else {
            throw SigningRequestError("commitment must be proofOfOrigin or proofOfApproval")
        }
        var previous: [UInt8]? = nil
        if let text = body.previousHash {
            guard let hash = Hex.decode(text), hash.count == 32 else { throw SigningRequestError("previousHash must be 64 hex digits") }
            previous = hash
        }
        let key: PKCS11URI
        do {
            key = try PKCS11URI(body.key)
        } catch {
            throw SigningRequestError("key is not a PKCS#11 URI: \(error)")
        }
        if body.timeStamp == true && settings.timeStampAuthority == nil {
            throw SigningRequestError("a time-stamp was asked for but this agent has no timeStampAuthority configured")
        }
        // With an authority configured every signature is time-stamped (CAdES-T: its time is then proven, not only
        // claimed) unless the request opts out with "timeStamp": false.
        let timeStamped = body.timeStamp ?? (settings.timeStampAuthority != nil)
        let request = ExtractSigningRequest(
            extractDigest: SHA256Hasher.hash(Array(extract)), extractSize: extract.count, key: key, fileNumber: body.fileNumber,
            noteID: body.noteID, commitment: commitment, previousHash: previous, origin: origin, chain: settings.chain,
            timeStampAuthority: timeStamped ? settings.timeStampAuthority : nil)
        try request.check()
        return request
    }

    /// Where a request's PIN comes from, as the agent's settings say: its body, or pinentry (a PIN in the body is
    /// then refused).
    static func pinSource(_ pin: String?, settings: AgentSigningSettings) throws -> any PINSource {
        switch settings.pinEntry {
        case .request:
            guard let text = pin, !text.isEmpty else { throw SigningRequestError("this agent takes the PIN in the request (pin)") }
            return GivenPIN(try Array(text.utf8).withUnsafeBytes { try PIN(bytes: $0) })
        case .pinentry:
            guard pin == nil else {
                throw SigningRequestError("this agent asks for the PIN through pinentry on the officer's screen; do not send it in the request")
            }
            guard let program = settings.pinentryProgram else { throw SigningRequestError("this agent has no pinentryProgram configured") }
            return PinentryPIN(program: program)
        }
    }

    /// A login-sign request as the agent's API carries it (POST /v1/login/sign): its fields read, its PIN taken as
    /// `settings` say, then signed as `signLogin(challenge:key:...)` does. Refusals are audited.
    public func signLogin(_ body: LoginSignRequestBody, origin: String?, settings: AgentSigningSettings, at time: Date) throws -> SignedLogin {
        let (challenge, key, source): ([UInt8], PKCS11URI, any PINSource)
        do {
            guard let bytes = Data(base64Encoded: body.challenge) else { throw SigningRequestError("challenge must be base64") }
            guard let uri = try? PKCS11URI(body.key) else { throw SigningRequestError("key is not a PKCS#11 URI") }
            (challenge, key, source) = (Array(bytes), uri, try Self.pinSource(body.pin, settings: settings))
        } catch {
            try audit?.record(
                AuditRecord(
                    time: time, action: "sign-login", result: "refused", origin: origin,
                    detail: (error as? any CodedError)?.codedDescription ?? "\(error)"), committed: false)
            throw error
        }
        return try signLogin(challenge: challenge, key: key, chain: settings.chain, pin: source, origin: origin, at: time)
    }
}
