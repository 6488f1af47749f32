import Foundation

/// Where the daemon keeps its state, shared by the daemon and signctl (which reads the admin token and the audit
/// log from the same folder).
public enum ServicePaths {
    /// $SIGNSERVICE_STATE, else $XDG_STATE_HOME/signservice, else ~/.local/state/signservice.
    public static func defaultStateDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["SIGNSERVICE_STATE"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/signservice" }
        return NSHomeDirectory() + "/.local/state/signservice"
    }

    public static func auditLog(in state: String) -> String { state + "/audit.log" }
    public static func adminToken(in state: String) -> String { state + "/admin.token" }
    public static func pairings(in state: String) -> String { state + "/pairings.json" }
    public static func revocationCache(in state: String) -> String { state + "/revocation" }
}
