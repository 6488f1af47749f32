import ArgumentParser
import Foundation
import SignKit

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scan-upload path for Ministers' hand-signed extracts: approval requests and their QR codes.",
        subcommands: [ScanRequest.self, ScanUploadCommand.self])
}

struct ScanRequest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Issue an approval request for a note going to a Minister and write its QR code to print on the extract.",
        discussion: """
            The daemon records the request (file, note, the extract's SHA-256, the Minister, the PPS/PS allowed to \
            upload the signed scan) and signs its compact form with the document-signer key; the QR code carries that \
            signed form, so the printout can be matched to the request and checked against the service's certificate. \
            --qr writes PNG or SVG by the file's extension; repeat it for both.
            """)

    @OptionGroup var daemon: RecordsOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Option(name: .customLong("note-id"), help: "The note going to the Minister.")
    var noteID: String

    @Option(help: ArgumentHelp("The extract as it will be printed.", valueName: "file"))
    var extract: String

    @Option(help: "The Minister's name, as printed.")
    var minister: String

    @Option(
        help: ArgumentHelp(
            "SHA-256 fingerprint (hex) of a PPS/PS certificate allowed to upload the scan (repeatable; default: the Minister's PPS/PS in the daemon's roles file).",
            valueName: "hex"))
    var pps: [String] = []

    @Option(help: ArgumentHelp("Write the QR code here (.png or .svg; repeatable).", valueName: "file"))
    var qr: [String] = []

    @Flag(help: "Print the request as JSON.")
    var json = false

    func validate() throws {
        if daemon.service == nil { throw ValidationError("approval requests are issued by the daemon: give --service URL") }
        for path in qr where !(path.hasSuffix(".png") || path.hasSuffix(".svg")) {
            throw ValidationError("--qr \(path): the name must end in .png or .svg")
        }
    }

    func run() throws {
        let client = try daemon.client()!
        let digest: [UInt8]
        do {
            digest = try ExtractDigest.sha256(ofFileAt: extract).digest
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        var fingerprints = [[UInt8]]()
        for text in pps {
            guard let fingerprint = Hex.decode(text), fingerprint.count == 32 else {
                throw CommandFailure(status: .usage, message: "--pps \(text) is not a SHA-256 fingerprint (64 hex digits)")
            }
            fingerprints.append(fingerprint)
        }
        let answer = try client.call(
            "POST", "/v1/files/\(DaemonClient.segment(file))/approvals",
            body: ApprovalRequestBody(noteID: noteID, extractHash: digest, minister: minister, pps: fingerprints),
            as: ApprovalRequest.JSON.self)
        let (text, id) = (answer.qr, answer.id)
        let code: QRCode
        do {
            code = try QRCode(text: text)
        } catch {
            throw CommandFailure(status: .environment, message: "\(error)")
        }
        for path in qr {
            let bytes = path.hasSuffix(".png") ? code.png() : Array(code.svg().utf8)
            do {
                try AtomicFile.write(bytes, to: path)
            } catch {
                throw CommandFailure(status: .usage, message: "cannot write \(path): \(error)")
            }
        }
        if json {
            print(try JSONOutput.string(answer))
        } else {
            print(
                "approval request \(id): file \(file), note \(noteID), for \(minister); QR \(code.size)x\(code.size) modules"
                    + (qr.isEmpty ? "" : " written to \(qr.joined(separator: ", "))"))
        }
    }
}

