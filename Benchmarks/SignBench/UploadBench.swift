import ArgumentParser
import Foundation
import SignKit
import TestSupport

/// A large scan through the upload endpoint beside sha256sum on the same file, and the daemon's peak memory.
struct UploadRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "A 1 GiB scan through POST /v1/files/{file}/approvals/{request}/scan beside sha256sum on the same file; the daemon's peak memory.",
        discussion: """
            Starts the SignService binary next to this benchmark with the rig's document signer (scripts/rig.sh up) and \
            a scan limit above the file's size. Each round issues an approval request, prints its QR code on an \
            extract, "scans" it with pdftoppm into a scanner-style PDF and grows that PDF to the size asked by an \
            incremental update holding one unreferenced stream (as a scanner's large embedded image would be). The \
            PPS attestation is signed in process with TestCerts' PPS key. The upload (curl -T, streamed from disk) is \
            timed from the first byte to the daemon's 201, so it includes the hashing, the type and limit checks, \
            the QR reading, the checks of the attestation and the append; sha256sum on the same file is timed right \
            before it. The ratio is of the medians (sha256sum time / upload time: the upload's speed as a share of \
            sha256sum's). Peak memory is the daemon's VmHWM from /proc after all rounds, and again after the file's bundle
            (every scan in it) is exported.
            """)

    @Option(name: .customLong("size-mib"), help: "Size of the scan in MiB.")
    var sizeMiB = 1024

    @Option(help: "Rounds (one upload and one sha256sum each).")
    var rounds = 3

    @Option(help: "The SignService binary (default: next to this benchmark).")
    var daemon: String?

    @Option(name: .customLong("test-certs"), help: "The TestCerts folder.")
    var testCerts = FileManager.default.currentDirectoryPath + "/TestCerts"

    func run() throws {
        try Bench.loadRigEnvironment()
        let binary = daemon ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("SignService").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no SignService at \(binary): swift build -c release --product SignService, or pass --daemon")
        }
        let rig = Bench.rigFolder()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signbench-upload-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let size = sizeMiB << 20
        let running = try RunningDaemon(
            binary: binary, folder: folder + "/daemon", testCerts: testCerts,
            extra: [
                "documentSigner": [
                    "key": "pkcs11:token=SignService%20DocSigner;id=%10;type=private", "pinFile": rig + "/softhsm.pin",
                    "chainFile": testCerts + "/ca/chain-docsigner.pem",
                ],
                "scans": ["maximumBytes": size + (16 << 20)],
            ])
        defer { running.stop() }
        let startRSS = Self.memory(of: running.pid, "VmRSS")
        let ppsCertificate = try CertificateFolder.load(file: "\(testCerts)/certs/pps.crt")[0]
        let chain = try CertificateFolder.load(file: "\(testCerts)/ca/chain-individual.pem")
        let ppsKey = try PrivateKey(pemFile: "\(testCerts)/keys/pps.key")
        let number = "BENCH-1/2026", base = "/v1/files/BENCH-1%2F2026"
        _ = try call(running, "POST", "/v1/files", json: ["number": number, "subject": "Upload benchmark", "department": "IT"])
        print("upload: \(sizeMiB) MiB scanned PDF, \(rounds) rounds, daemon \(binary), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("round  sha256sum s  upload s   sha256sum MiB/s  upload MiB/s  ratio")
        var hashTimes = [Double](), uploadTimes = [Double]()
        let scanFolder = try TemporaryFolder("signbench-scan")
        for round in 1...rounds {
            // A request, its QR printed and scanned, the scan grown to the size asked.
            let note = "N-\(round)"
            let extractHash = SHA256Hasher.hash(Array("extract \(note)".utf8))
            let issued = try call(
                running, "POST", base + "/approvals",
                json: [
                    "noteID": note, "extractSHA256": Hex.encode(extractHash), "minister": "Shri Bench", "pps": [Hex.encode(ppsCertificate.sha256Fingerprint)],
                ])
            let request = try JSONDecoder().decode(ApprovalRequest.JSON.self, from: JSONSerialization.data(withJSONObject: issued)).request()
            let (id, qr) = (request.id, request.qrText)
            let scanned = try ScanFixtures.scan(ScanFixtures.printedExtract(lines: ["Benchmark \(note)"], qr: try QRCode(text: qr)), in: scanFolder)
            let path = folder + "/scan-\(round).pdf"
            let scanHash = try Self.grow(scanned.pdf, to: size, at: path)

            let head = try call(running, "GET", base)["head"] as? String ?? ""
            let attestation = ScanAttestation(request: request, scanHash: scanHash, scanType: .pdf, scanBytes: size, qr: .matched, at: Date()).bytes
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: number, noteID: note, previousEntryHash: Hex.decode(head)),
                commitment: .proofOfOrigin, signingTime: Date(), chain: chain)
            let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(attestation), certificate: ppsCertificate, parameters: parameters) {
                TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: try ppsKey.sign($0))
            }

            let hashStart = ContinuousClock.now
            let hashed = try Command.run("/usr/bin/sha256sum", [path])
            let hashTime = (ContinuousClock.now - hashStart).seconds
            guard hashed.status == 0, hashed.stdout.hasPrefix(Hex.encode(scanHash)) else { throw ValidationError("sha256sum disagrees: \(hashed.stdout)") }

            let uploadStart = ContinuousClock.now
            let uploaded = try Command.run(
                "/usr/bin/curl",
                [
                    "-s", "-w", "\n%{http_code}", "-X", "POST", "-T", path,
                    "-H", "Authorization: Bearer \(running.adminToken)", "-H", "Content-Type: application/pdf",
                    "-H", "SignService-Attestation: \(Data(attestation).base64EncodedString())",
                    "-H", "SignService-Attestation-Signature: \(Data(signature).base64EncodedString())",
                    running.url + base + "/approvals/\(id)/scan",
                ])
            let uploadTime = (ContinuousClock.now - uploadStart).seconds
            guard uploaded.stdout.hasSuffix("\n201") else {
                throw ValidationError("the upload was not accepted: \(uploaded.stdout)\n\(running.log.suffix(2000))")
            }
            try? FileManager.default.removeItem(atPath: path)
            hashTimes.append(hashTime)
            uploadTimes.append(uploadTime)
            let mib = Double(sizeMiB)
            print(
                String(
                    format: "%5d  %11.2f  %8.2f   %15.0f  %12.0f  %5.2f", round, hashTime, uploadTime, mib / hashTime, mib / uploadTime, hashTime / uploadTime))
        }
        let hashMedian = Bench.median(hashTimes), uploadMedian = Bench.median(uploadTimes)
        let peak = Self.memory(of: running.pid, "VmHWM")
        print(
            String(
                format: "median: sha256sum %.2f s (%.0f MiB/s), upload %.2f s (%.0f MiB/s); ratio %.2f (target at least 0.5)",
                hashMedian, Double(sizeMiB) / hashMedian, uploadMedian, Double(sizeMiB) / uploadMedian, hashMedian / uploadMedian))
        print("daemon memory: \(startRSS / 1024) MiB resident at start, peak \(peak / 1024) MiB over the run (target under 100 MiB)")

        // The file's bundle now holds every scan: it is written from the scans' files, not from memory.
        let exportStart = ContinuousClock.now
        let bundle = folder + "/bundle.zip"
        let exported = try Command.run(
            "/usr/bin/curl",
            [
                "-s", "-o", bundle, "-w", "%{http_code}", "-H", "Authorization: Bearer \(running.adminToken)",
                running.url + base + "/bundle",
            ])
        let exportTime = (ContinuousClock.now - exportStart).seconds
        let bundleSize = (try? FileManager.default.attributesOfItem(atPath: bundle)[.size] as? Int) ?? 0
        guard exported.stdout == "200" else { throw ValidationError("the export failed: \(exported.stdout)") }
        try? FileManager.default.removeItem(atPath: bundle)
        print(
            String(
                format: "export: %d MiB bundle in %.1f s; daemon peak memory after it %d MiB", bundleSize >> 20, exportTime,
                Self.memory(of: running.pid, "VmHWM") / 1024))
    }

    /// The scanned PDF followed by an incremental update adding one unreferenced stream object, so that the file is
    /// `size` bytes and still a valid PDF; written in 8 MiB pieces. Returns its SHA-256.
    static func grow(_ pdf: [UInt8], to size: Int, at path: String) throws -> [UInt8] {
        let text = String(decoding: pdf.suffix(64), as: UTF8.self)
        guard let range = text.range(of: #"startxref\s+(\d+)"#, options: .regularExpression),
            let previous = Int(text[range].split(whereSeparator: \.isWhitespace).last ?? ""),
            let objects = String(decoding: pdf, as: UTF8.self).range(of: #"/Size (\d+)"#, options: .regularExpression)
                .flatMap({ Int(String(decoding: pdf, as: UTF8.self)[$0].split(separator: " ")[1]) })
        else {
            throw ValidationError("the scanned PDF has no startxref")
        }
        let number = objects
        func tail(streamStart: Int, length: Int) -> [UInt8] {
            let xref = streamStart + length + "\nendstream\nendobj\n".utf8.count
            let objectOffset = pdf.count
            return Array(
                ("\nendstream\nendobj\nxref\n\(number) 1\n" + String(format: "%010d 00000 n \n", objectOffset)
                    + "trailer\n<< /Size \(number + 1) /Root 1 0 R /Prev \(previous) >>\nstartxref\n\(xref)\n%%EOF\n").utf8)
        }
        // The header's length depends on the stream's length; both settle in one pass at this size.
        var length = size - pdf.count
        var header: [UInt8] = []
        for _ in 0..<3 {
            header = Array("\(number) 0 obj\n<< /Length \(length) >>\nstream\n".utf8)
            length = size - pdf.count - header.count - tail(streamStart: pdf.count + header.count, length: length).count
        }
        let end = tail(streamStart: pdf.count + header.count, length: length)
        guard length > 0, pdf.count + header.count + length + end.count == size else { throw ValidationError("cannot make a \(size)-byte scan") }
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let hasher = SHA256Hasher()
        func write(_ bytes: [UInt8]) throws {
            hasher.update(bytes)
            try handle.write(contentsOf: bytes)
        }
        try write(pdf + header)
        var piece = [UInt8](repeating: 0x20, count: 8 << 20)
        var left = length
        while left > 0 {
            if left < piece.count { piece = Array(piece.prefix(left)) }
            // Varied bytes, so that nothing along the way can shortcut a run of one value.
            for index in stride(from: 0, to: piece.count, by: 4096) { piece[index] = UInt8(truncatingIfNeeded: left >> 12 ^ index) }
            try write(piece)
            left -= piece.count
        }
        try write(end)
        return hasher.finalize()
    }

    /// A /proc/PID/status figure in KiB.
    static func memory(of pid: Int32, _ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
    }

    func call(_ running: RunningDaemon, _ method: String, _ path: String, json: [String: Any]? = nil) throws -> [String: Any] {
        var arguments = ["-s", "-X", method, "-H", "Authorization: Bearer \(running.adminToken)"]
        if let json {
            arguments += [
                "-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self),
            ]
        }
        let result = try Command.run("/usr/bin/curl", arguments + [running.url + path])
        guard let object = (try? JSONSerialization.jsonObject(with: result.stdoutData)) as? [String: Any] else {
            throw ValidationError("\(method) \(path): \(result.stdout)")
        }
        if let error = object["error"] as? String { throw ValidationError("\(method) \(path): \(error)") }
        return object
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
