import ArgumentParser
import Foundation
import SignKit

/// `signctl records log ...`: the department log's heads and proofs, each checked here before it is printed.
struct RecordsLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The department log: its latest signed tree head, an entry's inclusion proof, a consistency proof.",
        discussion: """
            Every answer is checked before it is printed: the head's signature with the log's key (the certificate \
            GET /v1/log names, or --log-certificate), an inclusion proof against that head, a consistency proof \
            against both heads. Exit codes: 0 it holds, 1 it does not, 3 usage, 5 the service cannot be reached.
            """,
        subcommands: [LogHead.self, LogInclusion.self, LogConsistency.self])
}

/// What every log command needs: the records service and the log's key.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("records"), help: ArgumentHelp("The records service (e.g. https://records.example.gov.in).", valueName: "url"))
    var records: String

    @Option(
        name: .customLong("log-certificate"),
        help: ArgumentHelp(
            "The log's certificate (PEM) to check heads with; default: the one GET /v1/log names (or the one pinned in --state).", valueName: "file"))
    var logCertificate: String?

    func client() throws -> DaemonClient { try DaemonClient(service: records, token: "") }

    func info(_ client: DaemonClient) throws -> LogInfoAnswer {
        try client.call("GET", "/v1/log", as: LogInfoAnswer.self)
    }

    /// The given certificate, else `pinned`, else the service's own.
    func certificate(_ info: LogInfoAnswer, pinned: X509Certificate? = nil) throws -> X509Certificate {
        if let logCertificate {
            guard let text = try? String(contentsOfFile: logCertificate, encoding: .utf8), let certificate = try? X509Certificate.fromPEM(text).first else {
                throw CommandFailure(status: .usage, message: "--log-certificate \(logCertificate) is not a PEM certificate")
            }
            return certificate
        }
        if let pinned { return pinned }
        guard let certificate = try? X509Certificate.fromPEM(info.certificate).first else {
            throw CommandFailure(status: .environment, message: "the log's certificate in GET /v1/log does not read")
        }
        return certificate
    }

    /// The latest head (or the one of `size`), verified with `certificate`: the note as received and what it states.
    static func head(_ client: DaemonClient, origin: String, certificate: X509Certificate, size: Int? = nil) throws -> (note: SignedNote, head: TreeHead) {
        let body = try client.send("GET", "/v1/log/checkpoint" + (size.map { "?size=\($0)" } ?? ""), maximumSize: SignedNote.maximumSize)
        do {
            let note = try SignedNote(parsing: body)
            return (note, try TreeHead(verifying: note, origin: origin, key: try X509NoteKey(name: origin, certificate: certificate)))
        } catch let error as LogError {
            throw CommandFailure(status: .failure, message: "the log's tree head does not hold: \(error.codedDescription)")
        }
    }

    static func consistency(_ client: DaemonClient, from: Int, to: Int) throws -> ConsistencyProof {
        let view = try client.call("GET", "/v1/log/proof/consistency?from=\(from)&to=\(to)", as: ConsistencyView.self)
        guard let proof = view.proof else { throw LogError(.proofNotValid, "the consistency proof's hashes do not read") }
        return proof
    }
}

struct LogHead: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "head", abstract: "Print the log's latest signed tree head, verified.")

    @OptionGroup var options: LogOptions

    func run() throws {
        let client = try options.client()
        let info = try options.info(client)
        let (note, head) = try LogOptions.head(client, origin: info.origin, certificate: try options.certificate(info))
        print(note.encoded, terminator: "")
        FileHandle.standardError.write(
            Data(
                "tree head of \(head.size) \(head.size == 1 ? "leaf" : "leaves"), root \(Hex.encode(head.rootHash)), signed by the key of \(info.origin)\n".utf8
            ))
    }
}