struct ScanUploadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "As the PPS/PS: attest the scan of a hand-signed extract with your DSC and upload it to the daemon.",
        discussion: """
            signctl fetches the approval request, checks the scan locally (type by content, SHA-256) and reads its QR \
            code (zbar; PDF pages through poppler), then asks for your token's PIN and signs the attestation \
            (docs/scans.md) naming the request, the extract, the scan and what the QR code said, bound to the file's \
            current head. The daemon checks all of it again, with your certificate against the request's PPS/PS, \
            and appends a scan-approval entry. A scan whose QR code is another request's is refused here already.
            Exit codes: 0 appended, 1 refused by the daemon or the scan's QR code is another request's, 3 usage.
            """)

    @OptionGroup var daemon: RecordsOptions
    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var keyOptions: KeyOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The approval request id (AR-...), as printed beside the QR code.", valueName: "id"))
    var request: String

    @Option(help: ArgumentHelp("The scan of the hand-signed extract (PDF, JPEG, PNG or TIFF).", valueName: "file"))
    var scan: String

    @Option(
        name: .customLong("chain"), help: ArgumentHelp("PEM file of intermediate CA certificates to embed in the attestation's signature.", valueName: "file"))
    var chainFile: String?

    @Flag(help: "Print the daemon's answer as JSON.")
    var json = false

    func validate() throws {
        if daemon.service == nil { throw ValidationError("scans are uploaded to the daemon: give --service URL") }
        if request.isEmpty || file.isEmpty { throw ValidationError("the file number and --request must not be empty") }
    }

    func run() throws {
        // The scan is checked here before anything else: a wrong file is named without asking the daemon or the token.
        do {
            try InputFile.check(scan, is: .scan)
        } catch {
            throw CommandFailure(error)
        }
        let client = try daemon.client()!
        let base = "/v1/files/\(DaemonClient.segment(file))"
        let approval: ApprovalRequest
        do {
            approval = try client.call("GET", base + "/approvals/\(DaemonClient.segment(request))", as: ApprovalRequest.JSON.self).request()
        } catch let error as ScanError {
            throw CommandFailure(status: .environment, message: "the daemon's approval request \(request) does not read: \(error.description)")
        }
        guard approval.status == .open else {
            throw CommandFailure(status: .failure, message: "approval request \(request) is closed: its scan is already in the history")
        }
        // The scan as the daemon will judge it, its QR code read, and the attestation the PPS/PS signs.
        let now = Date()
        let prepared: (scan: ScanFile, finding: QRFinding, attestation: ScanAttestation)
        do {
            prepared = try ScanAttestation.prepare(scanAt: scan, for: approval, at: now)
        } catch let error as IntakeError {
            throw CommandFailure(status: .usage, message: "\(scan): \(error.description)")
        } catch let error as ScanError where error.code == .qrOtherRequest {
            throw CommandFailure(
                status: .failure,
                message: "the QR code on \(scan) is for another approval request than \(request): is this the scan of another extract? (\(error.reason))")
        }
        let checked = prepared.scan
        if prepared.finding == .notRead {
            FileHandle.standardError.write(
                Data(
                    "note: no QR code of request \(request) could be read on \(scan); the attestation says so, and the daemon accepts it only if its policy allows\n"
                        .utf8))
        }
        let head = try client.call("GET", base, as: FileHistoryAnswer.self)
        guard let headHash = Hex.decode(head.head), headHash.count == 32 else {
            throw CommandFailure(status: .environment, message: "the daemon's answer for file \(file) has no head hash")
        }
        let document = prepared.attestation.bytes
        let signing = ExtractSigningRequest(
            extractDigest: SHA256Hasher.hash(document), extractSize: document.count, key: try keyOptions.requiredKey(), fileNumber: file,
            noteID: approval.noteID, commitment: .proofOfOrigin, previousHash: headHash, chain: try readChain(chainFile),
            login: keyOptions.loginOptions)
        let signature = try ExtractSigner(tokens: try tokenOptions.manager()).sign(signing, pin: keyOptions.pinSource, at: now).signature

        let answer = try client.upload(
            "POST", base + "/approvals/\(DaemonClient.segment(request))/scan", file: scan,
            headers: [
                "Content-Type": checked.type.mediaType,
                ScanUploadHeader.attestation: Data(document).base64EncodedString(),
                ScanUploadHeader.attestationSignature: Data(signature).base64EncodedString(),
                ScanUploadHeader.scanName: URL(fileURLWithPath: scan).lastPathComponent,
            ], as: ScanApprovalAnswer.self, refusal: { $0 >= 500 ? .environment : .failure })
        if json {
            print(try JSONOutput.string(answer))
        } else {
            print(
                "appended entry \(answer.entry.sequence) (scan-approval) to \(file): \(checked.type.mediaType) scan, \(checked.size) bytes, "
                    + "\(checked.pages) page(s), QR \(answer.qr), attested by \(answer.uploadedBy)")
        }
    }
}
