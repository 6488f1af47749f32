import Foundation
import SignKit
import Testing
import TestSupport

/// The agent against hostile pages and other local users (issue 20, docs/daemon.md "Threat model"): each test
/// drives the real daemon binary over HTTP and fails on an agent without the measure it names.
@Suite("Agent hardening", .serialized)
struct HardeningTests {
    typealias Daemon = DaemonTests.Daemon
    static let softKey = "pkcs11:token=SignService%20Test;id=%01;type=private"

    static func request(
        _ daemon: Daemon, _ method: String, _ path: String, headers: [String] = [], body: (any Encodable)? = nil, json: [String: Any]? = nil
    ) throws -> DaemonTests.Answer {
        try DaemonTests.request(daemon, method, path, headers: headers, body: body, json: json, record: false)
    }

    /// The agent's audit log, one parsed record a line.
    static func auditRecords(_ daemon: Daemon) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: daemon.state + "/audit.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func auditVerifies(_ daemon: Daemon) throws -> Command.Result {
        try Command.run(Rig.signctl, ["audit", "verify", daemon.state + "/audit.log"])
    }

    // MARK: Verification

    @Test("POST /v1/verify answers paired pages and local programs with the admin token only")
    func verifyNeedsPairing() throws {
        try Rig.require()
        let daemon = try Daemon(documentSigner: false)
        defer { _ = daemon.stop() }
        let extract = Array("File V-1/2026, note N-1: for verification.\n".utf8)
        let signed = try Self.request(
            daemon, "POST", "/v1/sign", headers: ["Authorization: Bearer \(daemon.adminToken)"],
            body: DaemonTests.signBody(key: Self.softKey, pin: try Rig.secretStrings()[1], note: "N-1", extract: extract))
        #expect(signed.status == 200, "\(signed.text)")
        let body = VerifyRequestBody(signature: Array(signed.body), content: extract)
        #expect(try Self.request(daemon, "POST", "/v1/verify", headers: ["Origin: \(DaemonTests.origin)"], body: body).status == 401, "an unpaired page")
        #expect(try Self.request(daemon, "POST", "/v1/verify", body: body).status == 401, "a local program without the admin token")
        let token = try DaemonTests.pair(daemon)
        let paired = try Self.request(
            daemon, "POST", "/v1/verify", headers: ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"], body: body)
        #expect(paired.status == 200 && (paired.json["verdict"] as? [String: Any])?["indication"] as? String == "TOTAL-PASSED", "\(paired.text)")
        #expect(try Self.request(daemon, "POST", "/v1/verify", headers: ["Authorization: Bearer \(daemon.adminToken)"], body: body).status == 200)
    }

    /// A web server standing for an internal one (an admin panel on loopback): it answers /internal-secret with a
    /// marker, /redirect with a 302 to it, and logs every request it gets.
    final class InternalServer {
        let process: Process
        let port: Int
        let log: String

        init(folder: TemporaryFolder) throws {
            log = folder.path("internal-requests.log")
            let script = """
                import http.server, sys
                class Handler(http.server.BaseHTTPRequestHandler):
                    def do_GET(self):
                        with open(sys.argv[1], "a") as log: log.write(self.path + "\\n")
                        if self.path == "/redirect":
                            self.send_response(302); self.send_header("Location", "/internal-secret"); self.end_headers(); return
                        body = b"SECRET-INTERNAL-MARKER admin panel"
                        self.send_response(200 if self.path == "/internal-secret" else 404)
                        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                    def log_message(self, *arguments): pass
                server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """
            let file = try folder.file("internal-server.py", Array(script.utf8))
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [file.path, log]
            // Its output goes nowhere the test runner reads: a server left holding the runner's stderr keeps
            // `swift test` waiting for the end of its output.
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            port = try #require(Int(line.trimmingCharacters(in: .whitespacesAndNewlines)), "the internal server did not start: \(line)")
        }

        var requests: [String] { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A signature whose signer certificate names `caIssuers` and whose issuer is nowhere at hand: verifying it
    /// makes the verifier want to fetch that URL.
    static func signatureNaming(caIssuers: String, in folder: TemporaryFolder) throws -> (signature: [UInt8], content: [UInt8]) {
        let pki = try TestPKI()
        let root = try pki.root("Hostile Root")
        let leaf = try pki.issue(
            "Hostile Signer", by: root, extensions: ["keyUsage=critical,digitalSignature,nonRepudiation", "authorityInfoAccess=caIssuers;URI:\(caIssuers)"],
            crl: false)
        let content = Array("a note whose signer points the verifier at an internal server\n".utf8)
        let contentFile = try folder.file("hostile.txt", content), signatureFile = folder.path("hostile.p7s")
        let signed = try Command.run(
            "/usr/bin/openssl",
            [
                "cms", "-sign", "-binary", "-in", contentFile.path, "-signer", leaf.certificatePath, "-inkey", leaf.keyPath, "-outform", "DER",
                "-out", signatureFile,
            ])
        #expect(signed.status == 0, "\(signed.stderr)")
        return (Array(try Data(contentsOf: URL(fileURLWithPath: signatureFile))), content)
    }

    @Test("verification never reaches loopback unless configured, never follows a redirect, and never puts a fetched body in a report")
    func verificationFetchesAreGuarded() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-ssrf")
        let insider = try InternalServer(folder: folder)
        defer { insider.stop() }
        let admin = { (daemon: Daemon) in ["Authorization: Bearer \(daemon.adminToken)", "Accept: text/plain"] }

        // The default: a certificate naming a loopback URL makes no request there, and the report says why.
        let guarded = try Daemon(documentSigner: false, extra: ["fetchFromPrivateAddresses": false])
        defer { _ = guarded.stop() }
        let secret = try Self.signatureNaming(caIssuers: "http://127.0.0.1:\(insider.port)/internal-secret", in: folder)
        let refused = try Self.request(
            guarded, "POST", "/v1/verify", headers: admin(guarded), body: VerifyRequestBody(signature: secret.signature, content: secret.content))
        #expect(refused.status == 200, "\(refused.text)")
        #expect(insider.requests.isEmpty, "the agent reached the insider server: \(insider.requests)")
        #expect(refused.text.contains("internal address"), "the report says the URL was not fetched: \(refused.text)")
        #expect(!refused.text.contains("SECRET-INTERNAL-MARKER"))

        // Allowed (an intranet CA): the fetch happens, but what came back is never repeated, and a redirect is not followed.
        let open = try Daemon(documentSigner: false)
        defer { _ = open.stop() }
        let fetched = try Self.request(
            open, "POST", "/v1/verify", headers: admin(open), body: VerifyRequestBody(signature: secret.signature, content: secret.content))
        #expect(insider.requests == ["/internal-secret"], "\(insider.requests)")
        #expect(!fetched.text.contains("SECRET-INTERNAL-MARKER"), "a fetched body is in the report: \(fetched.text)")
        let redirecting = try Self.signatureNaming(caIssuers: "http://127.0.0.1:\(insider.port)/redirect", in: folder)
        let redirected = try Self.request(
            open, "POST", "/v1/verify", headers: admin(open), body: VerifyRequestBody(signature: redirecting.signature, content: redirecting.content))
        #expect(insider.requests == ["/internal-secret", "/redirect"], "the redirect was followed: \(insider.requests)")
        #expect(redirected.text.contains("HTTP 302"), "\(redirected.text)")
        #expect(!redirected.text.contains("SECRET-INTERNAL-MARKER"))
    }

    @Test("an internal address is recognised in every form: RFC 1918, loopback, link-local, CGNAT, IPv6 and IPv4-mapped")
    func internalAddresses() {
        func address(_ text: String) -> GuardedFetcher.Address {
            var v4 = in_addr(), v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 { return .init(bytes: withUnsafeBytes(of: v4) { Array($0) }) }
            _ = inet_pton(AF_INET6, text, &v6)
            return .init(bytes: withUnsafeBytes(of: v6) { Array($0) })
        }
        for inside in [
            "127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1",
            "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1",
        ] {
            #expect(GuardedFetcher.isInternal(address(inside)), "\(inside)")
        }
        for outside in ["8.8.8.8", "164.100.1.1", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            #expect(!GuardedFetcher.isInternal(address(outside)), "\(outside)")
        }
    }

    // MARK: The audit log

    @Test("a flood of refused requests writes a bounded number of short records and one summary, and the log verifies")
    func refusalsAreSummarised() throws {
        try Rig.require()
        let daemon = try Daemon(documentSigner: false)
        defer { _ = daemon.stop() }
        let before = try FileManager.default.attributesOfItem(atPath: daemon.state + "/audit.log")[.size] as? Int ?? 0
        // 300 requests with an 8 KiB path from an origin that is not allowed, through one curl (keep-alive).
        let path = "/" + String(repeating: "x", count: 8192)
        let config = daemon.folder.path("flood.curl")
        let lines = (0..<300).map { _ in "url = \"\(daemon.url)\(path)\"\noutput = \"/dev/null\"\n" }
        try Data(("header = \"Origin: https://evil.example\"\n" + lines.joined()).utf8).write(to: URL(fileURLWithPath: config))
        _ = try Command.run("/usr/bin/curl", ["-s", "-K", config])
        let refused = Self.auditRecords(daemon).filter { $0["action"] as? String == "refused" }
        // Sources/SignService/Shared/Refusals.swift: 20 records in full per 10-second window.
        #expect((1...20).contains(refused.count), "\(refused.count) refusals written one by one: \(Self.auditRecords(daemon).suffix(3))")
        // The window ends: one summary counts the rest.
        Thread.sleep(forTimeInterval: 11.5)
        let summaries = Self.auditRecords(daemon).filter { $0["action"] as? String == "refused-summary" }
        let detail = summaries.first?["detail"] as? String ?? ""
        #expect(summaries.count == 1 && detail.hasPrefix("\(300 - refused.count) more refusals"), "\(summaries)")
        #expect(detail.contains("https://evil.example"), "\(detail)")
        let after = try FileManager.default.attributesOfItem(atPath: daemon.state + "/audit.log")[.size] as? Int ?? 0
        #expect(after - before < 16 * 1024, "300 refusals of 8 KiB paths wrote \(after - before) bytes")
        #expect(try Self.auditVerifies(daemon).status == 0)
    }

    @Test("an audit write the disk cuts short is cut back to the last whole record; a torn line from a crash is repaired at start")
    func auditLogStaysWhole() throws {
        try Rig.require()
        // A 24 KiB file size limit (dash counts 512-byte blocks): the log fills up under sign requests refused for a
        // malformed note id (each one audited).
        let daemon = try Daemon(documentSigner: false, extra: ["logLevel": "notice"], shellPrefix: "ulimit -f 48;")
        let admin = ["Authorization: Bearer \(daemon.adminToken)"]
        func refusedSign(_ index: Int) throws -> DaemonTests.Answer {
            try Self.request(
                daemon, "POST", "/v1/sign", headers: admin,
                body: SignRequestBody(
                    extract: [1], fileNumber: "F-\(index)", noteID: "N\u{7}\(index)", commitment: .proofOfOrigin, key: Self.softKey, pin: "x"))
        }
        var statuses = Set<Int>()
        for index in 0..<400 where !statuses.contains(500) { statuses.insert(try refusedSign(index).status) }
        #expect(statuses == [400, 500], "the log never filled: \(statuses)")
        let answer = try refusedSign(1000)
        #expect(answer.status == 500 && answer.text.contains("audit log cannot be written"), "\(answer.text)")
        let full = try Data(contentsOf: URL(fileURLWithPath: daemon.state + "/audit.log"))
        #expect(full.last == UInt8(ascii: "\n"), "the log ends in a torn line")
        #expect(try Self.auditVerifies(daemon).status == 0)
        _ = daemon.stop()

        // A crash in the middle of a write (simulated: a partial record appended), then a start.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: daemon.state + "/audit.log"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"action":"sign","detail":"cut sh"#.utf8))
        try handle.close()
        #expect(try Self.auditVerifies(daemon).status != 0, "the torn line breaks the chain")
        let again = try Daemon(documentSigner: false, folder: daemon.folder)
        defer { _ = again.stop() }
        #expect(try Self.auditVerifies(again).status == 0, "\(again.log)")
        #expect(Self.auditRecords(again).contains { $0["action"] as? String == "audit-repaired" })
    }

    // MARK: The state folder

    @Test("a state file that is a symbolic link, open to others or another user's stops the agent, naming it")
    func stateFilesChecked() throws {
        try Rig.require()
        let first = try Daemon(documentSigner: false)
        _ = first.stop()
        let pairings = first.state + "/pairings.json"
        try Data("[]".utf8).write(to: URL(fileURLWithPath: pairings))
        func start() throws -> String {
            // Bounded: an agent that wrongly starts is stopped after 10 s, and the test fails.
            let result = try Command.run(
                "/usr/bin/timeout",
                [
                    "10", URL(fileURLWithPath: Rig.signctl).deletingLastPathComponent().appendingPathComponent("SignService").path, "agent", "--config",
                    first.folder.path("config.json"),
                ])
            #expect(result.status != 0)
            return result.stdout + result.stderr
        }
        chmod(pairings, 0o644)
        #expect(try start().contains("pairings.json is open to other users"))
        chmod(pairings, 0o600)
        chown(pairings, 65534, 65534)
        #expect(try start().contains("pairings.json belongs to user 65534"))
        try FileManager.default.removeItem(atPath: pairings)
        try FileManager.default.createSymbolicLink(atPath: pairings, withDestinationPath: first.folder.path("elsewhere.json"))
        #expect(try start().contains("pairings.json is a symbolic link"))
        try FileManager.default.removeItem(atPath: pairings)
        chmod(first.state, 0o777)
        #expect(try start().contains("is open to other users"))
        chmod(first.state, 0o700)
        let fine = try Daemon(documentSigner: false, folder: first.folder)
        #expect(fine.stop())
    }

    @Test("the agent is not dumpable: another process of the same user cannot read its memory")
    func notDumpable() throws {
        try Rig.require()
        // Run as nobody, where /proc/PID/ of a process that is not dumpable belongs to root instead of its user.
        let folder = try TemporaryFolder("signservice-nobody")
        chown(folder.url.path, 65534, 65534)
        let daemon = try Daemon(
            documentSigner: false, folder: folder, extra: ["stateDirectory": folder.path("state-nobody")],
            shellPrefix: "exec setpriv --reuid=65534 --regid=65534 --clear-groups")
        defer { _ = daemon.stop() }
        var info = stat()
        #expect(stat("/proc/\(daemon.pid)/mem", &info) == 0)
        #expect(info.st_uid == 0, "/proc/\(daemon.pid)/mem belongs to \(info.st_uid): the process is dumpable")
    }

    // MARK: Pairing

    @Test("pair approve shows the page's origin and asks; pairing tokens expire; pair list shows their last use")
    func pairingApprovalAndExpiry() throws {
        try Rig.require()
        let daemon = try Daemon(documentSigner: false)
        defer { _ = daemon.stop() }
        let asked = try Self.request(daemon, "POST", "/v1/pairings", headers: ["Origin: \(DaemonTests.origin)"]).decode(PairingRequestAnswer.self)
        let refused = try Command.run(Rig.signctl, ["pair", "approve", asked.code, "--service", daemon.url, "--state-dir", daemon.state])
        #expect(refused.status != 0 && refused.stdout.contains("The web page \(DaemonTests.origin) asks to pair"), "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("confirm on a terminal, or give --yes"))
        #expect(try Self.request(daemon, "GET", "/v1/pairings/\(asked.id)", headers: ["Origin: \(DaemonTests.origin)"]).json["status"] as? String == "pending")
        let approved = try Command.run(Rig.signctl, ["pair", "approve", asked.code, "--yes", "--service", daemon.url, "--state-dir", daemon.state])
        #expect(approved.status == 0 && approved.stdout.contains("paired \(DaemonTests.origin)"), "\(approved.stderr)")
        let token = try #require(
            try Self.request(daemon, "GET", "/v1/pairings/\(asked.id)", headers: ["Origin: \(DaemonTests.origin)"]).decode(PairingPollAnswer.self).token)
        let auth = ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"]
        #expect(try Self.request(daemon, "GET", "/v1/tokens", headers: auth).status == 200)
        let listed = try Command.run(Rig.signctl, ["pair", "list", "--service", daemon.url, "--state-dir", daemon.state])
        #expect(listed.stdout.contains("until ") && !listed.stdout.contains("last used never"), "\(listed.stdout)")
        _ = daemon.stop()

        // The same token after its expiry (the pairings file as a month later would find it).
        let file = daemon.state + "/pairings.json"
        var pairings = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])
        pairings[0]["expires"] = "2020-01-01T00:00:00Z"
        try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: pairings)), to: file, mode: 0o600)
        let later = try Daemon(documentSigner: false, folder: daemon.folder)
        defer { _ = later.stop() }
        #expect(try Self.request(later, "GET", "/v1/tokens", headers: auth).status == 401, "an expired pairing token still works")
    }

    // MARK: Connections and bodies

    @Test("idle connections are closed, at most maximumConnections are served, event streams are capped, small routes take small bodies")
    func connectionLimits() throws {
        try Rig.require()
        let daemon = try Daemon(documentSigner: false, extra: ["idleTimeoutSeconds": 2, "maximumConnections": 4, "maximumEventStreams": 2])
        defer { _ = daemon.stop() }
        let port = try #require(daemon.url.split(separator: ":").last.map(String.init))
        // Four idle connections take every slot: a fifth request waits; once the idle ones are closed it is answered.
        let script = """
            import socket, subprocess, time
            held = [socket.create_connection(("127.0.0.1", \(port))) for _ in range(4)]
            time.sleep(0.3)
            waited = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://127.0.0.1:\(port)/v1/health"],
                                    capture_output=True, text=True).stdout
            time.sleep(2.5)
            closed = sum(1 for s in held if s.recv(1) == b"")
            answered = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://127.0.0.1:\(port)/v1/health"],
                                      capture_output=True, text=True).stdout
            print(waited, closed, answered)
            """
        let result = try Command.run("/usr/bin/python3", ["-c", script])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "000 4 200", "waited, closed, answered: \(result.stdout)\(result.stderr)")

        let token = try DaemonTests.pair(daemon)
        let auth = ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"]
        let streams = try Command.run(
            "/bin/sh",
            [
                "-c",
                "stream() { curl -s -N -H 'Origin: \(DaemonTests.origin)' -H 'Authorization: Bearer \(token)' \(daemon.url)/v1/events > /dev/null 2>&1; }; "
                    + "stream & first=$!; stream & second=$!; sleep 1; "
                    + "curl -s -o /dev/null -w '%{http_code}' -H 'Origin: \(DaemonTests.origin)' -H 'Authorization: Bearer \(token)' \(daemon.url)/v1/events --max-time 2; "
                    + "pkill -P $first; pkill -P $second; kill $first $second 2>/dev/null; true",
            ])
        #expect(streams.stdout.hasPrefix("503"), "a third event stream: \(streams.stdout)")

        let approval = try Self.request(
            daemon, "POST", "/v1/admin/pairings/approve", headers: ["Authorization: Bearer \(daemon.adminToken)"],
            json: ["code": String(repeating: "1", count: 2048)])
        #expect(approval.status == 413, "\(approval.status) \(approval.text)")
        let login = try Self.request(
            daemon, "POST", "/v1/login/sign", headers: auth, json: ["challenge": String(repeating: "A", count: 10000), "key": Self.softKey])
        #expect(login.status == 413, "\(login.status) \(login.text)")
    }

    // MARK: PINs off the page

    /// A pinentry for the agent: Tests/Browser/test_pinentry.py answering with the PIN in the rig's `pinFile` (so
    /// the test writes no PIN) and logging each dialog to `log`.
    static func pinentry(in folder: TemporaryFolder, pinFile: String) throws -> (program: String, log: String) {
        let control = folder.path("pinentry")
        try FileManager.default.createDirectory(atPath: control, withIntermediateDirectories: true)
        _ = try folder.file("pinentry/answer", Array("file \(Rig.folder.appendingPathComponent(pinFile).path)\n".utf8))
        let script = Rig.root.appendingPathComponent("Tests/Browser/test_pinentry.py").path
        let program = try folder.file("pinentry-test", Array("#!/bin/sh\nexec /usr/bin/python3 -B '\(script)' '\(control)'\n".utf8))
        chmod(program.path, 0o700)
        return (program.path, control + "/dialog.log")
    }

    static func dialogs(_ log: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test("the PIN is asked in a native dialog by default, showing origin, file, note, digest, holder and token; a PIN in the body is refused")
    func pinentryByDefault() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-pinentry")
        let softPIN = try Rig.secretStrings()[1]
        let entry = try Self.pinentry(in: folder, pinFile: "softhsm.pin")
        // Only the program is configured: pinEntry is the default's.
        let daemon = try Daemon(documentSigner: false, extra: ["pinEntry": NSNull(), "pinentryProgram": entry.program])
        defer { _ = daemon.stop() }
        #expect(try Self.request(daemon, "GET", "/v1/version").json["pinEntry"] as? String == "pinentry")
        let token = try DaemonTests.pair(daemon)
        let auth = ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"]
        let extract = Array("File E-9/2026, note N-5: approved for issue.\n".utf8)
        let withPIN = try Self.request(
            daemon, "POST", "/v1/sign", headers: auth,
            body: SignRequestBody(extract: extract, fileNumber: "E-9/2026", noteID: "N-5", commitment: .proofOfOrigin, key: Self.softKey, pin: softPIN))
        #expect(withPIN.status == 400 && withPIN.text.contains("do not send it in the request"), "\(withPIN.text)")
        #expect(Self.dialogs(entry.log).isEmpty, "no dialog for a refused request")

        let signed = try Self.request(
            daemon, "POST", "/v1/sign", headers: auth,
            body: SignRequestBody(extract: extract, fileNumber: "E-9/2026", noteID: "N-5", commitment: .proofOfOrigin, key: Self.softKey))
        #expect(signed.status == 200, "\(signed.text)")
        let extractFile = try folder.file("n5.txt", extract), signatureFile = try folder.file("n5.p7s", signed.body)
        #expect(try SigningTests.opensslVerifies(signatureFile.path, content: extractFile.path))
        let dialog = try #require(Self.dialogs(entry.log).first)
        let text = dialog["description"] as? String ?? ""
        let digest = Hex.encode(SHA256Hasher.hash(extract).prefix(8))
        for shown in [DaemonTests.origin, "File E-9/2026", "note N-5", digest, "Anita Sharma", "token \"SignService Test\""] {
            #expect(text.contains(shown), "the dialog does not show \(shown): \(text)")
        }

        // What the page chose is shown in the dialog: too long or with control characters, it is refused first.
        for (file, note) in [(String(repeating: "F", count: 201), "N-6"), ("E-9/2026", "N-6\nApproved by the Minister")] {
            let refused = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth,
                body: SignRequestBody(extract: extract, fileNumber: file, noteID: note, commitment: .proofOfOrigin, key: Self.softKey))
            #expect(refused.status == 400, "\(refused.text)")
        }
        #expect(Self.dialogs(entry.log).count == 1)
        #expect(!daemon.everythingWritten().contains { $0.contains(softPIN) }, "the PIN is in something the agent wrote")
        #expect(!((try? String(contentsOfFile: entry.log, encoding: .utf8)) ?? "").contains(softPIN))
    }

    @Test("pinEntry request still works by configuration, with a warning at start")
    func requestModeWarns() throws {
        try Rig.require()
        let daemon = try Daemon(documentSigner: false)
        defer { _ = daemon.stop() }
        #expect(daemon.log.contains("officers type their PIN into the web page"), "\(daemon.log.prefix(2000))")
    }

    @Test("a batch: one dialog listing every note and digest, one PIN, a valid signature per note, each audited; caps refused")
    func batchSigning() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-batch")
        let entry = try Self.pinentry(in: folder, pinFile: "softhsm.pin")
        let daemon = try Daemon(
            documentSigner: false, extra: ["pinEntry": "pinentry", "pinentryProgram": entry.program, "maximumBatchNotes": 4])
        defer { _ = daemon.stop() }
        let token = try DaemonTests.pair(daemon)
        let auth = ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"]
        let extracts = (1...3).map { Array("File B-1/2026, draft note D-\($0): forwarded for approval.\n".utf8) }
        let notes = extracts.enumerated().map { BatchSignRequestBody.Note(extract: $1, fileNumber: "B-1/2026", noteID: "D-\($0 + 1)") }
        let answer = try Self.request(daemon, "POST", "/v1/sign/batch", headers: auth, body: BatchSignRequestBody(key: Self.softKey, notes: notes))
        #expect(answer.status == 200, "\(answer.text)")
        let batch = try answer.decode(BatchSignAnswer.self)
        #expect(batch.signatures.map(\.noteID) == ["D-1", "D-2", "D-3"] && batch.signer == "Anita Sharma")
        for (index, signature) in batch.signatures.enumerated() {
            let content = try folder.file("d\(index).txt", extracts[index])
            let file = try folder.file("d\(index).p7s", Array(try #require(Data(base64Encoded: signature.signature))))
            #expect(try SigningTests.opensslVerifies(file.path, content: content.path), "note \(index + 1)")
        }
        let dialogs = Self.dialogs(entry.log)
        #expect(dialogs.count == 1, "one PIN for the batch: \(dialogs.count) dialogs")
        let text = dialogs.first?["description"] as? String ?? ""
        #expect(text.contains("3 notes") && text.contains(DaemonTests.origin), "\(text)")
        for extract in extracts { #expect(text.contains(Hex.encode(SHA256Hasher.hash(extract).prefix(6))), "\(text)") }
        let audited = Self.auditRecords(daemon).filter { $0["action"] as? String == "sign" && $0["result"] as? String == "ok" }
        #expect(audited.compactMap { $0["note"] as? String } == ["D-1", "D-2", "D-3"], "each signature audited on its own")

        let tooMany = (1...5).map { BatchSignRequestBody.Note(extract: Array("n\($0)".utf8), fileNumber: "B-1/2026", noteID: "X-\($0)") }
        let over = try Self.request(daemon, "POST", "/v1/sign/batch", headers: auth, body: BatchSignRequestBody(key: Self.softKey, notes: tooMany))
        #expect(over.status == 400 && over.text.contains("at most 4 notes"), "\(over.text)")
        let twice = try Self.request(
            daemon, "POST", "/v1/sign/batch", headers: auth, body: BatchSignRequestBody(key: Self.softKey, notes: [notes[0], notes[0]]))
        #expect(twice.status == 400 && twice.text.contains("twice"), "\(twice.text)")
        #expect(Self.dialogs(entry.log).count == 1, "no dialog for a refused batch")
    }

    // MARK: Tokens

    @Test("a token that stops answering: the request is answered token-timeout at the deadline, and the token works again after")
    func tokenJobDeadline() async throws {
        try Rig.require()
        try await Rig.exclusive {
            let daemon = try Daemon(documentSigner: false, extra: ["tokenDeadlineSeconds": 2])
            defer { _ = daemon.stop() }
            let cardPIN = try Rig.secretStrings()[0]
            let token = try DaemonTests.pair(daemon)
            let auth = ["Origin: \(DaemonTests.origin)", "Authorization: Bearer \(token)"]
            let cardKey = "pkcs11:token=Anita%20Sharma;id=%01;type=private"
            let body = DaemonTests.signBody(key: cardKey, pin: cardPIN, note: "T-1", extract: Array("a note\n".utf8))
            #expect(try Self.request(daemon, "GET", "/v1/tokens", headers: auth).status == 200)
            // The emulated card stops answering (its process stopped): PC/SC waits on it, C_Login or C_Sign blocks.
            let card = try #require(
                Int32((try String(contentsOf: Rig.folder.appendingPathComponent("card.pid"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
            let started = Date()
            kill(card, SIGSTOP)
            let stuck = try Self.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            let waited = Date().timeIntervalSince(started)
            kill(card, SIGCONT)
            #expect(stuck.status == 504 && stuck.json["code"] as? String == "token-timeout", "\(stuck.status) \(stuck.text)")
            #expect(waited < 10, "answered after \(waited) s")
            try await Task.sleep(for: .seconds(3))
            var signed = try Self.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            for _ in 0..<5 where signed.status != 200 {
                try await Task.sleep(for: .seconds(2))
                signed = try Self.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            }
            #expect(signed.status == 200, "the card signs again: \(signed.text)")
        }
    }
}
