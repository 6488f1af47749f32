import ArgumentParser
import Foundation
import Synchronization
import SignKit

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "File histories: verify an exported bundle; create, append to, show or export a file's history.",
        discussion:
            "show, create and export work on a local store (--store) or through the records service (--records); append goes through the records service, whose department log proves each entry under its next signed tree head.",
        subcommands: [HistoryVerify.self, HistoryShow.self, HistoryCreate.self, HistoryAppend.self, HistoryExport.self])
}

struct HistoryVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a history bundle offline: every signature at its own signing time, the hash chain, the department log's proofs, the seal.",
        discussion: """
            Prints a timeline (who did what, when, as what kind of signer, the verdict) and names every problem: an \
            entry missing, moved or inserted, a changed extract, a replaced signature, a signature made for another \
            file or note, an entry not in the department log, a tree head not signed by the service, a history cut \
            short. Nothing is fetched (but a consistency proof with --state and --records): the bundle \
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

    @OptionGroup var language: LanguageOption

    @OptionGroup(title: "Validation policy") var validation: ValidationOptions

    @Option(
        help: ArgumentHelp(
            "Remember the department log's tree head and the file's entries here, and hold every later bundle to them: a head that does not extend (or is not extended by) the remembered one, or an entry that differs from the one verified before, is a problem.",
            valueName: "dir"))
    var state: String?

    @Option(
        name: .customLong("records"),
        help: ArgumentHelp(
            "With --state: the records service to fetch a consistency proof from, when the bundle's head and the remembered one differ in size.",
            valueName: "url"))
    var records: String?

    @Option(
        name: .customLong("witness"),
        help: ArgumentHelp("A witness's certificate (PEM) whose cosignature the bundle's tree head must carry (repeatable).", valueName: "file"))
    var witnesses: [String] = []

    @Option(
        name: .customLong("witness-name"),
        help: ArgumentHelp("The witnesses' key name in cosignatures; default: each certificate's common name, spaces as dashes.", valueName: "name"))
    var witnessName: String?

    func validate() throws {
        if let at, VerifyTime.parse(at) == nil { throw ValidationError("--at must be an RFC 3339 time or a date (YYYY-MM-DD), not \(at)") }
        if records != nil && state == nil { throw ValidationError("--records is used with --state (to prove the bundle's head against the remembered one)") }
    }

    func run() throws {
        do {
            try InputFile.check(bundle, is: .bundle)
        } catch {
            throw CommandFailure(error)
        }
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
        var report: HistoryReport
        do {
            report = try HistoryBundle.verify(bundle, trust: store, at: time, policy: validation.policy(), adjunct: try validation.adjunct()) { done, total in
                progress.update(done, total)
            }
        } catch {
            progress.finish()
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        progress.finish()
        try LogHolding(witnesses: witnesses, witnessName: witnessName, state: state, records: records).apply(to: &report, at: time)
        if let html {
            do { try AtomicFile.write(Array(report.html(in: language.value).utf8), to: html) } catch {
                throw CommandFailure(status: .usage, message: "cannot write \(html): \(error)")
            }
        }
        if json {
            print(try JSONOutput.string(report))
        } else {
            print(report.text(in: language.value))
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// What `history verify` holds a bundle's department-log head to beyond the bundle itself: witnesses' cosignatures,
/// and what an earlier verification remembered (LogMemory).
struct LogHolding {
    let witnesses: [String]
    let witnessName: String?
    let state: String?
    let records: String?

    func apply(to report: inout HistoryReport, at time: Date) throws {
        guard let log = report.log else {
            if !witnesses.isEmpty || state != nil {
                report.add(
                    .logHeadNotValid, nil, "the bundle carries no department-log tree head, so it cannot be held to witnesses or to what was verified before")
            }
            return
        }
        guard log.valid, let note = try? SignedNote(parsing: log.checkpoint), let head = try? TreeHead(checkpoint: note.text) else { return }
        for path in witnesses {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let certificate = try? X509Certificate.fromPEM(text).first else {
                throw CommandFailure(status: .usage, message: "--witness \(path) is not a PEM certificate")
            }
            let name = witnessName ?? X509NoteKey.defaultName(for: certificate)
            let key = try X509NoteKey(name: name, certificate: certificate)
            if (try? note.verify(by: key)) == nil {
                report.add(
                    .witnessMissing, nil,
                    "the log's tree head of \(head.size) leaves carries no valid cosignature by the witness \(name) (\(certificate.subject))")
            }
        }
        guard let state else { return }
        let memory: LogMemory
        do { memory = try LogMemory(state: state, origin: log.origin) } catch let error as LogError {
            throw CommandFailure(status: .usage, message: error.reason)
        }
        var consistent = true
        if let remembered = memory.head()?.head, remembered.size != head.size || remembered.rootHash != head.rootHash {
            // The smaller of the two heads must be a prefix of the larger, by a proof from the log.
            let (old, new) = remembered.size <= head.size ? (remembered, head) : (head, remembered)
            var problem: String? = nil
            if old.size == new.size {
                problem = "the bundle's tree head and the one verified before are two different heads for size \(old.size): the log was rewritten or forked"
            } else if let records {
                let client = try DaemonClient(service: records, token: "")
                do {
                    try LogOptions.consistency(client, from: old.size, to: new.size).verify(oldRoot: old.rootHash, newRoot: new.rootHash)
                } catch let error as CommandFailure {
                    problem = "no consistency proof from the head of \(old.size) leaves to the head of \(new.size) could be had: \(error.message)"
                } catch {
                    problem =
                        "the head of \(new.size) leaves does not extend the head of \(old.size): \((error as? any CodedError)?.codedDescription ?? "\(error)")"
                }
            } else {
                problem =
                    "the bundle's tree head (\(head.size) leaves) differs from the one verified before (\(remembered.size)); give --records URL to prove one extends the other"
            }
            if let problem {
                consistent = false
                report.add(.logInconsistent, nil, problem)
            }
        }
        // Each entry against the same entry verified before: the same leaf, or the history was rewritten.
        let number = report.file?.number ?? ""
        var known = memory.leaves(of: number)
        var rewritten = false
        for entry in report.entries {
            guard let before = known?.leaves[String(entry.sequence)] else { continue }
            if entry.leafHash != nil && (entry.leafHash != before.leafHash || entry.leafIndex != before.leafIndex) {
                rewritten = true
                report.add(
                    .rewritten, entry.sequence,
                    "entry \(entry.sequence) differs from the one verified on \(UTCTimeText.format(known!.verifiedAt)) under the tree head of \(known!.treeSize) leaves "
                        + "(leaf \(before.leafIndex)): the history was rewritten")
            }
        }
        if let known {
            let present = Set(report.entries.map(\.sequence))
            for (sequence, leaf) in known.leaves where !present.contains(Int(sequence) ?? 0) && leaf.leafIndex < head.size {
                rewritten = true
                report.add(
                    .rewritten, Int(sequence),
                    "entry \(sequence), verified before under the tree head of \(known.treeSize) leaves, is not in this bundle: it was removed")
            }
        }
        guard report.passed, consistent, !rewritten else { return }
        // Held: remember the larger head, and every entry proven.
        if memory.head().map({ $0.head.size < head.size }) ?? true { try memory.remember(head: log.checkpoint) }
        var leaves = known ?? LogMemory.FileLeaves(file: number, verifiedAt: time, treeSize: head.size, leaves: [:])
        for entry in report.entries {
            if let index = entry.leafIndex, let hash = entry.leafHash { leaves.leaves[String(entry.sequence)] = .init(leafIndex: index, leafHash: hash) }
        }
        (leaves.verifiedAt, leaves.treeSize) = (time, max(leaves.treeSize, head.size))
        try memory.remember(leaves)
        known = leaves
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

/// Where the history is: a local store folder, or the running daemon (exactly one).
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The history store folder (history.sqlite and blobs/).", valueName: "dir"))
    var store: String?

    @OptionGroup var daemon: RecordsOptions

    func validate() throws {
        if (store == nil) == (daemon.service == nil) {
            throw ValidationError("give either --store DIR (a local store) or --records URL (the records service)")
        }
    }

    func open() throws -> SQLiteHistoryStore {
        guard let store else { throw CommandFailure(status: .usage, message: "--store is required") }
        guard FileManager.default.fileExists(atPath: store + "/history.sqlite") else {
            throw CommandFailure(status: .usage, message: "\(store) holds no history store (history.sqlite)")
        }
        do { return try SQLiteHistoryStore(folder: store) } catch { throw CommandFailure(status: .usage, message: "\(error)") }
    }

    /// The records workflows over the local store (no document signer, no audit log: a local store is the
    /// operator's own).
    func records() throws -> Records {
        Records(store: try open(), verifier: nil, documentSigner: nil)
    }
}

struct HistoryShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List a file's entries (and their leaves in the department log) from a store.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Flag(help: "Print the file and its entries as JSON (as GET /v1/files/{file} answers).")
    var json = false

    @Flag(help: "Print only the head: the hash a new signature names with --previous-hash (HEAD=$(signctl history show F --head ...)).")
    var head = false

    func run() throws {
        let shown: FileHistoryAnswer
        if let client = try storeOptions.daemon.client() {
            shown = try client.call("GET", "/v1/files/\(DaemonClient.segment(file))", as: FileHistoryAnswer.self)
        } else {
            shown = try storeOptions.records().history(of: file, origin: nil, at: Date())
        }
        if json {
            print(try JSONOutput.string(shown))
            return
        }
        if head {
            print(shown.head)
            return
        }
        print("File \(shown.file.number): \(shown.file.subject) (\(shown.file.department))")
        for entry in shown.entries {
            print(
                String(
                    format: "%4d  %@  %-13@ note %@  signer %@…  entry %@…%@", entry.sequence, entry.time as NSString, entry.kind as NSString,
                    entry.noteID as NSString, String(entry.signerFingerprint.prefix(16)) as NSString, String(entry.hash.prefix(16)) as NSString,
                    (entry.leafIndex.map { "  leaf \($0)" } ?? "") as NSString))
        }
        let logged = shown.entries.filter { $0.leafIndex != nil }.count
        var summary = ["\(shown.entries.count) entr\(shown.entries.count == 1 ? "y" : "ies")"]
        if logged > 0 { summary.append("\(logged) in the department log") }
        if !shown.checkpoints.isEmpty { summary.append("\(shown.checkpoints.count) checkpoint\(shown.checkpoints.count == 1 ? "" : "s") (before the log)") }
        print(summary.joined(separator: ", ") + "; head \(shown.head)")
    }
}

struct HistoryCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Start the history of an e-Office file.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The file number, e.g. GAD-11011/3/2026-ADMIN.", valueName: "file"))
    var file: String

    @Option(help: "What the file is about.")
    var subject: String

    @Option(help: "The department that owns it.")
    var department: String

    func validate() throws {
        if let problem = FileRecord(number: file, subject: subject, department: department).problem { throw ValidationError(problem) }
    }

    func run() throws {
        let record = FileRecord(number: file, subject: subject, department: department)
        if let client = try storeOptions.daemon.client() {
            _ = try client.call("POST", "/v1/files", body: record, as: FileCreatedAnswer.self)
        } else {
            _ = try storeOptions.records().createFile(record, origin: nil, at: Date())
        }
        print("created \(file): \(subject) (\(department))")
    }
}

struct HistoryAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append a signed extract to a file's history through the records service.",
        discussion: """
            The daemon verifies the signature (it must be TOTAL-PASSED), checks that its e-Office context names this \
            file, this note and the file's current head (sign with --previous-hash set to the head `history show` \
            prints), appends the entry and signs a checkpoint with its document-signer key.
            """)

    @OptionGroup var daemon: RecordsOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Option(name: .customLong("note-id"), help: "The note id the signature names.")
    var noteID: String

    @Option(help: ArgumentHelp("The signed extract.", valueName: "file"))
    var extract: String

    @Option(help: ArgumentHelp("Its detached signature (.p7s, DER or PEM).", valueName: "file"))
    var signature: String

    @Flag(help: "The entry is an approval (the signature must state proof of approval).")
    var approval = false

    func validate() throws {
        if daemon.service == nil { throw ValidationError("append goes through the daemon: give --service URL") }
    }

    func run() throws {
        let client = try daemon.client()!
        do {
            try InputFile.check(extract, is: .content)
        } catch {
            throw CommandFailure(error)
        }
        let content: Data
        do {
            content = try Data(contentsOf: URL(fileURLWithPath: extract))
        } catch {
            throw CommandFailure(status: .usage, message: "cannot read \(extract): \(error.localizedDescription)")
        }
        let signed = try Verify.readSignature(signature)
        let body = AppendRequestBody(kind: approval ? .approval : .note, noteID: noteID, content: Array(content), signature: signed)
        let answer = try client.call("POST", "/v1/files/\(DaemonClient.segment(file))/entries", body: body, as: AppendAnswer.self)
        print("appended entry \(answer.entry.sequence) (\(answer.entry.kind), note \(noteID)) by \(answer.signer); head \(answer.entry.hash)")
    }
}

struct HistoryExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a file's history from a store to a sealed bundle that verifies offline.",
        discussion:
            "The seal is a signature over the manifest by the service's document-signer key (--key with --store; the daemon's own with --service), so a bundle cut short or edited later is detected."
    )

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

    func validate() throws {
        if storeOptions.daemon.service != nil && (keyOptions.key != nil || trust != nil || chainFile != nil) {
            throw ValidationError(
                "with --service the daemon seals the bundle with its document-signer key and its own trust store; drop --key, --trust and --chain")
        }
    }

    func run() throws {
        if let client = try storeOptions.daemon.client() {
            let size = try client.download("/v1/files/\(DaemonClient.segment(file))/bundle", to: output)
            FileHandle.standardError.write(Data("exported \(file) from the daemon at \(client.base) to \(output) (\(size) bytes)\n".utf8))
            return
        }
        let store = try storeOptions.open()
        let trustStore = try TrustStore.load(directory: try Verify.trustFolder(trust))
        let chain = try readChain(chainFile)
        let now = Date()
        let (count, signer) = try KeyChoice.withSession(tokenOptions, keyOptions, at: now) { choice, session, pin in
            let sealer = CheckpointSigner(certificate: session.certificate, chain: chain) { try session.sign($0, pin: pin) }
            do {
                return (
                    try HistoryBundle.export(file: file, from: store, verifier: Verifier(trust: trustStore), sealer: sealer, to: output, at: now),
                    choice.signerName
                )
            } catch let error as HistoryError {
                throw CommandFailure(status: .usage, message: error.description)
            }
        }
        FileHandle.standardError.write(Data("exported \(file) (\(count) entries) to \(output), sealed by \"\(signer)\"\n".utf8))
    }
}