struct LogInclusion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proof", abstract: "Print an entry's inclusion proof against the latest head (or --size), verified.")

    @OptionGroup var options: LogOptions

    @Option(help: ArgumentHelp("The leaf index.", valueName: "n")) var leaf: Int

    @Option(help: ArgumentHelp("Against the head of this size (default: the latest).", valueName: "n")) var size: Int?

    @Option(help: ArgumentHelp("The leaf's hash (hex), as a bundle's report or the file's history gives it, to check the proof.", valueName: "hex"))
    var leafHash: String?

    func run() throws {
        let client = try options.client()
        let info = try options.info(client)
        let view = try client.call(
            "GET", "/v1/log/proof/inclusion?leaf=\(leaf)" + (size.map { "&size=\($0)" } ?? ""), as: InclusionView.self)
        let (_, head) = try LogOptions.head(client, origin: info.origin, certificate: try options.certificate(info), size: view.treeSize)
        guard let proof = view.proof else { throw CommandFailure(status: .failure, message: "the inclusion proof's hashes do not read") }
        print(try JSONOutput.string(view))
        if let leafHash {
            guard let hash = Hex.decode(leafHash), hash.count == 32 else { throw CommandFailure(status: .usage, message: "--leaf-hash is 64 hex digits") }
            do {
                try proof.verify(leafHash: hash, rootHash: head.rootHash)
            } catch let error as LogError {
                throw CommandFailure(status: .failure, message: "leaf \(leaf) is not proven in the tree of \(head.size): \(error.codedDescription)")
            }
            FileHandle.standardError.write(Data("leaf \(leaf) is in the signed tree of \(head.size) leaves\n".utf8))
        }
    }
}

struct LogConsistency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consistency", abstract: "Check that the log's head of --from leaves is a prefix of its head of --to leaves.")

    @OptionGroup var options: LogOptions

    @Option(help: ArgumentHelp("The older head's size.", valueName: "n")) var from: Int

    @Option(help: ArgumentHelp("The newer head's size.", valueName: "n")) var to: Int

    func run() throws {
        let client = try options.client()
        let info = try options.info(client)
        let certificate = try options.certificate(info)
        let old = try LogOptions.head(client, origin: info.origin, certificate: certificate, size: from).head
        let new = try LogOptions.head(client, origin: info.origin, certificate: certificate, size: to).head
        let proof = try LogOptions.consistency(client, from: from, to: to)
        do {
            try proof.verify(oldRoot: old.rootHash, newRoot: new.rootHash)
        } catch let error as LogError {
            throw CommandFailure(status: .failure, message: "the head of \(to) leaves does not extend the head of \(from): \(error.codedDescription)")
        }
        print(try JSONOutput.string(ConsistencyView(proof)))
        FileHandle.standardError.write(Data("the tree of \(to) leaves extends the tree of \(from)\n".utf8))
    }
}

