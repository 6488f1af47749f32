import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SignKit

@main
struct SignServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SignService",
        abstract: "The SignService daemon: DSC token signing and verification for e-Office, on loopback.",
        discussion: """
            Binds 127.0.0.1:8787 unless told otherwise. Binding a non-loopback address needs --allow-remote, \
            because the API drives the officer's own signing token.
            """,
        version: SignKitVersion.string
    )

    @Option(help: ArgumentHelp("Configuration file (JSON, docs/daemon.md); default: /etc/signservice/config.json when it exists.", valueName: "file"))
    var config: String?

    @Option(help: "Address to bind (overrides the configuration).")
    var host: String?

    @Option(help: "Port to bind (overrides the configuration; 0 picks a free port).")
    var port: Int?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("State folder (overrides the configuration).", valueName: "path"))
    var stateDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (overrides the configuration).")
    var logLevel: String?

    @Flag(name: .customLong("allow-remote"), help: "Allow binding an address other than loopback.")
    var allowRemote = false

    func configuration() throws -> ServiceConfiguration {
        let path = config ?? (FileManager.default.fileExists(atPath: "/etc/signservice/config.json") ? "/etc/signservice/config.json" : nil)
        var configuration = try path.map(ServiceConfiguration.load) ?? ServiceConfiguration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let logLevel { configuration.logLevel = logLevel }
        try configuration.validate(allowRemote: allowRemote)
        return configuration
    }

    func validate() throws {
        do {
            _ = try configuration()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        // PINs (a request's, a kept session's HMAC key) are in this process's memory: no core dump may hold them.
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none) == 0 else {
            throw ConfigurationError("cannot turn off core dumps (setrlimit RLIMIT_CORE): \(String(cString: strerror(errno)))")
        }
        let app = try buildApplication(try configuration())
        try await app.runService()
        PKCS11Module.finalizeAll()
    }
}
