import Foundation
import SignKit
import Testing
import TestSupport

/// The wrong kind of file given to `verify`, `history verify` and `scan upload`, as a newcomer would give it: each
/// answer is one line that names the file and says what it is or is not, in plain words (no DER tags, no type names),
/// with exit status 3, and the same as one JSON object on stdout under `--json`.
@Suite("Wrong input in plain words", .serialized)
struct WrongInputTests {
    static let trust = Rig.root.appendingPathComponent("TestCerts/trust").path
    static func testCert(_ path: String) -> String { Rig.root.appendingPathComponent("TestCerts/" + path).path }

    /// Words that belong to the code, not to the person reading: DER tags, type and enum-case names, Swift errors.
    static let internalWords = [
        #"0x[0-9a-fA-F]{2}"#, "ContentInfo", "SignedData", "SignerInfo", "tag ", "EndOfCentralDirectory", "Error",
        "Swift", "errno", "claims", #"\b[a-z]+[A-Z][a-zA-Z]+\b"#, "DER",
    ]

    struct Input {
        let name: String
        let path: String
        /// What the one line must say it is (or is not), besides naming the file.
        let says: String
    }

    /// Twenty-odd files of every kind a newcomer has at hand, made with real tools where there is one.
    static func inputs(in folder: TemporaryFolder, bundle: String, signature: String) throws -> [String: Input] {
        var made = [String: Input]()
        func add(_ name: String, _ path: String, _ says: String) { made[name] = Input(name: name, path: path, says: says) }
        add("readme", try folder.file("README.md", Array("# SignService\n\nA newcomer's notes.\n".utf8)).path, "starts with text")
        add("text", try folder.file("note.txt", Array("File DIT-12/3/2026-IT, note 7: approved.\n".utf8)).path, "starts with text")
        // Text that starts with "0" (0x30, a DER SEQUENCE's tag) and a length byte: once answered in DER terms.
        add("zero-text", try folder.file("0o-notes.txt", Array("0o this line starts with a zero\n".utf8)).path, "starts with text")
        add("pdf", try folder.file("scan.pdf", ScanFixtures.pdf(pages: 1)).path, "is a PDF document")
        add("jpeg", try folder.file("photo.jpg", ScanFixtures.image("jpeg", from: ScanFixtures.pdf(pages: 1), in: folder)).path, "is a JPEG image")
        add("png", try folder.file("picture.png", ScanFixtures.image("png", from: ScanFixtures.pdf(pages: 1), in: folder)).path, "is a PNG image")
        add("gif", try folder.file("anim.gif", Array("GIF89a".utf8) + [0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x3B]).path, "is a GIF image")
        let zip = folder.path("photos.zip")
        let zipped = try Command.run(
            "/usr/bin/python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); z.writestr('a.txt', 'hello'); z.close()", zip])
        #expect(zipped.status == 0, "\(zipped.stderr)")
        add("zip", zip, "is a zip archive")
        let bundleBytes = Array(try Data(contentsOf: URL(fileURLWithPath: bundle)))
        add("cut-zip", try folder.file("cut-bundle.zip", Array(bundleBytes.prefix(bundleBytes.count / 2))).path, "is a damaged zip archive")
        add("empty", try folder.file("empty.p7s", []).path, "is empty")
        add("missing", folder.path("nonexistent.p7s"), "No such file or directory")
        try FileManager.default.createDirectory(atPath: folder.path("a-folder"), withIntermediateDirectories: true)
        add("directory", folder.path("a-folder"), "is a folder")
        add("certificate-der", testCert("certs/officer-rsa.der"), "is a certificate")
        add("certificate-pem", testCert("certs/officer-rsa.crt"), "is a certificate")
        add("crl-der", testCert("crl/sub-ca-individual.crl"), "is a certificate revocation list")
        add("crl-pem", testCert("crl/sub-ca-individual.crl.pem"), "is a certificate revocation list")
        add("private-key", testCert("keys/officer-rsa.key"), "is a private key")
        let request = folder.path("request.csr")
        let csr = try Command.run(
            Command.which("openssl") ?? "/usr/bin/openssl", ["req", "-new", "-key", testCert("keys/officer-rsa.key"), "-subj", "/CN=Test", "-out", request])
        #expect(csr.status == 0, "\(csr.stderr)")
        add("csr", request, "is a PEM file holding a certificate request")
        add("bundle", bundle, "is a SignService history bundle")
        add("signature", signature, "is a signature (.p7s)")
        let signatureBytes = Array(try Data(contentsOf: URL(fileURLWithPath: signature)))
        add("cut-signature", try folder.file("cut.p7s", Array(signatureBytes.prefix(signatureBytes.count / 2))).path, "is cut short")
        var random = SystemRandomNumberGenerator()
        add(
            "binary", try folder.file("random.bin", [0x00, 0xFF] + (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }).path,
            "is binary data of an unknown kind")
        add("device", "/dev/null", "a device or pipe")
        return made
    }

    /// Runs `arguments` with `path` in it, plain and with --json, and checks both answers.
    static func expectPlainRefusal(_ command: String, _ input: Input, _ arguments: [String], pin: Bool = false) throws {
        let plain = try Command.run(Rig.signctl, arguments)
        let lines = plain.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        let what = "\(command) \(input.name): \(plain.status) \(plain.stderr)"
        #expect(plain.status == 3, "exit 3: \(what)")
        #expect(lines.count == 1, "one line: \(what)")
        #expect(plain.stdout.isEmpty, "nothing on stdout: \(what) \(plain.stdout)")
        let line = String(lines.first ?? "")
        #expect(line.contains(input.path), "names the file: \(what)")
        #expect(line.contains(input.says), "says \"\(input.says)\": \(what)")
        for pattern in internalWords {
            #expect(line.range(of: pattern, options: .regularExpression) == nil, "no \(pattern): \(what)")
        }
        let json = try Command.run(Rig.signctl, arguments + ["--json"])
        #expect(json.status == 3, "--json exit 3: \(command) \(input.name)")
        #expect(json.stderr.isEmpty, "--json writes nothing on stderr: \(command) \(input.name): \(json.stderr)")
        let object = (try? JSONSerialization.jsonObject(with: json.stdoutData)) as? [String: Any]
        #expect(object?["schema"] as? String == "signservice.error/1", "--json: \(command) \(input.name): \(json.stdout)")
        #expect(object?["exitStatus"] as? Int == 3)
        #expect((object?["error"] as? String).map { line.hasSuffix($0) } == true, "the same words: \(json.stdout) / \(line)")
        #expect(
            (object?["code"] as? String).map { ["wrong-kind", "file-missing", "not-a-file", "file-empty"].contains($0) } == true,
            "a stable code: \(json.stdout)")
    }

    @Test("verify, history verify and scan upload answer 20+ wrong-kind inputs in one plain line each, exit 3, JSON under --json")
    func wrongKinds() async throws {
        let folder = try TemporaryFolder("signservice-wrong-input")
        // A real bundle (the daemon's export of a file's history) and a real signature (openssl cms).
        let bundle = folder.path("history.zip")
        let daemon = try await Rig.exclusive { () throws -> DaemonTests.Daemon in
            let daemon = try DaemonTests.Daemon(role: "records")
            let created = try DaemonTests.signctl(daemon, ["history", "create", "WRONG-1/2026", "--subject", "Wrong inputs", "--department", "IT"])
            #expect(created.status == 0, "\(created.stderr)")
            let exported = try DaemonTests.signctl(daemon, ["history", "export", "WRONG-1/2026", "-o", bundle])
            #expect(exported.status == 0, "\(exported.stderr)")
            return daemon
        }
        defer { _ = daemon.stop() }
        let content = try folder.file("extract.txt", Array("Extract of note 7\n".utf8))
        let signature = folder.path("extract.txt.p7s")
        let signed = try Command.run(
            Command.which("openssl") ?? "/usr/bin/openssl",
            [
                "cms", "-sign", "-binary", "-in", content.path, "-outform", "DER", "-md", "sha256", "-signer", Self.testCert("certs/officer-rsa.crt"),
                "-inkey", Self.testCert("keys/officer-rsa.key"), "-out", signature,
            ])
        #expect(signed.status == 0, "\(signed.stderr)")
        let inputs = try Self.inputs(in: folder, bundle: bundle, signature: signature)
        #expect(inputs.count >= 20)

        // verify: everything but a signature.
        let forVerify = inputs.values.filter { $0.name != "signature" }
        for input in forVerify {
            try Self.expectPlainRefusal("verify", input, ["verify", input.path, "--content", content.path, "--trust", Self.trust, "--offline"])
        }
        // history verify: everything but a bundle.
        let forHistory = inputs.values.filter { $0.name != "bundle" }
        for input in forHistory {
            try Self.expectPlainRefusal("history verify", input, ["history", "verify", input.path, "--trust", Self.trust])
        }
        // scan upload: everything but the scan types (PDF, JPEG, PNG), through the running daemon; the file is judged
        // before the daemon or the token is asked anything.
        let forScan = inputs.values.filter { !["pdf", "jpeg", "png"].contains($0.name) }
        for input in forScan {
            try Self.expectPlainRefusal(
                "scan upload", input,
                [
                    "scan", "upload", "WRONG-1/2026", "--request", "AR-1", "--scan", input.path,
                    "--key", DaemonTests.softKey, "--service", daemon.url, "--state-dir", daemon.state,
                ])
        }
        #expect(forVerify.count >= 20 && forHistory.count >= 20 && forScan.count >= 20)
        // And the right kinds still pass the check: the bundle and the signature are judged (not refused as input).
        let good = try Command.run(Rig.signctl, ["history", "verify", bundle, "--trust", Self.trust])
        #expect([0, 1].contains(good.status) && good.stdout.contains("File WRONG-1/2026"), "\(good.stdout)\(good.stderr)")
        let judged = try Command.run(Rig.signctl, ["verify", signature, "--content", content.path, "--trust", Self.trust, "--offline"])
        #expect([0, 1, 2].contains(judged.status), "a verdict, not an input error: \(judged.status) \(judged.stderr)")
        // The content file's own problems are named too, with the operating system's reason.
        let noContent = try Command.run(Rig.signctl, ["verify", signature, "--content", folder.path("gone.txt"), "--trust", Self.trust])
        #expect(
            noContent.status == 3 && noContent.stderr == "signctl: error: cannot read \(folder.path("gone.txt")): No such file or directory\n",
            "\(noContent.stderr)")
    }

    @Test("the kind of a file is told by its bytes: signatures, certificates, CRLs, zips, text starting with 0, cut-short DER")
    func sniffing() throws {
        let certificate = Array(try Data(contentsOf: URL(fileURLWithPath: Self.testCert("certs/officer-rsa.der"))))
        #expect(InputKind.of(certificate) == .certificate)
        #expect(InputKind.of(Array(try Data(contentsOf: URL(fileURLWithPath: Self.testCert("crl/root.crl"))))) == .crl)
        #expect(InputKind.of(Array(certificate.prefix(100)), fileSize: 100) == .cutShortDER(declared: certificate.count, present: 100))
        #expect(InputKind.of(Array("0o line of text\n".utf8)) == .text)
        #expect(InputKind.of(Array("नमस्ते, यह हिंदी पाठ है\n".utf8)) == .text)
        #expect(InputKind.of([]) == .empty)
        #expect(InputKind.of([0x50, 0x4B, 0x03, 0x04, 0x00]) == .zip)
        #expect(InputKind.of(Array("-----BEGIN PKCS7-----\nMIIB\n".utf8)) == .signature)
        #expect(InputKind.of(Array("%PDF-1.4\n".utf8)) == .pdf)
        // A signedData ContentInfo (the OID 1.2.840.113549.1.7.2) is a signature; another ContentInfo type is not.
        let signedData: [UInt8] = [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0, 0x00]
        #expect(InputKind.of(signedData) == .signature)
        // BER with indefinite lengths (openssl cms -stream) is a signature too.
        #expect(InputKind.of([0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0, 0x80, 0x30, 0x80]) == .signature)
        var data = signedData
        data[12] = 0x01
        #expect(InputKind.of(data) == .der)
    }
}
