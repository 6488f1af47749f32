import Foundation

/// A session issued at login: its token (shown once, to the client; the store keeps its SHA-256), who it is for and
/// until when.
public struct Session: Sendable {
    /// 32 random bytes, base64url: sent back as `Authorization: Bearer <token>`.
    public let token: String
    public let member: RosterMember
    public let expires: Date
}

/// Who may come into a records service and what they may do there: login challenges, DSC logins, sessions, API
/// keys and the role rules (issue 18, item 4). Routes call `principal(_:at:)` on every request's Authorization
/// header, then `authorize`, and for an append `checkSigner`.
///
/// Authorization header schemes: `Bearer <session token>` for a person logged in with their DSC,
/// `ApiKey <key>` for a machine. Scheme names are case-insensitive (RFC 9110 11.1).
public final class Access: Sendable {
    public let store: any AccessStore
    public let verifier: Verifier
    /// This service's name or URL: the one a challenge and a login signature must name.
    public let service: String
    public let challengeLifetime: TimeInterval
    public let sessionLifetime: TimeInterval
    /// How far a login signature's signing time may be before the challenge was issued or after the login: the
    /// agent's clock against the service's.
    public let clockSkew: TimeInterval
    public let policy: VerificationPolicy
    public let audit: (any AuditTrail)?

    public init(
        store: any AccessStore, verifier: Verifier, service: String, challengeLifetime: TimeInterval = 300,
        sessionLifetime: TimeInterval = 1800, clockSkew: TimeInterval = 300, policy: VerificationPolicy = VerificationPolicy(),
        audit: (any AuditTrail)? = nil
    ) {
        self.store = store
        self.verifier = verifier
        self.service = service
        self.challengeLifetime = challengeLifetime
        self.sessionLifetime = sessionLifetime
        self.clockSkew = clockSkew
        self.policy = policy
        self.audit = audit
    }

    // MARK: Login

    /// A fresh challenge for this service, its nonce stored until it expires. Challenges and sessions that expired
    /// more than a session lifetime ago are cleared on the way.
    public func challenge(at time: Date) throws -> LoginChallenge {
        let challenge = try LoginChallenge.issue(service: service, at: time, lifetime: challengeLifetime)
        try store.removeExpired(before: time.addingTimeInterval(-sessionLifetime))
        try store.storeChallenge(nonce: challenge.nonce, expires: challenge.expires)
        return challenge
    }

    /// Logs in with a login signature over a challenge this service issued. In order: the challenge reads and names
    /// this service; its nonce is taken (once: a replay is refused, and a failed login uses it up); it has not
    /// expired; the signature is TOTAL-PASSED at `time` under `policy`, signed within the challenge's window
    /// (give or take `clockSkew`), and carries the login attribute naming this service and the nonce and no e-Office
    /// context; its signer is in the roster. Then a session is stored (its token's SHA-256) and returned.
    public func login(challenge bytes: [UInt8], signature: [UInt8], at time: Date) throws -> Session {
        var fingerprint: String? = nil
        do {
            let session = try checkLogin(bytes, signature, at: time, fingerprint: &fingerprint)
            try audit?.record(
                AuditRecord(
                    time: time, action: "login", result: "ok", certificate: fingerprint, detail: "session until \(UTCTimeText.format(session.expires))"),
                committed: true)
            return session
        } catch let error as AuditError {
            throw error
        } catch let error as AccessError {
            try audit?.record(
                AuditRecord(time: time, action: "login", result: "refused", certificate: fingerprint, detail: error.codedDescription), committed: false)
            throw error
        }
    }

