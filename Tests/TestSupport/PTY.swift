import Foundation

/// Drives a program on a pseudo-terminal through scripts/rig/pty_type.py: waits until its screen shows a text,
/// then types keys (given in Python escape form, e.g. "1234\\r"; passed through the environment, never argv).
public enum PTY {
    public static func type(_ keys: String, after text: String, into command: [String], timeout: Int = 30) throws -> Command.Result {
        try Command.run(
            "/usr/bin/python3",
            [
                Rig.root.appendingPathComponent("scripts/rig/pty_type.py").path,
                "--wait", text, "--keys-env", "PTY_KEYS", "--timeout", String(timeout), "--",
            ] + command,
            environment: ["PTY_KEYS": keys])
    }
}
