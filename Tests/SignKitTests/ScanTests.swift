import Foundation
import Testing
import TestSupport
@testable import SignKit

@Suite("Approval requests and their QR codes")
struct ScanTests {
    static func documentSigner() throws -> (CheckpointSigner, X509Certificate) {
        let certificate = try Fixture.certificate("docsigner")
        let key = try Fixture.key("docsigner")
        return (CheckpointSigner(certificate: certificate) { try key.sign($0) }, certificate)
    }

    static let pps = SHA256Hasher.hash(Array("a PPS certificate".utf8))

    @Test("the QR text is signed by the document signer: it reads back whole, and any change or another certificate is refused")
    func signedText() throws {
        let (signer, certificate) = try Self.documentSigner()
        let extract = SHA256Hasher.hash(Array("extract N-3".utf8))
        let request = try ApprovalRequest.issue(
            fileNumber: "GAD-11011/3/2026-ADMIN", noteID: "N-3", extractHash: extract,
            minister: "Shri R. K. Singh", authorisedPPS: [Self.pps], signer: signer, at: TestTime.now)
        #expect(request.id.hasPrefix("AR-") && request.status == .open)
        let printed = try ApprovalRequest.read(qrText: request.qrText, signer: certificate)
        #expect(printed.id == request.id && printed.fileNumber == "GAD-11011/3/2026-ADMIN" && printed.noteID == "N-3")
        #expect(printed.extractHash == extract && printed.minister == "Shri R. K. Singh" && printed.issuedAt == request.issuedAt)
        #expect(printed.ppsPrefixes == [String(Hex.encode(Self.pps).prefix(16))])

        // One character of the note changed: the signature no longer covers it.
        let altered = request.qrText.replacingOccurrences(of: "|N-3|", with: "|N-4|")
        #expect(altered != request.qrText)
        #expect { try ApprovalRequest.read(qrText: altered, signer: certificate) } throws: { ($0 as? ScanError)?.code == .qrNotValid }
        // Checked against a certificate that is not the service's.
        #expect { try ApprovalRequest.read(qrText: request.qrText, signer: try Fixture.certificate("officer-rsa")) } throws: {
            ($0 as? ScanError)?.code == .qrNotValid
        }
        #expect { try ApprovalRequest.read(qrText: "https://example.org/", signer: certificate) } throws: { ($0 as? ScanError)?.code == .qrNotValid }
        // Fields that would break the compact form are refused when issuing.
        #expect {
            try ApprovalRequest.issue(
                fileNumber: "F-1", noteID: "N|1", extractHash: extract, minister: "M", authorisedPPS: [Self.pps], signer: signer, at: TestTime.now)
        } throws: {
            ($0 as? ScanError)?.code == .badRequest
        }
        #expect {
            try ApprovalRequest.issue(
                fileNumber: "F-1", noteID: "N-1", extractHash: extract, minister: "M", authorisedPPS: [], signer: signer, at: TestTime.now)
        } throws: {
            ($0 as? ScanError)?.code == .badRequest
        }
    }

    @Test("the PNG is read back by zbar (an independent decoder) to the exact text; the SVG draws the same modules")
    func images() throws {
        let (signer, _) = try Self.documentSigner()
        let request = try ApprovalRequest.issue(
            fileNumber: "GAD-11011/3/2026-ADMIN", noteID: "N-3", extractHash: Self.pps,
            minister: "Shri R. K. Singh", authorisedPPS: [Self.pps], signer: signer, at: TestTime.now)
        let code = try QRCode(text: request.qrText)
        let folder = try TemporaryFolder("signservice-qr")
        let png = try folder.file("qr.png", code.png())
        let read = try Command.run("/usr/bin/zbarimg", ["--raw", "-q", png.path])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout.trimmingCharacters(in: .newlines) == request.qrText)
        // A damaged image is not read as some other text.
        var damaged = code.png()
        damaged.replaceSubrange(40..<min(damaged.count, 4000), with: [UInt8](repeating: 0xFF, count: min(damaged.count, 4000) - 40))
        let unreadable = try Command.run("/usr/bin/zbarimg", ["--raw", "-q", try folder.file("damaged.png", damaged).path])
        #expect(unreadable.status != 0 || unreadable.stdout.trimmingCharacters(in: .newlines) != request.qrText)

        let svg = code.svg()
        let squares = svg.components(separatedBy: "h1v1h-1z").count - 1
        #expect(squares == code.modules.filter { $0 }.count && squares > 0)
        let parsed = try Command.run(
            "/usr/bin/python3", ["-c", "import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())"], stdin: Data(svg.utf8))
        #expect(parsed.status == 0, "the SVG is well-formed XML: \(parsed.stderr)")
    }

    @Test("the QR code is read back from a scanned JPEG and a scanned PDF of the printed extract; another request's code is refused, none is not-read")
    func readFromScans() throws {
        let (signer, certificate) = try Self.documentSigner()
        let folder = try TemporaryFolder("signservice-qr-scan")
        func issue(_ note: String) throws -> ApprovalRequest {
            try ApprovalRequest.issue(
                fileNumber: "GAD-11011/3/2026-ADMIN", noteID: note, extractHash: SHA256Hasher.hash(Array(note.utf8)),
                minister: "Shri R. K. Singh", authorisedPPS: [Self.pps], signer: signer, at: TestTime.now)
        }
        let request = try issue("N-4"), other = try issue("N-5")
        let printed = ScanFixtures.printedExtract(
            lines: ["File GAD-11011/3/2026-ADMIN, note N-4", "Approved as proposed."], qr: try QRCode(text: request.qrText))
        let scanned = try ScanFixtures.scan(printed, in: folder)
        for (name, bytes) in [("scan.jpg", scanned.jpeg), ("scan.pdf", scanned.pdf)] {
            let file = try ScanIntake.examine(path: try folder.file(name, bytes).path)
            let texts = try ScanQR.texts(in: file.path, type: file.type, pages: file.pages)
            #expect(texts == [request.qrText], "\(name): \(texts)")
            #expect(try QRFinding.judge(texts, request: request, signer: certificate) == .matched)
            #expect { try QRFinding.judge(texts, request: other, signer: certificate) } throws: { ($0 as? ScanError)?.code == .qrOtherRequest }
            // Checked against another certificate the code proves nothing: not read.
            #expect(try QRFinding.judge(texts, request: request, signer: try Fixture.certificate("officer-rsa")) == .notRead)
        }
        let blank = try ScanFixtures.scan(ScanFixtures.pdf(pages: 1), in: folder)
        let file = try ScanIntake.examine(path: try folder.file("blank.jpg", blank.jpeg).path)
        #expect(try ScanQR.texts(in: file.path, type: .jpeg, pages: 1).isEmpty)
    }

    @Test("the attestation reads back only in its exact form and must name the request it answers")
    func attestation() throws {
        let (signer, _) = try Self.documentSigner()
        let request = try ApprovalRequest.issue(
            fileNumber: "GAD-11011/3/2026-ADMIN", noteID: "N-4", extractHash: Self.pps,
            minister: "Shri R. K. Singh", authorisedPPS: [Self.pps], signer: signer, at: TestTime.now)
        let attestation = ScanAttestation(
            request: request, scanHash: SHA256Hasher.hash([1, 2, 3]), scanType: .pdf, scanBytes: 3, qr: .matched, at: TestTime.now)
        let read = try ScanAttestation(bytes: attestation.bytes)
        #expect(read == attestation)
        try read.check(against: request)
        let text = String(decoding: attestation.bytes, as: UTF8.self)
        #expect(text.contains("approved by Shri R. K. Singh by hand signature on the paper"))
        for (from, to) in [
            ("qr: matched", "qr: maybe"), ("scan-bytes: 3", "scan-bytes: -3"), ("note: N-4\n", ""),
            ("on the paper", "digitally"), ("scan-type: application/pdf", "scan-type: text/html"),
        ] {
            #expect(throws: ScanError.self, "\(from) -> \(to)") { try ScanAttestation(bytes: Array(text.replacingOccurrences(of: from, with: to).utf8)) }
        }
        var other = request
        other.id = "AR-OTHER"
        #expect { try read.check(against: other) } throws: { ($0 as? ScanError)?.code == .attestationMismatch }
    }
}
