import ArgumentParser
import Foundation
import SignKit

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a detached CAdES signature (.p7s) over a note-sheet extract with a DSC token key.",
        discussion: """
            The extract's exact bytes are hashed as they stream from disk (any size). The signature is a DER CMS \
            SignedData without eContent, carrying the signer's certificate (and --chain), and the signed \
            attributes contentType, messageDigest, signingTime, signingCertificateV2, CMSAlgorithmProtection, \
            commitment-type-indication (proof of origin, or of approval with --approval) and the e-Office context \
            (file number, note id, previous history entry hash, origin; docs/formats.md). With --tsa, an RFC 3161 \
            time-stamp over the signature value is added as an unsigned attribute (CAdES-T); if the TSA fails, \
            nothing is written.
            Check it with: openssl cms -verify -binary -inform DER -in EXTRACT.p7s -content EXTRACT -CAfile ROOT.pem
            """
    )

    @Argument(help: ArgumentHelp("The extract to sign.", valueName: "extract"))
    var extract: String

    @OptionGroup var tokenOptions: TokenOptions

    @OptionGroup var keyOptions: KeyOptions

    @Option(name: .customLong("file-number"), help: "The e-Office file number the extract belongs to.")
    var fileNumber: String

    @Option(name: .customLong("note-id"), help: "The note (or extract) id within the file.")
    var noteID: String

    @Flag(help: "Sign as an approval (commitment proof of approval) rather than as the note's author (proof of origin).")
    var approval = false

    @Option(name: .customLong("previous-hash"), help: ArgumentHelp("Hex SHA-256 of the file history's head entry.", valueName: "hex"))
    var previousHash: String?

    @Option(help: ArgumentHelp("The requesting origin to record (the daemon sets this for web pages).", valueName: "origin"))
    var origin: String?

    @Option(name: .customLong("chain"), help: ArgumentHelp("PEM file of intermediate CA certificates to embed.", valueName: "file"))
    var chainFile: String?

    @Option(help: ArgumentHelp("RFC 3161 time-stamping authority: the signature is time-stamped (CAdES-T).", valueName: "url"))
    var tsa: String?

    @Option(name: .customLong("tsa-timeout"), help: ArgumentHelp("Seconds to wait for the time-stamping authority.", valueName: "seconds"))
    var tsaTimeout: Double = 10

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the signature (default: EXTRACT.p7s).", valueName: "file"))
    var output: String?

    @OptionGroup var daemon: DaemonOptions

    @Option(
        help: ArgumentHelp(
            "Then append the signature to the file's history at this records service (as the person logged in with `signctl records login`, else its operator); without --previous-hash the file's head is read from it first.",
            valueName: "url"))
    var records: String?

    @Flag(
        name: .customLong("time-stamp"), inversion: .prefixedNo,
        help: "With --service: time-stamp with the daemon's authority (the default when it has one), or not (--no-time-stamp).")
    var timeStamp: Bool?

    func validate() throws {
        if fileNumber.isEmpty || noteID.isEmpty { throw ValidationError("--file-number and --note-id must not be empty") }
        if let tsa, URL(string: tsa)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--tsa must be an http or https URL")
        }
        if tsaTimeout <= 0 || tsaTimeout > 120 { throw ValidationError("--tsa-timeout must be between 0 and 120 seconds") }
        if let previousHash, Hex.decode(previousHash)?.count != 32 {
            throw ValidationError("--previous-hash must be 64 hex digits (a SHA-256)")
        }
        if daemon.service != nil {
            if chainFile != nil || origin != nil || tsa != nil {
                throw ValidationError(
                    "with --service the daemon embeds its own chain, records no origin for local programs and time-stamps "
                        + "with its configured authority (--time-stamp); drop --chain, --origin and --tsa")
            }
        } else if timeStamp != nil {
            throw ValidationError("--time-stamp and --no-time-stamp are for --service; sign locally with --tsa URL")
        }
    }

    func run() throws {
        var signing = self
        var recordsClient: DaemonClient? = nil
        if let records {
            let client = try DaemonClient(service: records, state: daemon.state, session: true)
            recordsClient = client
            if signing.previousHash == nil {
                let history = try client.call("GET", "/v1/files/\(DaemonClient.segment(fileNumber))", as: FileHistoryAnswer.self)
                signing.previousHash = history.head
            }
        }
        let written = try signing.sign()
        if let recordsClient { try signing.append(written, to: recordsClient) }
    }

    /// The signature appended to the file's history at the records service: the entry it made is printed.
    func append(_ signature: String, to client: DaemonClient) throws {
        let content: Data, signed: Data
        do {
            (content, signed) = (try Data(contentsOf: URL(fileURLWithPath: extract)), try Data(contentsOf: URL(fileURLWithPath: signature)))
        } catch {
            throw CommandFailure(status: .environment, message: "cannot read back \(extract) or \(signature): \(error.localizedDescription)")
        }
        let body = AppendRequestBody(kind: approval ? .approval : .note, noteID: noteID, content: Array(content), signature: Array(signed))
        let answer = try client.call(
            "POST", "/v1/files/\(DaemonClient.segment(fileNumber))/entries", body: body, as: AppendAnswer.self,
            refusal: { [403, 409, 422].contains($0) ? .failure : DaemonClient.defaultRefusal($0) })
        print("appended entry \(answer.entry.sequence) (\(answer.entry.kind), note \(noteID)) to \(fileNumber) at \(client.base): \(answer.entry.hash)")
    }

    /// Signs (through the agent or on the token here) and returns where the signature was written.
    func sign() throws -> String {
        if let client = try daemon.client() { return try signThroughDaemon(client) }
        // Everything that can fail without the token fails first: the extract, the chain, the key.
        let digest: (digest: [UInt8], size: UInt64)
        do {
            digest = try ExtractDigest.sha256(ofFileAt: extract)
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        let request = ExtractSigningRequest(
            extractDigest: digest.digest, extractSize: Int(digest.size), key: try keyOptions.requiredKey(), fileNumber: fileNumber,
            noteID: noteID, commitment: approval ? .proofOfApproval : .proofOfOrigin, previousHash: previousHash.flatMap(Hex.decode),
            origin: origin, chain: try readChain(chainFile),
            timeStampAuthority: tsa.flatMap(URL.init(string:)).map { TimeStampAuthority(url: $0, timeout: tsaTimeout) },
            login: keyOptions.loginOptions)
        let signed = try ExtractSigner(tokens: try tokenOptions.manager()).sign(request, pin: keyOptions.pinSource, at: Date())
        let destination = output ?? extract + ".p7s"
        try AtomicFile.write(signed.signature, to: destination)
        FileHandle.standardError.write(
            Data(
                ("signed \(extract) (\(digest.size) bytes, SHA-256 \(Hex.encode(digest.digest))) as \"\(signed.signerName)\" "
                    + "(\(signed.commitment.rawValue)" + (tsa.map { ", time-stamped by \($0)" } ?? "") + "); wrote \(destination)\n").utf8))
        return destination
    }

    /// The daemon resolves the key, logs in and signs; the PIN (when the daemon takes it in the request) is read here
    /// as for a local signature and sent over loopback with the admin token.
    func signThroughDaemon(_ client: DaemonClient) throws -> String {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: extract))
        } catch {
            throw CommandFailure(status: .usage, message: "cannot read the extract \(extract): \(error.localizedDescription)")
        }
        let key = try keyOptions.requiredKey()
        let version = try client.call("GET", "/v1/version", as: VersionAnswer.self)
        var request = SignRequestBody(
            extract: Array(bytes), fileNumber: fileNumber, noteID: noteID,
            commitment: approval ? .proofOfApproval : .proofOfOrigin, key: key.description,
            previousHash: previousHash.flatMap(Hex.decode), timeStamp: timeStamp)
        if version.pinEntry == PINEntryMode.request.rawValue {
            let pin = try keyOptions.pinSource.pin {
                SigningPrompt(tokenLabel: key.token ?? key.description, signerName: key.description, pinState: PINState(), request: nil)
            }
            defer { pin.wipe() }
            // JSON carries text: the PIN lives in this String until the request is sent (docs/daemon.md "PINs").
            request.pin = try pin.withBytes { String(decoding: $0, as: UTF8.self) }
        }
        // A refused PIN, a missing or busy token are token errors (exit 4), as when signing locally.
        let (signature, headers) = try client.sendReadingHeaders(
            "POST", "/v1/sign", body: Array(try JSONOutput.encoder(pretty: false).encode(request)),
            refusal: { [403, 404, 503].contains($0) ? .token : DaemonClient.defaultRefusal($0) })
        let destination = output ?? extract + ".p7s"
        try AtomicFile.write(signature, to: destination)
        let stamp = headers[SignAnswerHeader.timeStamp.lowercased()].flatMap { $0 == "none" ? nil : $0 }
        FileHandle.standardError.write(
            Data(
                ("signed \(extract) (\(bytes.count) bytes) through the daemon at \(client.base), "
                    + (stamp.map { "time-stamped by \($0)" } ?? "not time-stamped") + "; wrote \(destination)\n").utf8))
        return destination
    }
}
