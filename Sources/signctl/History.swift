import ArgumentParser
import Foundation
import Synchronization
import SignKit

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "File histories: verify an exported bundle, show or export a store's history.",
        subcommands: [HistoryVerify.self, HistoryShow.self, HistoryExport.self])
}

struct HistoryVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a history bundle offline: every signature at its own signing time, the hash chain, the checkpoints, the seal.",
        discussion: """
            Prints a timeline (who did what, when, as what kind of signer, the verdict) and names every problem: an \
            entry missing, moved or inserted, a changed extract, a replaced signature, a signature made for another \
            file or note, a checkpoint not signed by the service, a history cut short. Nothing is fetched: the bundle \
            carries the certificates and the revocation data; the trust anchors are yours (--trust).
            Exit codes: 0 the history holds, 1 a problem was found, 3 usage error or unreadable bundle.
            """)

    @Argument(help: ArgumentHelp("The bundle (.zip) from `signctl history export` or the daemon.", valueName: "bundle"))
    var bundle: String

    @Option(help: ArgumentHelp("Folder of trusted root certificates (default: $SIGNSERVICE_TRUST, else /etc/signservice/trust).", valueName: "dir"))
    var trust: String?

    @Option(help: ArgumentHelp("Validation time (RFC 3339 or a date); default now.", valueName: "time"))
    var at: String?

    @Flag(help: "Print the report as JSON (schema signservice.history-report/1, docs/history.md).")
    var json = false

    @Option(help: ArgumentHelp("Also write a printable HTML report here.", valueName: "file"))
    var html: String?

    func validate() throws {
        if let at, VerifyTime.parse(at) == nil { throw ValidationError("--at must be an RFC 3339 time or a date (YYYY-MM-DD), not \(at)") }
    }

    func run() throws {
        let store: TrustStore
        do {
            store = try TrustStore.load(directory: try Verify.trustFolder(trust))
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        let time = at.flatMap(VerifyTime.parse) ?? Date()  // checked in validate()
        let progress = ProgressBar(enabled: !json && isatty(STDERR_FILENO) == 1)
        let report: HistoryReport
        do {
            report = try HistoryBundle.verify(bundle, trust: store, at: time) { done, total in progress.update(done, total) }
        } catch {
            progress.finish()
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        progress.finish()
        if let html {
            do { try AtomicFile.write(Array(report.html.utf8), to: html) } catch {
                throw CommandFailure(status: .usage, message: "cannot write \(html): \(error)")
            }
        }
        if json {
            print(try JSONOutput.string(report))
        } else {
            print(report.text)
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// "[=====     ] 412/10000" on stderr, redrawn in place, only on a terminal. Updated from the verifying workers,
/// so its state is behind a lock.
final class ProgressBar: Sendable {
    let enabled: Bool
    private let last = Mutex(-1)

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let width = 40, filled = min(width, done * width / total)
        last.withLock { last in
            guard filled != last || done == total else { return }
            last = filled
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) entries".utf8))
        }
    }

    func finish() {
        if enabled && last.withLock({ $0 >= 0 }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Where a local store is.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The history store folder (history.sqlite and blobs/).", valueName: "dir"))
    var store: String

    func open() throws -> SQLiteHistoryStore {
        guard FileManager.default.fileExists(atPath: store + "/history.sqlite") else {
            throw CommandFailure(status: .usage, message: "\(store) holds no history store (history.sqlite)")
        }
        do { return try SQLiteHistoryStore(folder: store) } catch { throw CommandFailure(status: .usage, message: "\(error)") }
    }
}

struct HistoryShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "List a file's entries and checkpoints from a store.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    func run() throws {
        let store = try storeOptions.open()
        guard let record = try store.file(file) else { throw CommandFailure(status: .usage, message: "there is no file \(file) in \(storeOptions.store)") }
        print("File \(record.number): \(record.subject) (\(record.department))")
        let checkpoints = try store.checkpoints(of: file)
        for entry in try store.entries(of: file) {
            print(String(format: "%4d  %@  %-13@ note %@  signer %@…  entry %@…", entry.sequence, UTCTimeText.format(entry.time) as NSString,
                         entry.kind.rawValue as NSString, entry.noteID as NSString, Hex.encode(entry.signerFingerprint.prefix(8)) as NSString,
                         Hex.encode(entry.hash.prefix(8)) as NSString))
        }
        print("\(checkpoints.count) checkpoints; head \(Hex.encode(try store.head(of: file).hash))")
    }
}

struct HistoryExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a file's history from a store to a sealed bundle that verifies offline.",
        discussion: "The seal is a signature over the manifest by the service's document-signer key (--key), so a bundle cut short or edited later is detected.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var keyOptions: KeyOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The bundle to write.", valueName: "zip"))
    var output: String

    @Option(help: ArgumentHelp("Folder of trusted root certificates.", valueName: "dir"))
    var trust: String?

    @Option(name: .customLong("chain"), help: ArgumentHelp("PEM file of the document signer's intermediate CAs.", valueName: "file"))
    var chainFile: String?

    func run() throws {
        let store = try storeOptions.open()
        let trustStore = try TrustStore.load(directory: try Verify.trustFolder(trust))
        let chain = try readChain(chainFile)
        let manager = try tokenOptions.manager()
        let now = Date()
        let choice = try KeyChoice(keyOptions, manager: manager, at: now)
        let pin = try choice.readPIN(keyOptions)
        defer { pin.wipe() }
        let session = try manager.openSigningSession(choice.certificate.keyURI, pin: pin, options: keyOptions.loginOptions, at: now)
        defer { session.close() }
        let sealer = CheckpointSigner(certificate: session.certificate, chain: chain) { try session.sign($0, pin: pin) }
        let verifier = Verifier(trust: trustStore)
        do {
            try HistoryBundle.export(file: file, from: store, verifier: verifier, sealer: sealer, to: output, at: now)
        } catch let error as HistoryError {
            throw CommandFailure(status: .usage, message: error.description)
        }
        FileHandle.standardError.write(Data("exported \(file) (\(try store.head(of: file).size) entries) to \(output), sealed by \"\(choice.signerName)\"\n".utf8))
    }
}
