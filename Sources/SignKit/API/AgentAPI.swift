import Foundation

// The daemon's wire types (docs/openapi.yaml): one definition of each request and answer, used by the daemon to
// decode and encode, by signctl to build requests and read answers, and by the tests. Field names are the JSON's;
// bytes travel as base64, hashes as lower-case hex, times as 2026-11-23T07:01:49Z.

/// Every refusal and failure: `{"error": "code: reason", "code": "code"}`.
public struct ErrorAnswer: Codable, Sendable {
    /// "code: reason", one line for people.
    public let error: String
    /// The stable code alone (CodedError.codeName), for programs; absent on refusals from the HTTP layer itself.
    public let code: String?

    public init(error: String, code: String?) {
        self.error = error
        self.code = code
    }
}

/// GET /v1/health.
public struct HealthAnswer: Codable, Sendable {
    public let status: String
    public let version: String
    public init(status: String, version: String) {
        self.status = status
        self.version = version
    }
}

/// GET /v1/version.
public struct VersionAnswer: Codable, Sendable {
    public let version: String
    public let openssl: String
    public let verifier: String
    /// "request" (the PIN travels in the sign request) or "pinentry" (asked on the officer's screen).
    public let pinEntry: String
    public init(version: String, openssl: String, verifier: String, pinEntry: String) {
        self.version = version
        self.openssl = openssl
        self.verifier = verifier
        self.pinEntry = pinEntry
    }
}

/// POST /v1/pairings.
public struct PairingRequestAnswer: Codable, Sendable {
    public let id: String
    /// Shown on the officer's machine (daemon log) and approved with `signctl pair approve CODE`; the page may show
    /// it too so the officer can compare.
    public let code: String
    public let expires: String
    public let approveWith: String
    public init(id: String, code: String, expires: String, approveWith: String) {
        self.id = id
        self.code = code
        self.expires = expires
        self.approveWith = approveWith
    }
}

/// GET /v1/pairings/{id}.
public struct PairingPollAnswer: Codable, Sendable {
    /// pending, approved (the token is in this answer, once), collected.
    public let status: String
    public let token: String?
    public init(status: String, token: String?) {
        self.status = status
        self.token = token
    }
}

/// POST /v1/admin/pairings/approve.
public struct PairingApproval: Codable, Sendable {
    public let code: String
    public init(code: String) { self.code = code }
}

/// The answer to a pairing approval.
public struct PairingApproved: Codable, Sendable {
    public let origin: String
    public init(origin: String) { self.origin = origin }
}

/// GET /v1/admin/pairings.
public struct PairingListAnswer: Codable, Sendable {
    public struct Paired: Codable, Sendable {
        public let origin: String
        /// SHA-256 of the token, hex; the token itself is never stored.
        public let tokenHash: String
        public let created: String
        /// When the token stops working; the page then pairs again.
        public let expires: String?
        /// When a page last showed the token (to the minute); nil when never.
        public let lastUsed: String?
        public init(origin: String, tokenHash: String, created: String, expires: String? = nil, lastUsed: String? = nil) {
            self.origin = origin
            self.tokenHash = tokenHash
            self.created = created
            self.expires = expires
            self.lastUsed = lastUsed
        }
    }
    public struct Pending: Codable, Sendable {
        public let origin: String
        public let code: String
        public let expires: String
        public init(origin: String, code: String, expires: String) {
            self.origin = origin
            self.code = code
            self.expires = expires
        }
    }
    public let paired: [Paired]
    public let pending: [Pending]
    public init(paired: [Paired], pending: [Pending]) {
        self.paired = paired
        self.pending = pending
    }
}

/// DELETE /v1/admin/pairings?origin=...
public struct PairingRevoked: Codable, Sendable {
    public let origin: String
    public let revoked: Int
    public init(origin: String, revoked: Int) {
        self.origin = origin
        self.revoked = revoked
    }
}

