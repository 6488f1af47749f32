import Foundation
import PostgresNIO

/// The records service's tables in PostgreSQL, as numbered migrations. Each runs once, in its own transaction,
/// under an advisory lock so instances starting together do not race; `schema_migration` lists what has run.
///
/// Migrations need a role that may create tables (the owner: `postgres.migrationURL`); the service's everyday role
/// needs only SELECT, INSERT, UPDATE and DELETE (deploy/postgres-records.sql).
enum PostgresSchema {
    static let migrations: [(name: String, sql: [String])] = [
        (
            "1-histories",
            [
                "CREATE TABLE file (number text PRIMARY KEY, subject text NOT NULL, department text NOT NULL)",
                """
                CREATE TABLE entry (
                    file text NOT NULL REFERENCES file(number), sequence integer NOT NULL, kind text NOT NULL,
                    note text NOT NULL, time double precision NOT NULL, content_hash bytea NOT NULL,
                    signature_hash bytea NOT NULL, signer_fingerprint bytea NOT NULL, attachment_hash bytea,
                    previous_hash bytea NOT NULL, hash bytea NOT NULL UNIQUE,
                    PRIMARY KEY (file, sequence), UNIQUE (file, signature_hash))
                """,
                """
                CREATE TABLE checkpoint (
                    file text NOT NULL REFERENCES file(number), size integer NOT NULL, head_hash bytea NOT NULL,
                    time double precision NOT NULL, signature bytea NOT NULL, PRIMARY KEY (file, size))
                """,
                """
                CREATE TABLE approval_request (
                    id text PRIMARY KEY, file text NOT NULL REFERENCES file(number), note text NOT NULL,
                    extract_hash bytea NOT NULL, minister text NOT NULL, pps text NOT NULL,
                    issued double precision NOT NULL, status text NOT NULL, qr text NOT NULL, entry integer)
                """,
                "CREATE INDEX approval_request_by_file ON approval_request (file)",
                // Content-addressed blobs (extracts, signatures, scans) in parts of at most `PostgresHistoryStore.part`
                // bytes, so a large scan is neither sent nor read in one piece. Written in the transaction of the
                // entry that names them.
                "CREATE TABLE blob (hash bytea NOT NULL, part integer NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (hash, part))",
            ]
        ),
        (
            // Who may come in (Access/): the same tables as SQLiteAccessStore's.
            "2-access",
            [
                """
                CREATE TABLE roster_member (
                    fingerprint text PRIMARY KEY, name text NOT NULL, department text NOT NULL, role text NOT NULL, minister text)
                """,
                "CREATE TABLE login_challenge (nonce text PRIMARY KEY, expires double precision NOT NULL)",
                "CREATE TABLE login_session (token_hash text PRIMARY KEY, fingerprint text NOT NULL, expires double precision NOT NULL)",
                """
                CREATE TABLE api_key (
                    hash text PRIMARY KEY, id text NOT NULL UNIQUE, name text NOT NULL, scopes text NOT NULL, department text,
                    created double precision NOT NULL)
                """,
            ]
        ),
        (
            // The department log (docs/history.md): a leaf per entry, indexes given in commit order through the one
            // row of log_state (its row lock is taken last in an append's transaction, so it is held only to the
            // commit); entries made before the log existed become its first leaves, in the order they were accepted.
            "3-department-log",
            [
                """
                CREATE TABLE log_leaf (
                    leaf_index bigint PRIMARY KEY, file text NOT NULL, sequence integer NOT NULL, UNIQUE (file, sequence),
                    FOREIGN KEY (file, sequence) REFERENCES entry(file, sequence))
                """,
                "INSERT INTO log_leaf SELECT row_number() OVER (ORDER BY time, file, sequence) - 1, file, sequence FROM entry",
                "CREATE TABLE log_state (id integer PRIMARY KEY CHECK (id = 1), size bigint NOT NULL)",
                "INSERT INTO log_state (id, size) SELECT 1, count(*) FROM log_leaf",
                "CREATE TABLE tree_head (size bigint PRIMARY KEY, root bytea NOT NULL, note text NOT NULL, time double precision NOT NULL)",
                """
                CREATE TABLE cosignature (
                    size bigint NOT NULL REFERENCES tree_head(size), line text NOT NULL, certificate bytea NOT NULL,
                    PRIMARY KEY (size, line))
                """,
            ]
        ),
    ]

    /// Brings the database up to date with `migrations` (through `pool`, a role allowed to create tables), or, when
    /// `pool` may not, checks that it already is.
    static func migrate(_ pool: PostgresPool, migrations: [(name: String, sql: [String])] = migrations) throws {
        let logger = pool.logger
        let pending = try pool.transaction("read the schema version") { connection -> [String] in
            let exists =
                try await connection.query("SELECT to_regclass('schema_migration') IS NOT NULL", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            guard exists else { return migrations.map(\.name) }
            var done = Set<String>()
            for try await name in try await connection.query("SELECT name FROM schema_migration", logger: logger).decode(String.self) {
                done.insert(name)
            }
            return migrations.map(\.name).filter { !done.contains($0) }
        }
        guard !pending.isEmpty else { return }
        do {
            try pool.transaction("migrate the schema") { connection in
                // One migrating instance at a time; the others wait here, then find nothing left to do.
                try await connection.query("SELECT pg_advisory_xact_lock(7318350121)", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied double precision NOT NULL)",
                    logger: logger)
                var done = Set<String>()
                for try await name in try await connection.query("SELECT name FROM schema_migration", logger: logger).decode(String.self) {
                    done.insert(name)
                }
                for migration in migrations where !done.contains(migration.name) {
                    for statement in migration.sql {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migration (name, applied) VALUES (\(migration.name), extract(epoch FROM now()))",
                        logger: logger)
                }
            }
        } catch let error as HistoryError where error.code == .storage {
            throw HistoryError(
                .storage,
                "the database lacks migrations \(pending.joined(separator: ", ")) and \(pool.location.user) cannot apply them (\(error.reason)); "
                    + "give postgres.migrationURL, a role that owns the schema")
        }
    }
}
