import ArgumentParser
import Foundation
import SignKit

/// signctl: the command line of SignService. Exit codes are shared by every subcommand and listed in `--help`.
struct SignCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signctl",
        abstract: "See DSC tokens, sign e-Office note-sheet extracts with them, and verify signatures.",
        discussion: """
            Exit codes:
              0  success (verify: TOTAL-PASSED)
              1  verify: TOTAL-FAILED; history verify, audit verify: a problem found;
                 scan upload: refused (another request's QR code, a closed request, the daemon's refusal)
              2  verify: INDETERMINATE
              3  usage error or unreadable input
              4  token or PIN error (wrong PIN, locked token, token removed, key not found)
              5  environment problem (pcscd not running, no PKCS#11 module loads, the daemon failed)

            PINs are never taken from the command line or the environment: signctl asks on the terminal with \
            echo off, or reads one line from a file descriptor (--pin-fd).
            """,
        version: SignKitVersion.string,
        subcommands: [
            Tokens.self, Doctor.self, Sign.self, Verify.self, History.self, Scan.self, Report.self, RecordsCommand.self, Pair.self, Audit.self, SignRaw.self,
        ]
    )
}

/// Options shared by commands that look for tokens.
struct TokenOptions: ParsableArguments {
    @Option(name: .customLong("module"), help: ArgumentHelp("Load this PKCS#11 module too (repeatable).", valueName: "path"))
    var modules: [String] = []

    @Flag(name: .customLong("no-p11-kit"), help: "Do not load the modules registered with p11-kit.")
    var noP11Kit = false

    @Option(name: .customLong("atr-catalogue"), help: ArgumentHelp("Use this ATR catalogue instead of the bundled one.", valueName: "file"))
    var catalogue: String?

    func manager() throws -> TokenManager {
        let catalogue: ATRCatalogue
        do {
            catalogue = try self.catalogue.map { try ATRCatalogue.load(contentsOf: URL(fileURLWithPath: $0)) } ?? ATRCatalogue.bundled()
        } catch {
            throw CommandFailure(status: self.catalogue == nil ? .environment : .usage, message: "\(error)")
        }
        let discovery = ModuleDiscovery(configuredModules: modules, useP11Kit: !noP11Kit)
        return TokenManager(
            configuration: TokenConfiguration(discovery: discovery, catalogue: catalogue),
            logger: quietLogger())
    }
}

@main
enum Main {
    static func main() {
        let status: Int32
        // Until the arguments parse, "--json" among them (before a "--") is taken as asking for JSON errors.
        var json = CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
        do {
            var command = try SignCtl.parseAsRoot()
            json = (command as? any JSONReporting)?.json ?? false
            try command.run()
            status = 0
        } catch {
            status = report(error, json: json)
        }
        PKCS11Module.finalizeAll()
        exit(status)
    }

    /// Prints the error in one line on stderr, or as one line of JSON (`ErrorReport`) on stdout under `--json` (help
    /// and version go to stdout as they are), and returns the exit status (ExitStatus.swift has the table).
    static func report(_ error: any Error, json: Bool = false) -> Int32 {
        let status: ExitStatus
        let message: String
        let code: String
        switch error {
        case let failure as CommandFailure:
            (status, message, code) = (failure.status, failure.message, failure.code)
        case let failure as TokenError:
            (status, message, code) = (ExitStatus.of(failure), "\(failure)", failure.codeName)
        case let failure as any CodedError:
            (status, message, code) = (ExitStatus.of(failure), failure.reason, failure.codeName)
        default:
            let exitCode = SignCtl.exitCode(for: error)
            let text = SignCtl.fullMessage(for: error)
            if exitCode == .success {  // --help, --version
                if !text.isEmpty { print(text) }
                return 0
            }
            // ArgumentParser's usage errors (64) become signctl's usage status; ExitCode(n) thrown by a command is n
            // (a verdict or a finding already reported on stdout).
            let exit = exitCode == .validationFailure ? ExitStatus.usage.rawValue : exitCode.rawValue
            if text.isEmpty { return exit }
            if json && exit == ExitStatus.usage.rawValue {
                let firstLine = text.split(separator: "\n").first.map(String.init) ?? text
                printJSON(ErrorReport(code: "usage", error: firstLine.replacingOccurrences(of: "Error: ", with: ""), exitStatus: exit))
            } else {
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
            return exit
        }
        if json {
            printJSON(ErrorReport(code: code, error: message, exitStatus: status.rawValue))
        } else {
            FileHandle.standardError.write(Data("signctl: error: \(message)\n".utf8))
        }
        return status.rawValue
    }

    static func printJSON(_ report: ErrorReport) {
        print((try? JSONOutput.string(report, pretty: false)) ?? #"{"code":"internal","error":"the error does not encode"}"#)
    }
}

/// The certificates of a --chain PEM file; a file that holds none is an error, not an empty chain.
func readChain(_ file: String?) throws -> [X509Certificate] {
    guard let file else { return [] }
    do {
        let chain = try X509Certificate.fromPEM(String(contentsOfFile: file, encoding: .utf8))
        guard !chain.isEmpty else { throw CommandFailure(status: .usage, message: "\(file) holds no PEM certificate") }
        return chain
    } catch let failure as CommandFailure {
        throw failure
    } catch {
        throw CommandFailure(status: .usage, message: "cannot read the chain \(file): \(error)")
    }
}
