import ArgumentParser
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

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind.")
    var port = 8787

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Flag(name: .customLong("allow-remote"), help: "Allow binding an address other than loopback.")
    var allowRemote = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        if !loopback && !allowRemote {
            throw ValidationError("refusing to bind \(host): the daemon drives signing tokens and listens on loopback only; pass --allow-remote to override")
        }
    }

    func run() async throws {
        let app = buildApplication(ServiceConfiguration(host: host, port: port, logLevel: Logger.Level(rawValue: logLevel)!))
        try await app.runService()
        PKCS11Module.finalizeAll()
    }
}
