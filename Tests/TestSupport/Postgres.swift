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

    /// A file number no earlier run used: the tests share one database.
    public static func uniqueNumber(_ prefix: String) -> String {
        "\(prefix)/\(UUID().uuidString.prefix(8))"
    }
}
