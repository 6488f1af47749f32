import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SignKit

@main
struct SignServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SignService",
        abstract: "The SignService daemon, in one of two roles: an officer's agent or a department's records service.",
        discussion: """
            agent (the default): on the officer's machine, loopback only (127.0.0.1:8787): tokens, PIN, signing, \
            pairing with web pages, verification. It keeps no file histories.
            records: one per department: file histories, approval requests, scan uploads, daily reports, bundles \
            and DSC logins, on SQLite (one instance) or PostgreSQL (several). See docs/department.md.
            """,
        version: SignKitVersion.string,
        subcommands: [Agent.self, RecordsRole.self],
        defaultSubcommand: Agent.self
    )

    struct Agent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "agent",
            abstract: "The officer's agent: DSC tokens, signing and verification for e-Office pages, on loopback.",
            discussion: """
                Binds 127.0.0.1:8787 unless told otherwise. Binding a non-loopback address needs --allow-remote, \
                because the API drives the officer's own signing token.
                """)
        @OptionGroup var options: DaemonOptions
        func validate() throws { try options.check(role: .agent) }
        func run() async throws { try await options.serve(role: .agent) }
    }

    struct RecordsRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "records",
            abstract: "A department's records service: file histories, approvals, scans, reports, DSC logins.",
            discussion: """
                Store: SQLite in the state folder by default (one instance), or PostgreSQL with "postgres" in the \
                configuration (any number of instances on one database). Off loopback it serves HTTPS ("tls" in the \
                configuration) unless --allow-remote says a TLS proxy is in front.
                """)
        @OptionGroup var options: DaemonOptions
        func validate() throws { try options.check(role: .records) }
        func run() async throws { try await options.serve(role: .records) }
    }
}

/// The options both roles take.
struct DaemonOptions: ParsableArguments {
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

    @Flag(name: .customLong("allow-remote"), help: "Allow binding an address other than loopback (records: without TLS, for a TLS proxy in front).")
    var allowRemote = false

    func configuration(role: DaemonRole) throws -> ServiceConfiguration {
        let path = config ?? (FileManager.default.fileExists(atPath: "/etc/signservice/config.json") ? "/etc/signservice/config.json" : nil)
        var configuration = try path.map(ServiceConfiguration.load) ?? ServiceConfiguration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let logLevel { configuration.logLevel = logLevel }
        try configuration.validate(allowRemote: allowRemote, role: role)
        return configuration
    }

    func check(role: DaemonRole) throws {
        do {
            _ = try configuration(role: role)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    func serve(role: DaemonRole) async throws {
        // PINs (a request's, a kept session's HMAC key) are in this process's memory: no core dump may hold them and
        // no other process of the officer's may read them (prctl PR_SET_DUMPABLE 0, RLIMIT_CORE 0).
        try PINMemory.protect()
        // A file size limit (ulimit -f) makes a write fail with EFBIG instead of killing the daemon mid-record.
        signal(SIGXFSZ, SIG_IGN)
        do {
            // The application, and with it every token session it still holds, is gone before the modules are
            // finalised: a session closed after its module was unloaded would call into freed memory.
            let app = try buildApplication(try configuration(role: role), role: role)
            try await app.runService()
        }
        PKCS11Module.finalizeAll()
    }
}
