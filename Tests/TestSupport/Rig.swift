import Foundation
import SignKit

/// The project's token rig (scripts/rig.sh): pcscd with the emulated PIV card and SoftHSM2. Tests never skip when
/// it is down; they fail and say how to start it.
public enum Rig {
    /// The repository root, found from this file's path.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    public static var folder: URL {
        ProcessInfo.processInfo.environment["SIGNSERVICE_RIG"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".rig")
    }

    /// The emulated card's reader, token label and ATR (scripts/rig.sh).
    public static let cardReader = "Virtual PCD 00 00"
    public static let cardToken = "Anita Sharma"
    public static let cardATR = "3B 8A 80 01 53 47 4E 53 56 43 2D 50 49 56 75"
    public static let softToken = "SignService Test"

    /// The built signctl next to the test bundle (swift build puts every product in one folder).
    public static let signctl: String = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [folder, Bundle.main.bundleURL, root.appendingPathComponent(".build/debug")] {
            let path = candidate.appendingPathComponent("signctl").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/signctl").path
    }()
    public static let docSignerToken = "SignService DocSigner"

    private static let environment: Result<Void, RigError> = {
        let file = folder.appendingPathComponent("env.sh")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            return .failure(RigError("the token rig is not up (\(file.path) missing): run scripts/rig.sh up"))
        }
        // Lines of the form `export NAME=value`; set here so that this process reaches the rig's pcscd and
        // SoftHSM2 before any PC/SC or PKCS#11 call.
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            setenv(String(pair[0]), String(pair[1]), 1)
        }
        let socket = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? ""
        guard FileManager.default.fileExists(atPath: socket) else {
            return .failure(RigError("the rig's pcscd socket \(socket) is missing: run scripts/rig.sh up"))
        }
        return .success(())
    }()

    /// Points this process at the rig. Call before touching PC/SC or PKCS#11.
    public static func require() throws {
        try environment.get()
    }

    public static func cardPIN() throws -> PIN { try pin(file: "card.pin") }
    public static func softhsmPIN() throws -> PIN { try pin(file: "softhsm.pin") }

    /// The PIN strings, for checking that they appear nowhere.
    public static func secretStrings() throws -> [String] {
        try ["card.pin", "softhsm.pin"].map {
            try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    private static func pin(file: String) throws -> PIN {
        try require()
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return try text.utf8CString.withUnsafeBytes { raw in
            try PIN(bytes: UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 1)]))
        }
    }

    /// A PIN from a string, for wrong-PIN tests.
    public static func pin(_ text: String) throws -> PIN {
        try Array(text.utf8).withUnsafeBytes { try PIN(bytes: $0) }
    }

    /// Runs `scripts/rig.sh ARGUMENT` (card-out, card-in, card-reset) and fails if it does.
    public static func control(_ argument: String) throws {
        let result = try Command.run(root.appendingPathComponent("scripts/rig.sh").path, [argument])
        guard result.status == 0 else {
            throw RigError("scripts/rig.sh \(argument) failed (\(result.status)): \(result.stderr)")
        }
    }

    /// The emulated card's command log: one "NAME SW" line per APDU (never any PIN bytes).
    public static func cardLog() -> [String] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("card-apdu.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// The emulated card's own PIN retry counter (its state file), independent of what OpenSC reports.
    public static func cardTriesLeft() -> Int? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("card-state.json")),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["tries"] as? Int
    }

    /// How many VERIFY commands carrying a PIN the card has received.
    public static func pinVerifications() -> Int {
        cardLog().filter { $0.hasPrefix("VERIFY-PIN ") }.count
    }

    public static func manager(modules: [String] = []) throws -> TokenManager {
        try require()
        return TokenManager(
            configuration: TokenConfiguration(
                discovery: ModuleDiscovery(configuredModules: modules), catalogue: try ATRCatalogue.bundled()))
    }

    /// Runs `body` while holding the rig exclusively (an flock on .rig/tests.lock), across test targets and
    /// processes: tests that count card commands, change PIN state or pull the card must not overlap, and
    /// PKCS#11 login state is shared by a whole process.
    public static func exclusive<R>(_ body: () async throws -> R) async throws -> R {
        try require()
        let path = folder.appendingPathComponent("tests.lock").path
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RigError("cannot open \(path)") }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}

public struct RigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
