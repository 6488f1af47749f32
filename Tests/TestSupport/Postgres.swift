import Foundation

/// The PostgreSQL server scripts/postgres.sh starts for the tests (scripts/test starts it beside the token rig).
/// Tests that need it fail, never skip, when it is not there: a store test that silently did not run proves nothing.
public enum Postgres {
    /// The service role's URL (SELECT, INSERT, UPDATE, DELETE only).
    public static func url() throws -> String { try variable("SIGNSERVICE_TEST_POSTGRES_URL") }
    /// The owner role's URL (applies migrations).
    public static func ownerURL() throws -> String { try variable("SIGNSERVICE_TEST_POSTGRES_OWNER_URL") }

    private static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw RigError("\(name) is not set: run scripts/postgres.sh up and source the env.sh it names (scripts/test does both)")
        }
        return value
    }

    /// A schema of its own for one test (made by the owner role, usable by the service role), and the two URLs
    /// naming it: a test that needs a store nobody else writes to (fixed file numbers, counts in reports).
    public static func freshSchema() throws -> (url: String, ownerURL: String) {
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let owner = try ownerURL()
        let runtimeUser = URLComponents(string: try url())?.user ?? "signservice"
        let made = try Command.run(
            "/usr/bin/psql",
            [
                owner, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                """
                CREATE SCHEMA \(schema); GRANT USAGE ON SCHEMA \(schema) TO \(runtimeUser);
                ALTER DEFAULT PRIVILEGES IN SCHEMA \(schema) GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(runtimeUser);
                """,
            ])
        guard made.status == 0 else { throw RigError("cannot make the schema \(schema): \(made.stderr)") }
        return (try url() + "&search_path=\(schema)", owner + "&search_path=\(schema)")
    }

    /// A file number no earlier run used: the tests share one database.
    public static func uniqueNumber(_ prefix: String) -> String {
        "\(prefix)/\(UUID().uuidString.prefix(8))"
    }
}
