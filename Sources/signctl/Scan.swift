import ArgumentParser
import Foundation
import SignKit

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scan-upload path for Ministers' hand-signed extracts: approval requests and their QR codes.",
        subcommands: [ScanRequest.self])
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

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: ArgumentHelp("The file number.", valueName: "file"))
    var file: String

    @Option(name: .customLong("note-id"), help: "The note going to the Minister.")
    var noteID: String

    @Option(help: ArgumentHelp("The extract as it will be printed.", valueName: "file"))
    var extract: String

    @Option(help: "The Minister's name, as printed.")
    var minister: String

    @Option(help: ArgumentHelp("SHA-256 fingerprint (hex) of a PPS/PS certificate allowed to upload the scan (repeatable).", valueName: "hex"))
    var pps: [String] = []

    @Option(help: ArgumentHelp("Write the QR code here (.png or .svg; repeatable).", valueName: "file"))
    var qr: [String] = []

    @Flag(help: "Print the request as JSON.")
    var json = false

    func validate() throws {
        if daemon.service == nil { throw ValidationError("approval requests are issued by the daemon: give --service URL") }
        if pps.isEmpty { throw ValidationError("name at least one PPS/PS with --pps (their certificate's SHA-256 fingerprint)") }
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
        let answer = try client.json("POST", "/v1/files/\(DaemonClient.segment(file))/approvals", [
            "noteID": noteID, "extractSHA256": Hex.encode(digest), "minister": minister, "pps": pps.map { $0.lowercased() },
        ])
        guard let text = answer["qr"] as? String, let id = answer["id"] as? String else {
            throw CommandFailure(status: .environment, message: "the daemon's answer has no request id or QR text")
        }
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
            print(String(decoding: try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]), as: UTF8.self))
        } else {
            print("approval request \(id): file \(file), note \(noteID), for \(minister); QR \(code.size)x\(code.size) modules"
                  + (qr.isEmpty ? "" : " written to \(qr.joined(separator: ", "))"))
        }
    }
}
