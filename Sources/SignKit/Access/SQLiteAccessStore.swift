import Foundation
import GRDB

/// The embedded access store: SQLite through GRDB (WAL, synchronous FULL) in `access.sqlite` beside the history
/// store. Hashes are lower-case hex TEXT and times REAL seconds since 1970 (DOUBLE PRECISION in PostgreSQL, whose
/// REAL has 4 bytes), and every statement is plain SQL that PostgreSQL runs as well (`INSERT ... ON CONFLICT`,
/// `DELETE ... WHERE` with its row count), so a PostgreSQL sibling can use the same schema.
public final class SQLiteAccessStore: AccessStore {
    public let folder: String
    private let pool: DatabasePool

    /// Opens (creating when missing) `access.sqlite` in `folder`.
    public init(folder: String) throws {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            pool = try DatabasePool(path: folder + "/access.sqlite", configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE roster_member (
                            fingerprint TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, department TEXT NOT NULL,
                            role TEXT NOT NULL, minister TEXT);
                        CREATE TABLE login_challenge (nonce TEXT PRIMARY KEY NOT NULL, expires REAL NOT NULL);
                        CREATE TABLE login_session (
                            token_hash TEXT PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL, expires REAL NOT NULL);
                        CREATE TABLE api_key (
                            hash TEXT PRIMARY KEY NOT NULL, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, scopes TEXT NOT NULL,
                            department TEXT, created REAL NOT NULL);
                        """)
            }
            try migrator.migrate(pool)
        } catch {
            throw HistoryError(.storage, "cannot open the access store in \(folder): \(error)")
        }
    }

    private func storage<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as any CodedError {
            throw error
        } catch {
            throw HistoryError(.storage, "cannot \(what): \(error)")
        }
    }

    // MARK: Roster

    private static func member(_ row: Row) throws -> RosterMember {
        guard let role = RosterRole(rawValue: row["role"]) else {
            throw HistoryError(.storage, "the roster names an unknown role \(String(describing: row["role"] as String?))")
        }
        return RosterMember(fingerprint: row["fingerprint"], name: row["name"], department: row["department"], role: role, minister: row["minister"])
    }

    public func member(fingerprint: String) throws -> RosterMember? {
        try storage("read the roster") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM roster_member WHERE fingerprint = ?", arguments: [fingerprint]).map(Self.member)
            }
        }
    }

    public func members() throws -> [RosterMember] {
        try storage("read the roster") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM roster_member ORDER BY department, name, fingerprint").map(Self.member)
            }
        }
    }

    public func putMember(_ member: RosterMember) throws {
        try storage("store roster member \(member.fingerprint)") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO roster_member (fingerprint, name, department, role, minister) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (fingerprint) DO UPDATE SET
                            name = excluded.name, department = excluded.department, role = excluded.role, minister = excluded.minister
                        """,
                    arguments: [member.fingerprint, member.name, member.department, member.role.rawValue, member.minister])
            }
        }
    }

    public func removeMember(fingerprint: String) throws -> Bool {
        try storage("remove roster member \(fingerprint)") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM roster_member WHERE fingerprint = ?", arguments: [fingerprint])
                return db.changesCount == 1
            }
        }
    }

    // MARK: Login challenges

    public func storeChallenge(nonce: [UInt8], expires: Date) throws {
        try storage("store a login challenge") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO login_challenge (nonce, expires) VALUES (?, ?)",
                    arguments: [Hex.encode(nonce), expires.timeIntervalSince1970])
            }
        }
    }

    public func takeChallenge(nonce: [UInt8], at time: Date) throws -> Bool {
        try storage("take a login challenge") {
            try pool.write { db in
                let hex = Hex.encode(nonce)
                try db.execute(
                    sql: "DELETE FROM login_challenge WHERE nonce = ? AND expires > ?", arguments: [hex, time.timeIntervalSince1970])
                if db.changesCount == 1 { return true }
                try db.execute(sql: "DELETE FROM login_challenge WHERE nonce = ?", arguments: [hex])  // expired: gone too
                return false
            }
        }
    }

    // MARK: Sessions

    public func storeSession(_ session: SessionRecord) throws {
        try storage("store a session") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO login_session (token_hash, fingerprint, expires) VALUES (?, ?, ?)",
                    arguments: [Hex.encode(session.tokenHash), session.fingerprint, session.expires.timeIntervalSince1970])
            }
        }
    }

    public func session(tokenHash: [UInt8]) throws -> SessionRecord? {
        try storage("read a session") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT fingerprint, expires FROM login_session WHERE token_hash = ?", arguments: [Hex.encode(tokenHash)])
                    .map { SessionRecord(tokenHash: tokenHash, fingerprint: $0["fingerprint"], expires: Date(timeIntervalSince1970: $0["expires"])) }
            }
        }
    }

    public func removeSession(tokenHash: [UInt8]) throws -> Bool {
        try storage("remove a session") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM login_session WHERE token_hash = ?", arguments: [Hex.encode(tokenHash)])
                return db.changesCount == 1
            }
        }
    }

    // MARK: API keys

    private static func key(_ row: Row) -> APIKey {
        APIKey(
            id: row["id"], name: row["name"], scopes: (row["scopes"] as String).split(separator: " ").map(String.init),
            department: row["department"], created: Date(timeIntervalSince1970: row["created"]))
    }

    public func storeKey(_ key: APIKey, hash: [UInt8]) throws {
        try storage("store API key \(key.id)") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO api_key (hash, id, name, scopes, department, created) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        Hex.encode(hash), key.id, key.name, key.scopes.joined(separator: " "), key.department, key.created.timeIntervalSince1970,
                    ])
            }
        }
    }

    public func key(hash: [UInt8]) throws -> APIKey? {
        try storage("read an API key") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM api_key WHERE hash = ?", arguments: [Hex.encode(hash)]).map(Self.key)
            }
        }
    }

    public func keys() throws -> [APIKey] {
        try storage("list the API keys") {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_key ORDER BY created, id").map(Self.key) }
        }
    }

    public func revokeKey(id: String) throws -> Bool {
        try storage("revoke API key \(id)") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM api_key WHERE id = ?", arguments: [id])
                return db.changesCount == 1
            }
        }
    }

    // MARK: Housekeeping

    public func removeExpired(before time: Date) throws {
        try storage("remove expired challenges and sessions") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM login_challenge WHERE expires < ?", arguments: [time.timeIntervalSince1970])
                try db.execute(sql: "DELETE FROM login_session WHERE expires < ?", arguments: [time.timeIntervalSince1970])
            }
        }
    }
}