/// POST /v1/sign: the answer is the .p7s itself (application/pkcs7-signature), with the signer in headers.
public struct SignRequestBody: Codable, Sendable {
    /// The extract's bytes, base64.
    public var extract: String
    public var fileNumber: String
    public var noteID: String
    /// "proofOfOrigin" (default) or "proofOfApproval".
    public var commitment: String?
    /// The signing key's PKCS#11 URI (from GET /v1/tokens).
    public var key: String
    /// Only when the daemon's pinEntry is "request".
    public var pin: String?
    /// The file history's head the signature follows, 64 hex digits.
    public var previousHash: String?
    /// Time-stamp the signature with the agent's time-stamping authority (CAdES-T). Nil (the default): time-stamped
    /// when the agent has one configured; false: not time-stamped; true: time-stamped, refused when none is configured.
    public var timeStamp: Bool?

    public init(
        extract: [UInt8], fileNumber: String, noteID: String, commitment: Commitment, key: String, pin: String? = nil,
        previousHash: [UInt8]? = nil, timeStamp: Bool? = nil
    ) {
        self.extract = Data(extract).base64EncodedString()
        self.fileNumber = fileNumber
        self.noteID = noteID
        self.commitment = commitment.apiName
        self.key = key
        self.pin = pin
        self.previousHash = previousHash.map { Hex.encode($0) }
        self.timeStamp = timeStamp
    }
}

/// Response headers of POST /v1/sign.
public enum SignAnswerHeader {
    /// The signer's name, percent-encoded.
    public static let signer = "X-Signer"
    /// SHA-256 of the signer's certificate, hex.
    public static let certificate = "X-Certificate-SHA256"
    /// The time-stamping authority's URL when the signature was time-stamped (CAdES-T), else "none".
    public static let timeStamp = "X-Time-Stamp"
}

/// POST /v1/verify: the answer is the verification report (VerificationReport's JSON).
public struct VerifyRequestBody: Codable, Sendable {
    /// The .p7s, base64 (DER or PEM).
    public var signature: String
    /// The signed extract, base64.
    public var content: String
    /// Validation time, "2026-11-23T07:01:49Z"; default now.
    public var at: String?
    /// "require" (default), "soft" or "off" (docs/verification.md).
    public var revocation: String?
    /// The initial policy set (RFC 5280 6.1.1 (c)) as dotted OIDs; default any-policy.
    public var policies: [String]?
    /// RFC 5280 6.1.1 (f), (e), (g); default false.
    public var explicitPolicy: Bool?
    public var inhibitPolicyMapping: Bool?
    public var inhibitAnyPolicy: Bool?
    /// Certificates to build paths with, beside those in the signature: DER, base64.
    public var certificates: [String]?
    /// CRLs to judge revocation with, beside those in the signature: DER, base64.
    public var crls: [String]?

    public init(
        signature: [UInt8], content: [UInt8], at: Date? = nil, policy: VerificationPolicy? = nil,
        adjunct: AdjunctMaterial = AdjunctMaterial()
    ) {
        self.signature = Data(signature).base64EncodedString()
        self.content = Data(content).base64EncodedString()
        self.at = at.map(UTCTimeText.format)
        if let policy {
            revocation = policy.revocation.rawValue
            policies = policy.initialPolicySet.isEmpty ? nil : policy.initialPolicySet
            explicitPolicy = policy.explicitPolicy ? true : nil
            inhibitPolicyMapping = policy.inhibitPolicyMapping ? true : nil
            inhibitAnyPolicy = policy.inhibitAnyPolicy ? true : nil
        }
        certificates = adjunct.certificates.isEmpty ? nil : adjunct.certificates.map { Data($0.der).base64EncodedString() }
        crls = adjunct.revocationData.isEmpty ? nil : adjunct.revocationData.map { Data($0).base64EncodedString() }
    }

