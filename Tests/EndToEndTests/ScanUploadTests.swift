import Foundation
import Testing
import TestSupport
import SignKit

/// The scan-upload path end to end: a request and its QR code from the daemon, the QR printed on an extract that is
/// "scanned" by poppler into a JPEG and a scanner-style PDF, uploaded by the PPS through signctl and the daemon, the
/// bundle verified offline with the entry named for what it is. Then every refusal, each leaving nothing behind.
@Suite("Scan upload through the daemon", .serialized)
struct ScanUploadTests {
    static let ppsKey = "pkcs11:token=SignService%20Test;id=%06;type=private"
    static let minister = "Shri Th. Biswajit Singh"
    static let number = "IT-2001/7/2026-MIN"
    static let path = "/v1/files/IT-2001%2F7%2F2026-MIN"

    /// The rig's PPS certificate is the Minister's PPS in the roles file; the officer's is not.
    static func rolesFile(in folder: TemporaryFolder) throws -> String {
        let pps = SHA256Hasher.hash(Array(try Data(contentsOf: Rig.root.appendingPathComponent("TestCerts/certs/pps.der"))))
        let roles: [String: Any] = ["ministers": [["name": minister, "pps": [["name": "Thoudam Ibomcha Singh", "certificateSHA256": Hex.encode(pps)]]]]]
        let file = folder.path("roles.json")
        try JSONSerialization.data(withJSONObject: roles).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// What the store holds for readers: the number of entries, and the state of each request.
    static func stored(_ daemon: DaemonTests.Daemon, auth: [String], requests: [String]) throws -> (Int, [String]) {
        let file = try DaemonTests.request(daemon, "GET", path, headers: auth)
        let states = try requests.map { try DaemonTests.request(daemon, "GET", path + "/approvals/\($0)", headers: auth).json["status"] as? String ?? "?" }
        return (file.json["size"] as? Int ?? -1, states)
    }

    static func partials(_ daemon: DaemonTests.Daemon) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: daemon.state + "/history/incoming")) ?? []
    }

    /// A request issued through signctl for a note, with its QR code scanned off a printed extract.
    struct Issued {
        let id: String
        let qr: String
        let jpeg: String
        let pdf: String
    }

    static func issue(_ daemon: DaemonTests.Daemon, note: String, folder: TemporaryFolder) throws -> Issued {
        let extract = try folder.file("\(note).txt", Array("File \(number), note \(note): the proposal is placed for the Minister's approval.\n".utf8))
        let made = try DaemonTests.signctl(
            daemon,
            [
                "scan", "request", number, "--note-id", note, "--extract", extract.path, "--minister", minister,
                "--qr", folder.path("\(note)-qr.png"), "--json",
            ])
        #expect(made.status == 0, "\(made.stderr)")
        let answer = try #require((try? JSONSerialization.jsonObject(with: made.stdoutData)) as? [String: Any])
        let id = try #require(answer["id"] as? String), qr = try #require(answer["qr"] as? String)
        let printed = ScanFixtures.printedExtract(
            lines: ["File \(number)", "Note \(note): the proposal is placed for approval.", "Request \(id)"],
            qr: try QRCode(text: qr))
        let scanned = try ScanFixtures.scan(printed, in: folder)
        return Issued(id: id, qr: qr, jpeg: try folder.file("\(note)-scan.jpg", scanned.jpeg).path, pdf: try folder.file("\(note)-scan.pdf", scanned.pdf).path)
    }

    /// An attestation made by the test (as a hostile or mistaken client could), signed with `key` through signctl
    /// over the file's current head: the headers of an upload.
    static func attest(
        _ daemon: DaemonTests.Daemon, request: ApprovalRequest, scan: String, qr: QRFinding, key: String, head: String,
        folder: TemporaryFolder, scanBytes: [UInt8]? = nil
    ) throws -> [String] {
        let bytes = try scanBytes ?? Array(Data(contentsOf: URL(fileURLWithPath: scan)))
        let type: ScanType = bytes.starts(with: Array("%PDF".utf8)) ? .pdf : bytes.starts(with: [0xFF, 0xD8]) ? .jpeg : .png
        let attestation = ScanAttestation(
            request: request, scanHash: SHA256Hasher.hash(bytes), scanType: type, scanBytes: max(1, bytes.count), qr: qr, at: TestTime.now)
        let document = try folder.file("attestation-\(UUID().uuidString).txt", attestation.bytes)
        let signed = try Command.run(
            Rig.signctl,
            [
                "sign", document.path, "--key", key, "--file-number", number, "--note-id", request.noteID,
                "--previous-hash", head, "-o", document.path + ".p7s", "--pin-fd", "0",
            ],
            stdin: Data((try Rig.secretStrings()[1] + "\n").utf8))
        #expect(signed.status == 0, "\(signed.stderr)")
        let signature = try Data(contentsOf: URL(fileURLWithPath: document.path + ".p7s"))
        return [
            "SignService-Attestation: \(Data(attestation.bytes).base64EncodedString())",
            "SignService-Attestation-Signature: \(signature.base64EncodedString())",
        ]
    }

    static func approval(_ daemon: DaemonTests.Daemon, _ id: String, auth: [String]) throws -> ApprovalRequest {
        let answer = try DaemonTests.request(daemon, "GET", path + "/approvals/\(id)", headers: auth)
        return try JSONDecoder().decode(ApprovalRequest.JSON.self, from: answer.body).request()
    }

    @Test(
        "request -> QR printed, scanned to PDF and JPEG -> uploaded by the PPS -> the bundle verifies and names the entry as a hand approval attested by the PPS; every refusal leaves nothing"
    )
    func endToEnd() async throws {
        try await Rig.exclusive {
            let folder = try TemporaryFolder("signservice-scan-e2e")
            let daemon = try DaemonTests.Daemon(
                role: "records", scans: ["rolesFile": try Self.rolesFile(in: folder), "maximumBytes": 3 << 20, "maximumPixels": 20_000_000])
            defer { _ = daemon.stop() }
            // The records service's operator (its admin token, from its own machine) files and uploads here; who may
            // do what by role is RecordsServiceTests' subject.
            let auth = ["Authorization: Bearer \(daemon.adminToken)"]
            let created = try DaemonTests.request(
                daemon, "POST", "/v1/files", headers: auth,
                json: ["number": Self.number, "subject": "Data centre upgrade", "department": "IT"])
            #expect(created.status == 201, "\(created.text)")

            // Two notes go to the Minister; the request names the PPS from the roles file.
            let first = try Self.issue(daemon, note: "N-4", folder: folder)
            let second = try Self.issue(daemon, note: "N-5", folder: folder)
            let third = try Self.issue(daemon, note: "N-6", folder: folder)

            // --- Refusals, each with its reason; after all of them nothing is stored and no partial file remains.
            let head0 = String(repeating: "0", count: 64)
            let request1 = try Self.approval(daemon, first.id, auth: auth)
            let upload = Self.path + "/approvals/\(first.id)/scan"
            func refused(_ headers: [String], body: String, _ status: Int, _ reason: String, _ what: String, to target: String? = nil) throws {
                let answer = try DaemonTests.request(daemon, "POST", target ?? upload, headers: auth + headers, bodyFile: body)
                #expect(answer.status == status && answer.text.contains(reason), "\(what): \(answer.status) \(answer.text)")
            }
            // The scan of another note's extract, with an attestation that claims the QR matched.
            try refused(
                try Self.attest(daemon, request: request1, scan: second.pdf, qr: .matched, key: Self.ppsKey, head: head0, folder: folder),
                body: second.pdf, 422, "qr-other-request", "another request's QR")
            // Attested by an officer who is not the Minister's PPS.
            try refused(
                try Self.attest(daemon, request: request1, scan: first.pdf, qr: .matched, key: DaemonTests.softKey, head: head0, folder: folder),
                body: first.pdf, 403, "unauthorised-uploader", "unauthorised uploader")
            // An attestation over the PDF, with the JPEG uploaded.
            let overPDF = try Self.attest(daemon, request: request1, scan: first.pdf, qr: .matched, key: Self.ppsKey, head: head0, folder: folder)
            try refused(overPDF, body: first.jpeg, 422, "over another scan", "attestation over another scan")
            // Empty, cut short, not an allowed type, a decompression bomb, a path for a name.
            try refused(overPDF, body: try folder.file("empty.pdf", []).path, 422, "empty", "empty upload")
            let pdfBytes = Array(try Data(contentsOf: URL(fileURLWithPath: first.pdf)))
            try refused(overPDF, body: try folder.file("cut.pdf", Array(pdfBytes.prefix(pdfBytes.count / 2))).path, 422, "truncated", "truncated scan")
            try refused(overPDF, body: try folder.file("page.html", Array("<html><script>alert(1)</script></html>".utf8)).path, 415, "not-allowed-type", "HTML")
            try refused(
                overPDF, body: try folder.file("bomb.png", ScanFixtures.pngHeaderOnly(width: 60_000, height: 60_000)).path, 422, "too-many-pixels", "bomb")
            try refused(overPDF + ["SignService-Scan-Name: ../../etc/passwd"], body: first.pdf, 400, "bad-name", "path in the name")
            // Larger than the 3 MiB limit: stopped while streaming, at the first chunk past the limit.
            let big = try folder.file("big.pdf", pdfBytes + [UInt8](repeating: 0x20, count: 8 << 20))
            let oversized = try DaemonTests.request(daemon, "POST", upload, headers: auth + overPDF, bodyFile: big.path)
            #expect(oversized.status == 413 && oversized.text.contains("too-large"), "\(oversized.status) \(oversized.text)")
            let stoppedAt = oversized.text.range(of: #"stopped at (\d+) bytes"#, options: .regularExpression).map {
                oversized.text[$0].split(separator: " ")[2]
            }
            #expect(
                stoppedAt.flatMap { Int($0) }.map { $0 > 3 << 20 && $0 < (3 << 20) + (1 << 20) } == true, "stopped at \(stoppedAt ?? "?") of \(8 << 20) bytes")
            var (size, states) = try Self.stored(daemon, auth: auth, requests: [first.id, second.id, third.id])
            #expect(size == 0 && states == ["open", "open", "open"], "nothing stored: \(size) \(states)")
            #expect(Self.partials(daemon).isEmpty, "\(Self.partials(daemon))")
            // signctl itself refuses to attest a scan that carries another request's QR code.
            let wrongScan = try DaemonTests.signctl(
                daemon, ["scan", "upload", Self.number, "--request", first.id, "--scan", second.jpeg, "--key", Self.ppsKey],
                pin: try Rig.secretStrings()[1])
            #expect(wrongScan.status == 1 && wrongScan.stderr.contains("is for approval request \(second.id)"), "\(wrongScan.stderr)")

            // --- The PPS uploads the scanned PDF for N-4 and the scanned JPEG for N-5.
            let viaPDF = try DaemonTests.signctl(
                daemon, ["scan", "upload", Self.number, "--request", first.id, "--scan", first.pdf, "--key", Self.ppsKey],
                pin: try Rig.secretStrings()[1])
            #expect(
                viaPDF.status == 0 && viaPDF.stdout.contains("appended entry 1 (scan-approval)") && viaPDF.stdout.contains("QR matched"),
                "\(viaPDF.stdout)\(viaPDF.stderr)")
            let viaJPEG = try DaemonTests.signctl(
                daemon, ["scan", "upload", Self.number, "--request", second.id, "--scan", second.jpeg, "--key", Self.ppsKey],
                pin: try Rig.secretStrings()[1])
            #expect(
                viaJPEG.status == 0 && viaJPEG.stdout.contains("appended entry 2 (scan-approval)") && viaJPEG.stdout.contains("image/jpeg"),
                "\(viaJPEG.stdout)\(viaJPEG.stderr)")

            // A second upload for a closed request: refused by the daemon, nothing added.
            let head2 = try #require(try DaemonTests.request(daemon, "GET", Self.path, headers: auth).json["head"] as? String)
            var closed1 = request1
            closed1.status = .closed
            try refused(
                try Self.attest(daemon, request: closed1, scan: first.pdf, qr: .matched, key: Self.ppsKey, head: head2, folder: folder),
                body: first.pdf, 409, "request-closed", "second upload")
            // A scan without a readable QR code: refused under the default policy.
            let blank = try folder.file("blank.jpg", try ScanFixtures.scan(ScanFixtures.pdf(pages: 1), in: folder).jpeg)
            let request3 = try Self.approval(daemon, third.id, auth: auth)
            try refused(
                try Self.attest(daemon, request: request3, scan: blank.path, qr: .notRead, key: Self.ppsKey, head: head2, folder: folder),
                body: blank.path, 422, "qr-required", "no QR", to: Self.path + "/approvals/\(third.id)/scan")
            (size, states) = try Self.stored(daemon, auth: auth, requests: [first.id, second.id, third.id])
            #expect(size == 2 && states == ["closed", "closed", "open"], "\(size) \(states)")
            #expect(Self.partials(daemon).isEmpty)

            // --- The bundle verifies offline and says what the entries are.
            let exported = try DaemonTests.signctl(daemon, ["history", "export", Self.number, "-o", folder.path("bundle.zip")])
            #expect(exported.status == 0, "\(exported.stderr)")
            let checked = try Command.run(
                Rig.signctl,
                [
                    "history", "verify", folder.path("bundle.zip"), "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path,
                    "--html", folder.path("report.html"),
                ])
            #expect(checked.status == 0 && checked.stdout.contains("Valid history: 2 entries"), "\(checked.stdout)\(checked.stderr)")
            let named = "approved by hand on the printed extract by \(Self.minister); scan uploaded and attested by Thoudam Ibomcha Singh with DSC "
            #expect(checked.stdout.components(separatedBy: named).count == 3, "both entries named as hand approvals: \(checked.stdout)")
            #expect(checked.stdout.contains("the QR code on the scan matched approval request \(first.id)"))
            #expect(checked.stdout.contains("not a digital signature of \(Self.minister)"))
            let html = try String(contentsOfFile: folder.path("report.html"), encoding: .utf8)
            #expect(html.contains(named) && html.contains("matched approval request \(second.id)"))
            // The scan itself is in the bundle, byte for byte.
            let listing = try Command.run("/usr/bin/unzip", ["-l", folder.path("bundle.zip")])
            let pdfHash = Hex.encode(SHA256Hasher.hash(pdfBytes))
            #expect(listing.stdout.contains("attachments/\(pdfHash)"), "\(listing.stdout)")
            // A scan changed inside the bundle is named.
            let script = """
                import sys, zipfile
                source, target, name = sys.argv[1:4]
                with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
                    for info in zin.infolist():
                        data = zin.read(info.filename)
                        if info.filename == name:
                            data = data[:-20] + bytes(20)
                        zout.writestr(info.filename, data)
                """
            let edited = try Command.run("/usr/bin/python3", ["-c", script, folder.path("bundle.zip"), folder.path("edited.zip"), "attachments/\(pdfHash)"])
            #expect(edited.status == 0, "\(edited.stderr)")
            let caught = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("edited.zip"), "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path])
            #expect(caught.status == 1 && caught.stdout.contains("the scan of entry 1 is not the one recorded"), "\(caught.stdout)")
            // Every upload and refusal is in the audit log.
            let audit = try String(contentsOfFile: daemon.state + "/audit.log", encoding: .utf8)
            #expect(audit.components(separatedBy: "\"scan-upload\"").count - 1 == 13, "\(audit)")
            // The daily report through the daemon counts the two scan approvals apart from signatures.
            let daily = try DaemonTests.signctl(
                daemon, ["report", "daily", "--from", "2000-01-01", "--to", "2100-12-31", "--format", "csv", "--time-zone", "UTC"])
            #expect(daily.status == 0 && daily.stdout.contains(",1,2,0,0,2,0\r\n"), "\(daily.stdout)\(daily.stderr)")
            let openapi = try DaemonTests.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "every answer as docs/openapi.yaml describes it: \(openapi.stdout)\(openapi.stderr)")
        }
    }

    @Test(
        "kill -9 during an upload leaves no entry and no file readers see; the restarted daemon removes the partial file; a scan without a QR code is accepted when the policy says so, and the entry says so"
    )
    func killedMidUpload() async throws {
        try await Rig.exclusive {
            let folder = try TemporaryFolder("signservice-scan-kill")
            let scans: [String: Any] = ["rolesFile": try Self.rolesFile(in: folder), "acceptWithoutQR": true]
            var daemon = try DaemonTests.Daemon(role: "records", scans: scans)
            let state = daemon.folder
            // The records service's operator (its admin token, from its own machine) files and uploads here; who may
            // do what by role is RecordsServiceTests' subject.
            let auth = ["Authorization: Bearer \(daemon.adminToken)"]
            _ = try DaemonTests.request(daemon, "POST", "/v1/files", headers: auth, json: ["number": Self.number, "subject": "Kill test", "department": "IT"])
            let issued = try Self.issue(daemon, note: "N-9", folder: folder)
            let request = try Self.approval(daemon, issued.id, auth: auth)
            let blank = try folder.file("blank.jpg", try ScanFixtures.scan(ScanFixtures.pdf(pages: 1), in: folder).jpeg)
            let headers = try Self.attest(
                daemon, request: request, scan: blank.path, qr: .notRead, key: Self.ppsKey, head: String(repeating: "0", count: 64), folder: folder)

            // A 6 MB upload sent at 256 KB/s; the daemon is killed once part of it is on disk.
            let slow = try folder.file("slow.jpg", Array(try Data(contentsOf: URL(fileURLWithPath: blank.path))) + [UInt8](repeating: 0, count: 6 << 20))
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments =
                ["-s", "-o", "/dev/null", "--limit-rate", "256k", "-X", "POST", "--data-binary", "@" + slow.path]
                + (auth + headers).flatMap { ["-H", $0] } + [daemon.url + Self.path + "/approvals/\(issued.id)/scan"]
            try curl.run()
            var partial: String?
            for _ in 0..<100 where partial == nil {
                usleep(100_000)
                partial = Self.partials(daemon).first { name in
                    ((try? FileManager.default.attributesOfItem(atPath: daemon.state + "/history/incoming/" + name)[.size] as? Int) ?? 0) > 100_000
                }
            }
            #expect(partial != nil, "part of the upload reached the disk before the kill")
            kill(daemon.pid, SIGKILL)
            curl.waitUntilExit()
            #expect(Self.partials(daemon) == partial.map { [$0] }, "the partial file is there after the kill, named .part")

            daemon = try DaemonTests.Daemon(role: "records", scans: scans, folder: state)
            defer { _ = daemon.stop() }
            #expect(Self.partials(daemon).isEmpty, "the restarted daemon removed the partial upload")
            let (size, states) = try Self.stored(daemon, auth: auth, requests: [issued.id])
            #expect(size == 0 && states == ["open"], "no entry from the killed upload: \(size) \(states)")

            // After the restart the same scan goes in; with no QR code readable, the entry says so.
            let answer = try DaemonTests.request(daemon, "POST", Self.path + "/approvals/\(issued.id)/scan", headers: auth + headers, bodyFile: blank.path)
            #expect(answer.status == 201 && answer.json["qr"] as? String == "not-read", "\(answer.status) \(answer.text)")
            let exported = try DaemonTests.signctl(daemon, ["history", "export", Self.number, "-o", folder.path("bundle.zip")])
            #expect(exported.status == 0, "\(exported.stderr)")
            let checked = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("bundle.zip"), "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path])
            #expect(checked.status == 0 && checked.stdout.contains("no QR code could be read on the scan; accepted under the policy"), "\(checked.stdout)")
        }
    }
}
