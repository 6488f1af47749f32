import Foundation

// The access half of the records service's wire types (login, sessions, the roster, API keys) and the agent's route
// that signs a login challenge; see AgentAPI.swift. Bytes travel as base64, fingerprints and nonces as lower-case
// hex, times as 2026-11-23T07:01:49Z.

/// POST /v1/login/challenge (records service): a challenge for the officer's token to sign.
public struct ChallengeAnswer: Codable, Sendable {
    /// The challenge's canonical bytes (`LoginChallenge.canonicalBytes`), base64: exactly what is signed.
    public let challenge: String
    public let service: String
    public let nonce: String
    public let issued: String
    public let expires: String

    public init(_ challenge: LoginChallenge) {
        self.challenge = Data(challenge.canonicalBytes).base64EncodedString()
        service = challenge.service
        nonce = Hex.encode(challenge.nonce)
        issued = UTCTimeText.format(challenge.issued)
        expires = UTCTimeText.format(challenge.expires)
    }
}

/// POST /v1/login (records service): the challenge as issued and the login signature over it.
public struct LoginRequestBody: Codable, Sendable {
    /// The challenge's bytes, base64, as ChallengeAnswer.challenge gave them.
    public var challenge: String
    /// The detached login signature (.p7s), base64 DER.
    public var signature: String

    public init(challenge: [UInt8], signature: [UInt8]) {
        self.challenge = Data(challenge).base64EncodedString()
        self.signature = Data(signature).base64EncodedString()
    }
}

/// The answer to a login: the session token (shown once) for `Authorization: Bearer <token>`.
public struct SessionAnswer: Codable, Sendable {
    public let token: String
    public let expires: String
    public let member: RosterMember

    public init(_ session: Session) {
        token = session.token
        expires = UTCTimeText.format(session.expires)
        member = session.member
    }
}

/// GET /v1/roster (admin). A member is added or replaced with PUT /v1/roster/{fingerprint}, whose body is a
/// RosterMember.
public struct RosterAnswer: Codable, Sendable {
    public let members: [RosterMember]
    public init(members: [RosterMember]) { self.members = members }
}

/// POST /v1/keys (admin): a new API key for a machine.
public struct APIKeyRequestBody: Codable, Sendable {
    public var name: String
    /// RecordsAction raw values ("read-file", "append", ...) and "append-any-signer".
    public var scopes: [String]
    /// The one department the key may act in; absent for every department.
    public var department: String?

    public init(name: String, scopes: [String], department: String? = nil) {
        self.name = name
        self.scopes = scopes
        self.department = department
    }
}

/// The answer to a new API key: the secret, shown this once and never again (the service keeps its SHA-256).
public struct APIKeyCreatedAnswer: Codable, Sendable {
    /// For `Authorization: ApiKey <secret>`.
    public let secret: String
    public let key: APIKey

    public init(key: APIKey, secret: String) {
        self.key = key
        self.secret = secret
    }
}

/// GET /v1/keys (admin): the keys not revoked, without their secrets. DELETE /v1/keys/{id} revokes one.
public struct APIKeyListAnswer: Codable, Sendable {
    public let keys: [APIKey]
    public init(keys: [APIKey]) { self.keys = keys }
}

/// POST /v1/login/sign (agent): sign a records service's login challenge with a token key.
public struct LoginSignRequestBody: Codable, Sendable {
    /// The challenge's bytes, base64, as the records service gave them.
    public var challenge: String
    /// The signing key's PKCS#11 URI (from GET /v1/tokens).
    public var key: String
    /// Only when the agent's pinEntry is "request".
    public var pin: String?

    public init(challenge: [UInt8], key: String, pin: String? = nil) {
        self.challenge = Data(challenge).base64EncodedString()
        self.key = key
        self.pin = pin
    }
}

/// The answer to POST /v1/login/sign: the login signature, to be sent with the challenge to POST /v1/login.
public struct LoginSignAnswer: Codable, Sendable {
    /// The detached login signature (.p7s), base64 DER.
    public let signature: String
    public let signer: String
    /// SHA-256 of the signer's certificate, hex: the roster's key.
    public let certificate: String
    /// The service the challenge names, as shown in the PIN dialog.
    public let service: String

    public init(_ signed: SignedLogin) {
        signature = Data(signed.signature).base64EncodedString()
        signer = signed.certificate.subject.commonName ?? signed.certificate.subject.description
        certificate = Hex.encode(signed.certificate.sha256Fingerprint)
        service = signed.challenge.service
    }
}