    private func checkLogin(_ bytes: [UInt8], _ signature: [UInt8], at time: Date, fingerprint: inout String?) throws -> Session {
        let challenge = try LoginChallenge(canonical: bytes)
        guard challenge.service == service else {
            throw AccessError(.loginRefused, "the challenge is for \(challenge.service), not this service (\(service))")
        }
        guard try store.takeChallenge(nonce: challenge.nonce, at: time) else {
            if time >= challenge.expires {
                throw AccessError(.challengeExpired, "the challenge expired at \(UTCTimeText.format(challenge.expires)); ask for a new one")
            }
            throw AccessError(.challengeUsed, "the challenge was not issued here or was already used; ask for a new one")
        }
        guard time < challenge.expires else {
            throw AccessError(.challengeExpired, "the challenge expired at \(UTCTimeText.format(challenge.expires)); ask for a new one")
        }
        let verdict: Verdict
        do {
            verdict = try verifier.verify(signature: signature, content: .bytes(bytes), policy: policy, at: time)
        } catch {
            throw AccessError(.loginRefused, "the login signature does not read: \(error.description)")
        }
        fingerprint = verdict.signer?.sha256Fingerprint
        guard verdict.passed else {
            throw AccessError(
                .loginRefused,
                "the login signature is \(verdict.indication.rawValue)" + (verdict.subIndication.map { " \($0.rawValue)" } ?? "")
                    + ": \(verdict.summary)")
        }
        guard verdict.context == nil, let login = verdict.login else {
            throw AccessError(
                .loginRefused, "the signature is not a login signature (it carries no SignService login attribute); a note's signature cannot log in")
        }
        guard login == LoginBinding(challenge) else {
            throw AccessError(.loginRefused, "the login signature was made for another challenge (service \(login.service)), not this one")
        }
        if let signed = verdict.signingTime, signed.source != .validationTime {
            guard signed.time >= challenge.issued.addingTimeInterval(-clockSkew), signed.time <= time.addingTimeInterval(clockSkew) else {
                throw AccessError(
                    .loginRefused, "the login signature says it was made at \(UTCTimeText.format(signed.time)), outside the challenge's lifetime")
            }
        }
        guard let fingerprint, let member = try store.member(fingerprint: fingerprint) else {
            throw AccessError(.notInRoster, "\(verdict.signer?.name ?? "the signer") is not in this service's roster; ask its admin")
        }
        let token = Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255) })
        let expires = time.addingTimeInterval(sessionLifetime)
        try store.storeSession(SessionRecord(tokenHash: Self.hash(token), fingerprint: member.fingerprint, expires: expires))
        return Session(token: token, member: member, expires: expires)
    }

    /// Ends the session whose token is `token` (logout); false when there was none.
    @discardableResult
    public func logout(token: String) throws -> Bool { try store.removeSession(tokenHash: Self.hash(token)) }

    // MARK: Each request

    /// Who an Authorization header value names: `Bearer <session token>` (a member, while the session lives and the
    /// member is in the roster) or `ApiKey <key>` (a machine). Refused: no or another scheme (`unauthenticated`),
    /// an unknown session (`unauthenticated`), an expired one (`session-expired`), an unknown key (`unknown-key`).
    public func principal(_ authorization: String?, at time: Date) throws -> Principal {
        let parts = (authorization ?? "").trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else {
            throw AccessError(.unauthenticated, "log in first: send Authorization: Bearer <session token>, or ApiKey <key> for a machine")
        }
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer":
            guard let session = try store.session(tokenHash: Self.hash(credential)) else {
                throw AccessError(.unauthenticated, "the session is not known here (logged out, or never issued); log in again")
            }
            guard time < session.expires else {
                throw AccessError(.sessionExpired, "the session expired at \(UTCTimeText.format(session.expires)); log in again")
            }
            guard let member = try store.member(fingerprint: session.fingerprint) else {
                throw AccessError(.unauthenticated, "the session's certificate is no longer in the roster")
            }
            return .member(member)
        case "apikey":
            guard let key = try store.key(hash: Self.hash(credential)) else {
                throw AccessError(.unknownKey, "the API key is not known here (mistyped or revoked)")
            }
            return .machine(key)
        default:
            throw AccessError(.unauthenticated, "the Authorization scheme must be Bearer (a session) or ApiKey (a machine)")
        }
    }

    /// `AccessRules.authorize`: refuses (`forbidden`) what the principal's role, department or Minister does not
    /// allow.
    public func authorize(
        _ principal: Principal, _ action: RecordsAction, department: String?, minister: String? = nil, kind: EntryKind? = nil
    ) throws {
        try AccessRules.authorize(principal, action, department: department, minister: minister, kind: kind)
    }

    /// Refuses (`signer-mismatch`) an append whose signature was made by someone other than the caller: a member
    /// appends only their own signatures. A machine appends only with the `append-any-signer` scope, and then only
    /// signatures of roster officers and Ministers (of the key's department when it names one).
    public func checkSigner(_ principal: Principal, fingerprint: [UInt8]) throws {
        let signer = Hex.encode(fingerprint)
        switch principal {
        case .member(let member):
            guard signer == member.fingerprint else {
                throw AccessError(.signerMismatch, "the signature was made by another certificate than \(member.name)'s, who is logged in")
            }
        case .machine(let key):
            guard key.scopes.contains(APIKey.appendAnySigner) else {
                throw AccessError(.signerMismatch, "API key \(key.id) may not append signatures (no \(APIKey.appendAnySigner) scope)")
            }
            guard let member = try store.member(fingerprint: signer), [.officer, .minister].contains(member.role) else {
                throw AccessError(.signerMismatch, "the signer is not an officer or Minister in the roster")
            }
            if let department = key.department, member.department != department {
                throw AccessError(.signerMismatch, "the signer \(member.name) is of \(member.department), not of the key's \(department)")
            }
        }
    }

    // MARK: Roster and keys (routes authorize manageRoster / manageKeys first)

    /// Adds or replaces a roster member after `validate()`.
    public func putMember(_ member: RosterMember) throws {
        try member.validate()
        try store.putMember(member)
    }

    /// Makes an API key: its secret text (returned once, never stored) and its record (stored under the secret's
    /// SHA-256).
    public func createKey(name: String, scopes: [String], department: String? = nil, at time: Date) throws -> (key: APIKey, secret: String) {
        let key = APIKey(
            id: Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) }), name: name, scopes: scopes, department: department,
            created: LoginChallenge.wholeSeconds(time))
        try key.validate()
        let secret = "ssk_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255) })
        try store.storeKey(key, hash: Self.hash(secret))
        return (key, secret)
    }

    /// SHA-256 of a secret's text (a session token, an API key): what the store keeps.
    static func hash(_ secret: String) -> [UInt8] { SHA256Hasher.hash(Array(secret.utf8)) }
}
