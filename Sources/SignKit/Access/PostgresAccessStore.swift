import Foundation
import PostgresNIO

/// The access store in PostgreSQL, beside the department's histories (PostgresHistoryStore) in the same database
/// and pool: every instance of the records service sees the same roster, challenges, sessions and keys, so a
/// challenge issued by one instance is taken once by whichever receives the login.
public final class PostgresAccessStore: AccessStore {
    let pool: PostgresPool

    /// Shares `history`'s pool (its migrations include these tables).
    public init(sharing history: PostgresHistoryStore) {
        pool = history.pool
    }

    private static func member(_ row: PostgresRow) throws -> RosterMember {
        let (fingerprint, name, department, role, minister) = try row.decode((String, String, String, String, String?).self)
        guard let known = RosterRole(rawValue: role) else { throw HistoryError(.storage, "the roster names an unknown role \(role)") }
        return RosterMember(fingerprint: fingerprint, name: name, department: department, role: known, minister: minister)
    }

    public func member(fingerprint: String) throws -> RosterMember? {
        try pool.run("read roster member \(fingerprint)") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT fingerprint, name, department, role, minister FROM roster_member WHERE fingerprint = \(fingerprint)", logger: logger
            ).collect().first.map(Self.member)
        }
    }

    public func members() throws -> [RosterMember] {
        try pool.run("read the roster") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT fingerprint, name, department, role, minister FROM roster_member ORDER BY department, name, fingerprint", logger: logger
            ).collect().map(Self.member)
        }
    }

    public func putMember(_ member: RosterMember) throws {
        try pool.run("store roster member \(member.fingerprint)") { [logger = pool.logger] connection in
            try await connection.query(
                """
                INSERT INTO roster_member (fingerprint, name, department, role, minister)
                VALUES (\(member.fingerprint), \(member.name), \(member.department), \(member.role.rawValue), \(member.minister))
                ON CONFLICT (fingerprint) DO UPDATE SET
                    name = excluded.name, department = excluded.department, role = excluded.role, minister = excluded.minister
                """, logger: logger)
        }
    }

    public func removeMember(fingerprint: String) throws -> Bool {
        try pool.transaction("remove roster member \(fingerprint)") { [logger = pool.logger] connection in
            let removed = try await connection.query(
                "DELETE FROM roster_member WHERE fingerprint = \(fingerprint) RETURNING 1", logger: logger
            ).collect()
            // A member taken off the roster is out at once, on every instance.
            try await connection.query("DELETE FROM login_session WHERE fingerprint = \(fingerprint)", logger: logger)
            return !removed.isEmpty
        }
    }

    public func storeChallenge(nonce: [UInt8], expires: Date) throws {
        try pool.run("store a login challenge") { [logger = pool.logger] connection in
            try await connection.query(
                "INSERT INTO login_challenge (nonce, expires) VALUES (\(Hex.encode(nonce)), \(expires.timeIntervalSince1970))", logger: logger)
        }
    }

    public func takeChallenge(nonce: [UInt8], at time: Date) throws -> Bool {
        let hex = Hex.encode(nonce)
        return try pool.run("take a login challenge") { [logger = pool.logger] connection in
            // One DELETE … RETURNING: of two instances taking the same nonce, only one gets the row.
            let rows = try await connection.query("DELETE FROM login_challenge WHERE nonce = \(hex) RETURNING expires", logger: logger).collect()
            guard let expires = try rows.first?.decode(Double.self) else { return false }
            return expires > time.timeIntervalSince1970
        }
    }

    public func storeSession(_ session: SessionRecord) throws {
        try pool.run("store a session") { [logger = pool.logger] connection in
            try await connection.query(
                """
                INSERT INTO login_session (token_hash, fingerprint, expires)
                VALUES (\(Hex.encode(session.tokenHash)), \(session.fingerprint), \(session.expires.timeIntervalSince1970))
                """, logger: logger)
        }
    }

    public func session(tokenHash: [UInt8]) throws -> SessionRecord? {
        try pool.run("read a session") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT fingerprint, expires FROM login_session WHERE token_hash = \(Hex.encode(tokenHash))", logger: logger
            ).collect().first.map { row in
                let (fingerprint, expires) = try row.decode((String, Double).self)
                return SessionRecord(tokenHash: tokenHash, fingerprint: fingerprint, expires: Date(timeIntervalSince1970: expires))
            }
        }
    }

    public func removeSession(tokenHash: [UInt8]) throws -> Bool {
        try pool.run("end a session") { [logger = pool.logger] connection in
            try await !connection.query(
                "DELETE FROM login_session WHERE token_hash = \(Hex.encode(tokenHash)) RETURNING 1", logger: logger
            ).collect().isEmpty
        }
    }

    private static func key(_ row: PostgresRow) throws -> APIKey {
        let (id, name, scopes, department, created) = try row.decode((String, String, String, String?, Double).self)
        return APIKey(
            id: id, name: name, scopes: scopes.split(separator: " ").map(String.init), department: department,
            created: Date(timeIntervalSince1970: created))
    }

    public func storeKey(_ key: APIKey, hash: [UInt8]) throws {
        try pool.run("store API key \(key.id)") { [logger = pool.logger] connection in
            try await connection.query(
                """
                INSERT INTO api_key (hash, id, name, scopes, department, created) VALUES (
                    \(Hex.encode(hash)), \(key.id), \(key.name), \(key.scopes.joined(separator: " ")), \(key.department),
                    \(key.created.timeIntervalSince1970))
                """, logger: logger)
        }
    }

    public func key(hash: [UInt8]) throws -> APIKey? {
        try pool.run("read an API key") { [logger = pool.logger] connection in
            try await connection.query(
                "SELECT id, name, scopes, department, created FROM api_key WHERE hash = \(Hex.encode(hash))", logger: logger
            ).collect().first.map(Self.key)
        }
    }

    public func keys() throws -> [APIKey] {
        try pool.run("list the API keys") { [logger = pool.logger] connection in
            try await connection.query("SELECT id, name, scopes, department, created FROM api_key ORDER BY created, id", logger: logger)
                .collect().map(Self.key)
        }
    }

    public func revokeKey(id: String) throws -> Bool {
        try pool.run("revoke API key \(id)") { [logger = pool.logger] connection in
            try await !connection.query("DELETE FROM api_key WHERE id = \(id) RETURNING 1", logger: logger).collect().isEmpty
        }
    }

    public func removeExpired(before time: Date) throws {
        try pool.transaction("remove expired challenges and sessions") { [logger = pool.logger] connection in
            try await connection.query("DELETE FROM login_challenge WHERE expires < \(time.timeIntervalSince1970)", logger: logger)
            try await connection.query("DELETE FROM login_session WHERE expires < \(time.timeIntervalSince1970)", logger: logger)
        }
    }
}