/// `signctl records monitor`: a monitor and witness of one department log.
struct RecordsMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch a department log: verify each new tree head against the last one, cosign it, report a fork or a rewrite.",
        discussion: """
            Keeps, in --state, the last tree head it verified and the log's certificate (pinned at first use, or \
            --log-certificate). At each check it fetches the latest head, verifies its signature, and accepts it only \
            when it is the same head, or a larger tree with a consistency proof from the remembered one. With --key it \
            then cosigns the head as a witness (a signed-note line by your key, C2SP tlog-cosignature's idea) and gives \
            the cosignature to the records service, which serves it with the head and puts it in bundles.
            A head that contradicts the remembered one (two heads for one size, a smaller tree, no valid consistency \
            proof) is reported with both heads, which are kept as evidence in --state; the remembered head is kept.
            Exit codes (with --once): 0 the head holds, 1 a contradiction was found, 5 the service cannot be reached.
            """)

    @OptionGroup var options: LogOptions

    @Option(help: ArgumentHelp("The monitor's own state folder (the remembered head, the pinned certificate, evidence).", valueName: "dir"))
    var state: String

    @OptionGroup(title: "Witness (cosign with --key)") var keyOptions: KeyOptions

    @OptionGroup var tokenOptions: TokenOptions

    @Option(help: ArgumentHelp("The witness key's name in cosignatures; default: the certificate's common name, spaces as dashes.", valueName: "name"))
    var name: String?

    @OptionGroup var signctlState: StateOptions

    @Option(
        name: .customLong("api-key-file"),
        help: ArgumentHelp(
            "A file holding the witness's API key (POST /v1/keys by the records service's admin; docs/department.md, API keys for machines), sent with each cosignature; without it, the admin token of --state-dir (the operator on the service's machine).",
            valueName: "file"))
    var apiKeyFile: String?

    @Flag(help: "Check once and exit (0 the head holds, 1 a contradiction).")
    var once = false

    @Option(help: ArgumentHelp("Seconds between checks (without --once).", valueName: "seconds"))
    var interval = 60.0

    func validate() throws {
        guard interval >= 1 else { throw ValidationError("--interval is at least 1 second") }
    }

    func run() throws {
        let witness = try keyOptions.key == nil ? nil : Witness(tokenOptions, keyOptions, name: name)
        defer { witness?.close() }
        while true {
            if once {
                if try !check(witness: witness) { throw ExitCode(1) }
                return
            }
            // Watching: a service that cannot be reached now is said and tried again at the next check.
            do {
                _ = try check(witness: witness)
            } catch let failure as CommandFailure {
                FileHandle.standardError.write(Data("\(UTCTimeText.format(Date())) check failed: \(failure.message)\n".utf8))
            }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// One check; false when a contradiction was found (and reported).
    func check(witness: Witness?) throws -> Bool {
        let client = try options.client()
        let info = try options.info(client)
        let memory: LogMemory
        do { memory = try LogMemory(state: state, origin: info.origin) } catch let error as LogError {
            throw CommandFailure(status: .usage, message: error.reason)
        }
        let certificate = try options.certificate(info, pinned: memory.certificate())
        if memory.certificate() == nil { try memory.pin(certificate: certificate) }
        let (note, head) = try LogOptions.head(client, origin: info.origin, certificate: certificate)
        let remembered = memory.head()
        let comparison = HeadComparison.compare(remembered: remembered?.head, received: head) { from, to in
            try LogOptions.consistency(client, from: from, to: to)
        }
        let now = Date()
        if let problem = comparison.problem, let remembered {
            let report = """
                LOG CONTRADICTION in \(info.origin) at \(UTCTimeText.format(now)): \(problem)
                remembered (verified earlier):
                \(remembered.note)
                received now:
                \(note.encoded)
                """
            let evidence = try memory.keepEvidence(remembered: remembered.note, received: note.encoded, report: report, at: now)
            print(report + "evidence kept in \(evidence)")
            return false
        }
        try memory.remember(head: note.encoded)
        var words: String
        switch comparison {
        case .first: words = "first head seen (trusted on first use)"
        case .unchanged: words = "unchanged"
        default: words = "extends the remembered head of \(remembered?.head.size ?? 0) leaves"
        }
        if let witness {
            let signed = try witness.cosign(note)
            var client: DaemonClient
            if let apiKeyFile {
                guard let key = try? String(contentsOfFile: apiKeyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty
                else { throw CommandFailure(status: .usage, message: "--api-key-file \(apiKeyFile) cannot be read or is empty") }
                client = try DaemonClient(service: options.records, token: key)
                client.scheme = "ApiKey"
            } else {
                client = try DaemonClient(service: options.records, state: signctlState)
            }
            _ = try client.call(
                "POST", "/v1/log/cosignatures",
                body: CosignatureBody(
                    checkpoint: signed.encoded, name: witness.key.name, certificate: PEM.encode(witness.key.certificate.der, label: "CERTIFICATE")),
                as: CosignatureAnswer.self)
            words += "; cosigned as \(witness.key.name)"
        }
        print(
            "\(UTCTimeText.format(now)) \(info.origin): tree head of \(head.size) \(head.size == 1 ? "leaf" : "leaves"), root \(Hex.encode(head.rootHash)): \(words)"
        )
        return true
    }
}

/// The witness's key, logged in once for the monitor's life.
final class Witness {
    let key: X509NoteKey
    private let session: TokenSigningSession

    init(_ tokenOptions: TokenOptions, _ keyOptions: KeyOptions, name: String?) throws {
        let manager = try tokenOptions.manager()
        let now = Date()
        let choice = try KeyChoice(keyOptions, manager: manager, at: now)
        let pin = try choice.readPIN(keyOptions)
        defer { pin.wipe() }
        session = try manager.openSigningSession(choice.certificate.keyURI, pin: pin, options: keyOptions.loginOptions, at: now)
        let certificate = choice.certificate.certificate
        let chosen = name ?? X509NoteKey.defaultName(for: certificate)
        key = try X509NoteKey(name: chosen, certificate: certificate)
    }

    /// The note with this witness's line added.
    func cosign(_ note: SignedNote) throws -> SignedNote {
        try note.adding(try key.sign(note.text) { try session.sign($0).bytes })
    }

    func close() { session.close() }
}