    /// The validation policy and adjunct material the request asks for.
    ///
    /// - Throws: `VerificationInputError` naming the field that does not read.
    public func validationInputs() throws(VerificationInputError) -> (policy: VerificationPolicy, adjunct: AdjunctMaterial) {
        var policy = VerificationPolicy()
        if let revocation {
            guard let mode = RevocationMode(rawValue: revocation) else {
                throw VerificationInputError("revocation must be require, soft or off, not \(revocation)")
            }
            policy.revocation = mode
        }
        for oid in policies ?? [] where !VerificationPolicy.isObjectIdentifier(oid) {
            throw VerificationInputError("policies must be dotted object identifiers; \(oid) is not")
        }
        policy.initialPolicySet = policies ?? []
        policy.explicitPolicy = explicitPolicy ?? false
        policy.inhibitPolicyMapping = inhibitPolicyMapping ?? false
        policy.inhibitAnyPolicy = inhibitAnyPolicy ?? false
        var adjunct = AdjunctMaterial()
        for (index, text) in (certificates ?? []).enumerated() {
            guard let der = Data(base64Encoded: text), let certificate = try? X509Certificate(der: Array(der)) else {
                throw VerificationInputError("certificates[\(index)] is not a base64 DER certificate")
            }
            adjunct.certificates.append(certificate)
        }
        for (index, text) in (crls ?? []).enumerated() {
            guard let der = Data(base64Encoded: text), (try? CertificateRevocationList(der: Array(der))) != nil else {
                throw VerificationInputError("crls[\(index)] is not a base64 DER CRL")
            }
            adjunct.revocationData.append(Array(der))
        }
        return (policy, adjunct)
    }
}

extension Commitment {
    /// The commitment as the API names it ("proofOfOrigin", "proofOfApproval").
    public var apiName: String {
        switch self {
        case .proofOfOrigin: "proofOfOrigin"
        case .proofOfApproval: "proofOfApproval"
        }
    }

    public init?(apiName: String) {
        guard let found = Self.allCases.first(where: { $0.apiName == apiName }) else { return nil }
        self = found
    }
}

/// POST /v1/sign/batch: several notes signed with one key and one PIN (docs/daemon.md "Batch signing").
public struct BatchSignRequestBody: Codable, Sendable {
    /// The signing key's PKCS#11 URI, one for the whole batch.
    public var key: String
    public var notes: [Note]
    /// As in a single sign request, for every note.
    public var timeStamp: Bool?
    /// Only when the agent's pinEntry is "request".
    public var pin: String?

    /// One note of the batch: the fields of a single sign request but the key, PIN and time-stamp.
    public struct Note: Codable, Sendable {
        public var extract: String
        public var fileNumber: String
        public var noteID: String
        public var commitment: String?
        public var previousHash: String?

        public init(extract: [UInt8], fileNumber: String, noteID: String, commitment: Commitment = .proofOfOrigin, previousHash: [UInt8]? = nil) {
            self.extract = Data(extract).base64EncodedString()
            self.fileNumber = fileNumber
            self.noteID = noteID
            self.commitment = commitment.apiName
            self.previousHash = previousHash.map { Hex.encode($0) }
        }
    }

    public init(key: String, notes: [Note], timeStamp: Bool? = nil, pin: String? = nil) {
        self.key = key
        self.notes = notes
        self.timeStamp = timeStamp
        self.pin = pin
    }

    /// Note `index` as a single sign request (what the agent checks it as).
    public func single(_ index: Int) -> SignRequestBody {
        let note = notes[index]
        var body = SignRequestBody(
            extract: [], fileNumber: note.fileNumber, noteID: note.noteID, commitment: .proofOfOrigin, key: key, pin: pin, timeStamp: timeStamp)
        body.extract = note.extract
        body.commitment = note.commitment
        body.previousHash = note.previousHash
        return body
    }
}

/// The answer to POST /v1/sign/batch: one signature per note, in the order of the request.
public struct BatchSignAnswer: Codable, Sendable {
    public let signer: String
    /// SHA-256 of the signer's certificate, hex: the same for every note.
    public let certificateSHA256: String
    /// The time-stamping authority when the signatures were time-stamped.
    public let timeStampAuthority: String?
    public let signatures: [Signature]

    public struct Signature: Codable, Sendable {
        public let fileNumber: String
        public let noteID: String
        /// The detached CAdES signature (.p7s), base64 DER.
        public let signature: String
    }

    public init(_ batch: SignedBatch) {
        signer = batch.certificate.subject.commonName ?? batch.certificate.subject.description
        certificateSHA256 = Hex.encode(batch.certificate.sha256Fingerprint)
        timeStampAuthority = batch.signatures.first?.timeStampAuthority?.absoluteString
        signatures = zip(batch.requests, batch.signatures).map {
            Signature(fileNumber: $0.fileNumber, noteID: $0.noteID, signature: Data($1.signature).base64EncodedString())
        }
    }
}
