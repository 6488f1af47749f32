import Foundation

/// A machine's API key as stored and listed: never the key itself, which is shown once when made and kept only as
/// its SHA-256.
public struct APIKey: Codable, Sendable, Equatable {
    /// A short public id (16 hex digits) to list and revoke the key by; not a secret.
    public var id: String
    /// Who uses it ("e-Office server", "monitoring").
    public var name: String
    /// What it may do: `RecordsAction` raw values, and `APIKey.appendAnySigner` for a relay that appends other
    /// people's signatures.
    public var scopes: [String]
    /// The one department it may act in; nil for every department.
    public var department: String?
    public var created: Date

    public init(id: String, name: String, scopes: [String], department: String? = nil, created: Date) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.department = department
        self.created = created
    }

    /// The scope that lets a key with `append` append signatures of roster members other than a logged-in officer
    /// (the e-Office server relaying its officers' notes); see `Access.checkSigner`.
    public static let appendAnySigner = "append-any-signer"

    /// Every scope a key may hold.
    public static var knownScopes: [String] { RecordsAction.allCases.map(\.rawValue) + [appendAnySigner] }

    /// True when `scopes` names `action`.
    public func allows(_ action: RecordsAction) -> Bool { scopes.contains(action.rawValue) }

    /// Refuses a key that cannot be stored: an empty or overlong name or department, control characters, no scope,
    /// or a scope that is not known.
    public func validate() throws(AccessError) {
        var fields = [("name", name)]
        if let department { fields.append(("department", department)) }
        for (label, value) in fields {
            guard !value.isEmpty, value.count <= RosterMember.maximumFieldLength,
                !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw AccessError(.invalidRequest, "\(label) must have 1 to \(RosterMember.maximumFieldLength) characters and no control characters")
            }
        }
        guard !scopes.isEmpty else { throw AccessError(.invalidRequest, "an API key needs at least one scope") }
        let known = Self.knownScopes
        if let unknown = scopes.first(where: { !known.contains($0) }) {
            throw AccessError(.invalidRequest, "\(unknown) is not a scope; scopes are \(known.joined(separator: ", "))")
        }
    }
}

/// A logged-in session as stored: the SHA-256 of its token (the token itself is only ever in the client's hands),
/// whose certificate logged in, and until when.
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: [UInt8]
    /// The member's certificate fingerprint (lower-case hex SHA-256).
    public var fingerprint: String
    public var expires: Date

    public init(tokenHash: [UInt8], fingerprint: String, expires: Date) {
        self.tokenHash = tokenHash
        self.fingerprint = fingerprint
        self.expires = expires
    }
}

/// Where the records service keeps who may come in: the roster, issued login challenges, sessions and API keys.
/// Synchronous; storage failures are `HistoryError(.storage, ...)`, as the history store's are. Secrets (session
/// tokens, API keys) reach a store only as SHA-256 hashes. Every method is one statement or one transaction, so a
/// PostgreSQL sibling can keep the same shape.
public protocol AccessStore: Sendable {
    // MARK: Roster

    /// The member whose certificate has this fingerprint (lower-case hex), nil when none.
    func member(fingerprint: String) throws -> RosterMember?
    /// Every member, ordered by department, then name.
    func members() throws -> [RosterMember]
    /// Adds the member, or replaces the one with the same fingerprint.
    func putMember(_ member: RosterMember) throws
    /// Removes the member; false when there was none.
    @discardableResult func removeMember(fingerprint: String) throws -> Bool

    // MARK: Login challenges

    /// Records an issued nonce, usable until `expires`.
    func storeChallenge(nonce: [UInt8], expires: Date) throws
    /// Consumes the nonce atomically: true once, when it was issued and is not expired at `time`; false when unknown,
    /// already taken or expired (an expired one is removed too). Two instances taking the same nonce at the same
    /// moment: one true, one false.
    func takeChallenge(nonce: [UInt8], at time: Date) throws -> Bool

    // MARK: Sessions

    func storeSession(_ session: SessionRecord) throws
    /// The session whose token has this SHA-256, expired or not (the caller says which); nil when unknown.
    func session(tokenHash: [UInt8]) throws -> SessionRecord?
    /// Ends a session (logout); false when there was none.
    @discardableResult func removeSession(tokenHash: [UInt8]) throws -> Bool

    // MARK: API keys

    /// Stores a new key under the SHA-256 of its secret text.
    func storeKey(_ key: APIKey, hash: [UInt8]) throws
    /// The key whose secret text has this SHA-256; nil when unknown or revoked.
    func key(hash: [UInt8]) throws -> APIKey?
    /// Every key not revoked, oldest first.
    func keys() throws -> [APIKey]
    /// Revokes (removes) the key with this id; false when there was none.
    @discardableResult func revokeKey(id: String) throws -> Bool

    // MARK: Housekeeping

    /// Removes challenges and sessions that expired before `time`.
    func removeExpired(before time: Date) throws
}
