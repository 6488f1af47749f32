import Foundation
import Synchronization
import SignKit
import Testing
import TestSupport

/// The real daemon binary on the real token stack, driven over HTTP with curl (which can send any Host header).
@Suite("The daemon over HTTP", .serialized)
struct DaemonTests {
    static let origin = "https://eoffice.test"

    /// A running daemon: started in the background with its own state folder and a free port.
    /// Sendable for tests that call two daemons at once; `exchanges` is set only while a test sets up, before that.
    final class Daemon: @unchecked Sendable {
        let folder: TemporaryFolder
        let pid: Int32
        let url: String
        var log: String { (try? String(contentsOfFile: folder.path("daemon.log"), encoding: .utf8)) ?? "" }
        var state: String { folder.path("state") }

        /// - Parameter documentSigner: configure the rig's SoftHSM2 document-signer key (history appends and exports).
        /// - Parameter scans: the `scans` section of the configuration; `folder`: start on the state of an earlier daemon;
        ///   `shellPrefix`: shell words run before the daemon is started (a `ulimit -f`, a `setpriv` to another user).
        /// `extra`: more configuration keys (e.g. `timeStampAuthority`); NSNull() removes a key, leaving the daemon's default.
        /// `role`: "agent" (tokens, signing, pairing) or "records" (files, entries, approvals, scans, reports, logins).
        init(
            role: String = "agent", documentSigner: Bool = true, keepSessionSeconds: Double = 0, scans: [String: Any]? = nil,
            folder reused: TemporaryFolder? = nil, extra: [String: Any] = [:], shellPrefix: String = ""
        ) throws {
            folder = try reused ?? TemporaryFolder("signservice-\(role)")
            exchanges = folder.path("exchanges.jsonl")
            var config: [String: Any] = [
                // trace: a PIN leaked into any log line, however low its level, would be in the log the tests read.
                "port": 0, "stateDirectory": folder.path("state"), "allowedOrigins": [DaemonTests.origin, "https://other-eoffice.test"], "logLevel": "trace",
                "chainFile": Rig.root.appendingPathComponent("TestCerts/ca/chain-individual.pem").path,
                "trustDirectory": Rig.root.appendingPathComponent("TestCerts/trust").path,
                // The tests hand the rig's PINs over in their requests (the pinentry default has tests of its own), and
                // the rig's CRL, OCSP and caIssuers servers are on loopback.
                "pinEntry": "request", "fetchFromPrivateAddresses": true,
            ]
            if role == "agent" { config["keepTokenSessionSeconds"] = keepSessionSeconds }
            if documentSigner {
                config["documentSigner"] = [
                    "key": "pkcs11:token=SignService%20DocSigner;id=%10;type=private",
                    "pinFile": Rig.folder.appendingPathComponent("softhsm.pin").path,
                    "chainFile": Rig.root.appendingPathComponent("TestCerts/ca/chain-docsigner.pem").path,
                ]
            }
            if let scans { config["scans"] = scans }
            // An NSNull in `extra` removes the key: the daemon's own default applies.
            config.merge(extra) { $1 }
            config = config.filter { !($0.value is NSNull) }
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder.path("config.json")))
            let binary = URL(fileURLWithPath: Rig.signctl).deletingLastPathComponent().appendingPathComponent("SignService").path
            let launched = try Command.run(
                "/bin/sh",
                ["-c", "\(shellPrefix) '\(binary)' \(role) --config '\(folder.path("config.json"))' > '\(folder.path("daemon.log"))' 2>&1 & echo $!"])
            // Never 0 or negative: kill(0, ...) would signal this test process's whole group.
            guard let started = Int32(launched.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), started > 0 else {
                throw RigError("the daemon did not start: \(launched.stdout)\(launched.stderr)")
            }
            pid = started
            var found: String?
            for _ in 0..<200 where found == nil {
                Thread.sleep(forTimeInterval: 0.1)
                let text = (try? String(contentsOfFile: folder.path("daemon.log"), encoding: .utf8)) ?? ""
                if let range = text.range(of: #"127\.0\.0\.1:(\d+) \[SignService\] listening"#, options: .regularExpression) {
                    found = String(text[range].split(separator: ":")[1].split(separator: " ")[0])
                }
            }
            guard let port = found else {
                kill(pid, SIGKILL)
                throw RigError("the daemon did not start: \((try? String(contentsOfFile: folder.path("daemon.log"), encoding: .utf8)) ?? "")")
            }
            // A records service with "tls" serves HTTPS; its certificate is then trusted (curl --cacert) as `tlsRoot`.
            let tls = config["tls"] as? [String: String]
            tlsRoot = tls?["certificateChain"]
            url = "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)"
        }

        /// The PEM the daemon's HTTPS certificate is checked against (its own self-signed certificate); nil for http.
        let tlsRoot: String?

        /// SIGTERM, then up to 10 s for the process to go; false (and SIGKILL) when it does not.
        func stop() -> Bool {
            kill(pid, SIGTERM)
            for _ in 0..<100 {
                if kill(pid, 0) != 0 { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            kill(pid, SIGKILL)
            return false
        }

        /// Everything the daemon wrote: its log and every file in its state folder.
        func everythingWritten() -> [String] {
            let state = URL(fileURLWithPath: self.state)
            let files = (FileManager.default.enumerator(at: state, includingPropertiesForKeys: nil)?.allObjects as? [URL]) ?? []
            return [log] + files.compactMap { try? Data(contentsOf: $0) }.map { String(decoding: $0, as: UTF8.self) }
        }

        /// Every exchange `DaemonTests.request` made, one JSON object per line, for scripts/check-openapi.py (an agent
        /// and a records service checked together write to one file).
        var exchanges: String

        var adminToken: String {
            ((try? String(contentsOfFile: state + "/admin.token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    struct Answer {
        let status: Int
        let headers: String
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// The body as one of SignKit's wire types (SignKit/API).
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONOutput.decoder().decode(type, from: body) }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The value of the answer's header `name` (any case), if sent.
        func header(_ name: String) -> String? {
            headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// One request with curl; `headers` as "Name: value".
    /// `record`: write the exchange for the OpenAPI check (not for probes of paths that deliberately do not exist).
    /// `body`: a request as SignKit's wire types define it; `json`: a hand-built one (for malformed requests).
    static func request(
        _ daemon: Daemon, _ method: String, _ path: String, headers: [String] = [], body: (any Encodable)? = nil,
        json: [String: Any]? = nil, bodyFile: String? = nil, record: Bool = true
    ) throws -> Answer {
        let folder = daemon.folder
        var arguments = ["-s", "-X", method, "-D", folder.path("headers.txt"), "-o", folder.path("body.bin"), "-w", "%{http_code}", daemon.url + path]
        for header in headers { arguments += ["-H", header] }
        if let root = daemon.tlsRoot { arguments += ["--cacert", root] }
        if let data = try body.map({ try JSONOutput.encoder(pretty: false).encode($0) }) ?? json.map({ try JSONSerialization.data(withJSONObject: $0) }) {
            try data.write(to: URL(fileURLWithPath: folder.path("request.json")))
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@" + folder.path("request.json")]
        }
        if let bodyFile { arguments += ["--data-binary", "@" + bodyFile] }
        let result = try Command.run("/usr/bin/curl", arguments)
        let answer = Answer(
            status: Int(result.stdout) ?? 0, headers: (try? String(contentsOfFile: folder.path("headers.txt"), encoding: .utf8)) ?? "",
            body: (try? Data(contentsOf: URL(fileURLWithPath: folder.path("body.bin")))) ?? Data())
        try? FileManager.default.removeItem(atPath: folder.path("request.json"))
        if record { try Self.record(daemon, method, path, answer) }
        return answer
    }

    /// Appends one exchange to the daemon's exchanges.jsonl (the body parsed when it is JSON, else null).
    static func record(_ daemon: Daemon, _ method: String, _ path: String, _ answer: Answer) throws {
        let contentType =
            answer.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
            .map { $0.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        let body: Any = contentType.hasPrefix("application/json") ? ((try? JSONSerialization.jsonObject(with: answer.body)) ?? NSNull()) : NSNull()
        let line = try JSONSerialization.data(
            withJSONObject: [
                "method": method, "path": path, "status": answer.status,
                "contentType": contentType, "body": body,
            ] as [String: Any])
        if !FileManager.default.fileExists(atPath: daemon.exchanges) { FileManager.default.createFile(atPath: daemon.exchanges, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: daemon.exchanges))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line + Data("\n".utf8))
    }

    /// scripts/check-openapi.py on the exchanges so far: every answer as docs/openapi.yaml describes it.
    static func checkOpenAPI(_ daemon: Daemon, requireAll: Bool = false) throws -> Command.Result {
        try Command.run(
            "/usr/bin/python3",
            [
                Rig.root.appendingPathComponent("scripts/check-openapi.py").path,
                Rig.root.appendingPathComponent("docs/openapi.yaml").path, daemon.exchanges,
            ]
                + (requireAll ? ["--require-all"] : []))
    }

    static func pair(_ daemon: Daemon, origin: String = origin) throws -> String {
        let asked = try Self.request(daemon, "POST", "/v1/pairings", headers: ["Origin: \(origin)"])
        #expect(asked.status == 200, "\(asked.text)")
        let pairing = try asked.decode(PairingRequestAnswer.self)
        let (code, id) = (pairing.code, pairing.id)
        #expect(daemon.log.contains(code), "the code is shown on the officer's machine (the daemon's log)")
        #expect(try Self.request(daemon, "GET", "/v1/pairings/\(id)", headers: ["Origin: \(origin)"]).decode(PairingPollAnswer.self).status == "pending")
        let approved = try Command.run(Rig.signctl, ["pair", "approve", code, "--yes", "--service", daemon.url, "--state-dir", daemon.state])
        #expect(approved.status == 0, "\(approved.stderr)")
        let polled = try Self.request(daemon, "GET", "/v1/pairings/\(id)", headers: ["Origin: \(origin)"])
        let token = try #require(try polled.decode(PairingPollAnswer.self).token, "\(polled.text)")
        #expect(try Self.request(daemon, "GET", "/v1/pairings/\(id)", headers: ["Origin: \(origin)"]).json["token"] == nil, "the token is handed out once")
        return token
    }

    /// Where signctl keeps a records service's session (signctl's DaemonClient.sessionPath).
    static func sessionFile(_ url: String, state: String) -> String {
        state + "/sessions/" + Hex.encode(SHA256Hasher.hash(Array(url.utf8)))
    }

    static func signBody(key: String, pin: String, note: String, extract: [UInt8]) -> SignRequestBody {
        SignRequestBody(extract: extract, fileNumber: "E-7/2026", noteID: note, commitment: .proofOfOrigin, key: key, pin: pin)
    }

    @Test("lists tokens, signs (openssl cms agrees), verifies, sees the card leave and return, survives a pulled token, logs no PIN")
    func endToEnd() async throws {
        try await Rig.exclusive {
            let daemon = try Daemon()
            defer { _ = daemon.stop() }
            let softPIN = try Rig.secretStrings()[1], cardPIN = try Rig.secretStrings()[0]
            var bodies = [String]()

            let health = try Self.request(daemon, "GET", "/v1/health")
            // A second daemon on the same state folder refuses to start and names the first (it would fork the audit chain).
            let binary = URL(fileURLWithPath: Rig.signctl).deletingLastPathComponent().appendingPathComponent("SignService").path
            let second = try Command.run("/usr/bin/timeout", ["20", binary, "--config", daemon.folder.path("config.json")])
            #expect(
                second.status != 0 && second.status != 124 && (second.stderr + second.stdout).contains("pid \(daemon.pid)"),
                "\(second.status): \(second.stderr)\(second.stdout)")
            let limits = (try? String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)) ?? ""
            let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }.map {
                $0.split(separator: " ", omittingEmptySubsequences: true)
            }
            #expect(
                core.map { Array($0.suffix(3)) } == ["0", "0", "bytes"], "no core dump may hold a PIN: \(core.map { $0.joined(separator: " ") } ?? limits)")
            let healthAnswer = try health.decode(HealthAnswer.self)
            #expect(healthAnswer.status == "ok" && healthAnswer.version == SignKitVersion.string, "\(health.text)")
            #expect(try Self.request(daemon, "GET", "/v1/nothing-here", record: false).status == 404)
            let token = try Self.pair(daemon)
            let auth = ["Origin: \(Self.origin)", "Authorization: Bearer \(token)"]

            let tokens = try Self.request(daemon, "GET", "/v1/tokens", headers: auth)
            #expect(tokens.status == 200)
            #expect(tokens.headers.contains("Access-Control-Allow-Origin: \(Self.origin)"))
            let labels = (tokens.json["tokens"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String }
            #expect(labels.contains(Rig.cardToken) && labels.contains(Rig.softToken), "\(labels)")

            // Sign on SoftHSM2 through the daemon; openssl cms and the daemon's own verify endpoint agree.
            let extract = Array("File E-7/2026, note N-1: the tender committee's minutes are approved.\n".utf8)
            let softKey = "pkcs11:token=SignService%20Test;id=%01;type=private"
            let signed = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: softKey, pin: softPIN, note: "N-1", extract: extract))
            #expect(signed.status == 200, "\(signed.text)")
            #expect(
                signed.headers.contains("Cache-Control: no-store") && signed.headers.contains("Vary: Origin"),
                "a signature is for no cache, and answers vary by origin: \(signed.headers)")
            let extractFile = try daemon.folder.file("n1.txt", extract), signatureFile = try daemon.folder.file("n1.p7s", signed.body)
            #expect(try SigningTests.opensslVerifies(signatureFile.path, content: extractFile.path), "openssl cms accepts the daemon's signature")
            let verified = try Self.request(
                daemon, "POST", "/v1/verify", headers: auth,
                body: VerifyRequestBody(signature: Array(signed.body), content: extract))
            let verdict = verified.json["verdict"] as? [String: Any] ?? [:]
            #expect(verdict["indication"] as? String == "TOTAL-PASSED", "\(verified.text)")
            #expect((verdict["context"] as? [String: Any])?["origin"] as? String == Self.origin, "the requesting origin is inside what was signed")
            let tampered = try Self.request(
                daemon, "POST", "/v1/verify", headers: auth,
                body: VerifyRequestBody(signature: Array(signed.body), content: extract + [0x20]))
            #expect((tampered.json["verdict"] as? [String: Any])?["indication"] as? String == "TOTAL-FAILED")
            bodies += [tokens.text, verified.text, tampered.text]

            // Events: the emulated card taken out and put back, each seen on the stream within a second or two.
            let events = daemon.folder.path("events.txt")
            let curl = try Command.run(
                "/bin/sh",
                ["-c", "curl -s -N -H 'Origin: \(Self.origin)' -H 'Authorization: Bearer \(token)' \(daemon.url)/v1/events > '\(events)' 2>&1 & echo $!"])
            let curlPID = try #require(Int32(curl.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0 > 0 ? $0 : nil })
            defer { kill(curlPID, SIGTERM) }
            func waitFor(_ text: String) -> Bool {
                for _ in 0..<50 {
                    if ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").contains(text) { return true }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return false
            }
            #expect(waitFor(": ready"), "the stream opens")
            try Rig.control("card-out")
            let removedSeen = waitFor("event: card-removed")
            #expect(removedSeen, "card removal reaches the stream")

            // A request for the pulled token: a clear error, and the daemon goes on serving.
            let cardKey = "pkcs11:token=Anita%20Sharma;id=%01;type=private"
            let pulled = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: cardKey, pin: cardPIN, note: "N-2", extract: extract))
            #expect(pulled.status == 404, "\(pulled.status) \(pulled.text)")
            #expect((pulled.json["error"] as? String)?.hasPrefix("token-not-found") == true, "\(pulled.text)")
            bodies.append(pulled.text)
            #expect(try Self.request(daemon, "GET", "/v1/health").status == 200)
            let again = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: softKey, pin: softPIN, note: "N-3", extract: extract))
            #expect(again.status == 200, "\(again.text)")
            bodies += [again.headers, again.text]

            try Rig.control("card-in")
            #expect(waitFor("event: card-inserted"), "card insertion reaches the stream")
            let onCard = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: cardKey, pin: cardPIN, note: "N-4", extract: extract))
            #expect(onCard.status == 200, "\(onCard.text)")
            bodies += [onCard.headers, onCard.text, signed.headers, tokens.headers]

            // A wrong PIN: refused with the reason, never echoed.
            let wrong = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: softKey, pin: "99999999", note: "N-5", extract: extract))
            #expect(wrong.status == 403, "\(wrong.text)")
            bodies.append(wrong.text)

            // The audit log: every signature and the pairing, intact; signctl audit verify says so, and sees an edit.
            #expect(daemon.stop(), "SIGTERM stops the daemon")
            let audit = try String(contentsOfFile: daemon.state + "/audit.log", encoding: .utf8)
            #expect(audit.components(separatedBy: "\"action\":\"sign\"").count - 1 >= 5)
            #expect(audit.contains("\"action\":\"stopped\""), "graceful stop is audited")
            let intact = try Command.run(Rig.signctl, ["audit", "verify", daemon.state + "/audit.log"])
            #expect(intact.status == 0, "\(intact.stdout)\(intact.stderr)")
            let edited = audit.replacingOccurrences(of: "\"note\":\"N-3\"", with: "\"note\":\"N-9\"")
            let editedFile = try daemon.folder.file("edited.log", Array(edited.utf8))
            let broken = try Command.run(Rig.signctl, ["audit", "verify", editedFile.path])
            #expect(broken.status == 1 && broken.stdout.contains("was changed"), "\(broken.stdout)")

            let openapi = try Self.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "every answer as docs/openapi.yaml describes it: \(openapi.stdout)\(openapi.stderr)")

            // No PIN anywhere the daemon wrote (log at trace level, every state file) or answered, nor in the events.
            let written = daemon.everythingWritten() + bodies + [(try? String(contentsOfFile: events, encoding: .utf8)) ?? ""]
            for secret in [softPIN, cardPIN, "99999999"] {
                #expect(!written.contains { $0.contains(secret) }, "a PIN appears in the daemon's output")
            }
        }
    }

    @Test("refused before any token: foreign Host, origin off the allowlist, unpaired origin, no pairing token, revoked pairing")
    func refusals() async throws {
        try await Rig.exclusive {
            let daemon = try Daemon()
            defer { _ = daemon.stop() }
            let cardPIN = try Rig.secretStrings()[0]
            let extract = Array("File E-7/2026, note N-1.\n".utf8)
            let body = Self.signBody(key: "pkcs11:token=Anita%20Sharma;id=%01;type=private", pin: cardPIN, note: "N-1", extract: extract)
            let token = try Self.pair(daemon)
            let commandsBefore = Rig.cardLog().count

            let foreignHost = try Self.request(
                daemon, "POST", "/v1/sign", headers: ["Host: signer.attacker.example", "Origin: \(Self.origin)", "Authorization: Bearer \(token)"], body: body)
            #expect(foreignHost.status == 421, "\(foreignHost.text)")
            let offList = try Self.request(daemon, "POST", "/v1/sign", headers: ["Origin: https://evil.example", "Authorization: Bearer \(token)"], body: body)
            #expect(offList.status == 403 && !offList.headers.contains("Access-Control-Allow-Origin"), "\(offList.text)")
            let offListPreflight = try Self.request(
                daemon, "OPTIONS", "/v1/sign", headers: ["Origin: https://evil.example", "Access-Control-Request-Private-Network: true"])
            #expect(offListPreflight.status == 403 && !offListPreflight.headers.contains("Allow-Private-Network"))
            let unpaired = try Self.request(
                daemon, "POST", "/v1/sign", headers: ["Origin: https://other-eoffice.test", "Authorization: Bearer \(token)"], body: body)
            #expect(unpaired.status == 401, "a token is bound to the origin it was issued to: \(unpaired.text)")
            let noToken = try Self.request(daemon, "POST", "/v1/sign", headers: ["Origin: \(Self.origin)"], body: body)
            #expect(noToken.status == 401, "\(noToken.text)")
            let noAdmin = try Self.request(daemon, "GET", "/v1/tokens")
            #expect(noAdmin.status == 401, "a local program without the admin token: \(noAdmin.text)")
            let pageAdmin = try Self.request(
                daemon, "POST", "/v1/admin/pairings/approve", headers: ["Origin: \(Self.origin)", "Authorization: Bearer \(token)"],
                body: PairingApproval(code: "000-000"))
            #expect(pageAdmin.status == 403, "a page cannot approve pairings: \(pageAdmin.text)")

            let revoke = try Command.run(Rig.signctl, ["pair", "revoke", Self.origin, "--service", daemon.url, "--state-dir", daemon.state])
            #expect(revoke.status == 0 && revoke.stdout.contains("revoked 1"), "\(revoke.stdout)\(revoke.stderr)")
            let revoked = try Self.request(daemon, "GET", "/v1/tokens", headers: ["Origin: \(Self.origin)", "Authorization: Bearer \(token)"])
            #expect(revoked.status == 401, "\(revoked.text)")

            // The preflight of an allowed origin is answered, Private Network Access included; never with `*`.
            let preflight = try Self.request(
                daemon, "OPTIONS", "/v1/sign", headers: ["Origin: \(Self.origin)", "Access-Control-Request-Private-Network: true"])
            #expect(preflight.status == 204)
            #expect(preflight.headers.contains("Access-Control-Allow-Private-Network: true"))
            #expect(preflight.headers.contains("Access-Control-Allow-Origin: \(Self.origin)") && !preflight.headers.contains("Access-Control-Allow-Origin: *"))

            // Pairing requests are capped per origin (the one pairing above was approved, so three may wait); codes are unique.
            let asked = try (0..<3).map { _ in try Self.request(daemon, "POST", "/v1/pairings", headers: ["Origin: https://other-eoffice.test"]) }
            #expect(asked.allSatisfy { $0.status == 200 }, "\(asked.map(\.text))")
            #expect(Set(try asked.map { try $0.decode(PairingRequestAnswer.self).code }).count == 3, "codes are unique among pending requests")
            let fourth = try Self.request(daemon, "POST", "/v1/pairings", headers: ["Origin: https://other-eoffice.test"])
            #expect(fourth.status == 429, "\(fourth.text)")

            // A refused request with an 8 KiB path and origin writes a short audit line, not the attacker's kilobytes.
            let long = String(repeating: "x", count: 8192)
            let sizeBefore = (try? FileManager.default.attributesOfItem(atPath: daemon.state + "/audit.log")[.size] as? Int) ?? 0
            let flood = try Self.request(daemon, "GET", "/v1/" + long, headers: ["Origin: https://\(long).example"], record: false)
            #expect(flood.status == 403, "\(flood.status)")
            let sizeAfter = (try? FileManager.default.attributesOfItem(atPath: daemon.state + "/audit.log")[.size] as? Int) ?? 0
            #expect(sizeAfter > sizeBefore && sizeAfter - sizeBefore < 1024, "one refusal wrote \(sizeAfter - sizeBefore) bytes to the audit log")

            #expect(Rig.cardLog().count == commandsBefore, "no refused request reached the card")
            for text in daemon.everythingWritten() + [foreignHost.text, offList.text, unpaired.text, noToken.text] {
                #expect(!text.contains(cardPIN), "the PIN of a refused request appears in what the daemon wrote or answered")
            }
            let audit = try String(contentsOfFile: daemon.state + "/audit.log", encoding: .utf8)
            #expect(audit.components(separatedBy: "\"action\":\"refused\"").count - 1 >= 6, "each refusal is audited")
            #expect(audit.contains("https://evil.example"))
            let openapi = try Self.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "\(openapi.stdout)\(openapi.stderr)")
        }
    }

    @Test("a kept session: one login serves later requests with the same PIN; another PIN goes to the card, which judges it")
    func keptSession() async throws {
        try await Rig.exclusive {
            let daemon = try Daemon(keepSessionSeconds: 2)
            defer { _ = daemon.stop() }
            let cardPIN = try Rig.secretStrings()[0]
            let admin = ["Authorization: Bearer \(daemon.adminToken)"]
            let extract = Array("File E-7/2026, note N-1.\n".utf8)
            func sign(_ pin: String, _ note: String) throws -> Answer {
                try Self.request(daemon, "POST", "/v1/sign", headers: admin, body: Self.signBody(key: Self.cardKey, pin: pin, note: note, extract: extract))
            }
            let before = Rig.pinVerifications()
            #expect(try sign(cardPIN, "N-1").status == 200)
            #expect(try sign(cardPIN, "N-2").status == 200)
            #expect(try sign(cardPIN, "N-3").status == 200)
            #expect(Rig.pinVerifications() == before + 1, "three signatures, one PIN verification on the card")

            // A wrong PIN is not refused by the daemon from memory: it goes to the card, which counts the try.
            let triesBefore = Rig.cardTriesLeft()
            let wrong = try sign("00000000", "N-4")
            #expect(wrong.status == 403, "\(wrong.text)")
            #expect(Rig.pinVerifications() == before + 2 && Rig.cardTriesLeft() == triesBefore.map { $0 - 1 }, "the card judged the other PIN")
            #expect(try sign(cardPIN, "N-5").status == 200)
            #expect(Rig.pinVerifications() == before + 3, "after a refused PIN the session logs in afresh")

            // Idle longer than keepTokenSessionSeconds: the session is closed, the next request logs in again.
            try await Task.sleep(for: .seconds(3.5))
            #expect(try sign(cardPIN, "N-6").status == 200)
            #expect(Rig.pinVerifications() == before + 4, "an expired session is not reused")
            #expect(Rig.cardTriesLeft() == triesBefore, "a good PIN restored the tries")

            // Eight requests at once for two tokens: they reach the tokens one at a time (the kept session moves
            // between the card and SoftHSM2), every one answers a signature openssl accepts, and the card made
            // exactly its four.
            let softPIN = try Rig.secretStrings()[1]
            let cardSignaturesBefore = Rig.cardLog().filter { $0.hasPrefix("GENERAL-AUTHENTICATE ") }.count
            let answers = Mutex<[Int: (status: Int, body: [UInt8])]>([:])
            let url = URL(string: daemon.url + "/v1/sign")!
            let token = daemon.adminToken
            DispatchQueue.concurrentPerform(iterations: 8) { index in
                let onCard = index % 2 == 0
                let body = try? JSONOutput.encoder(pretty: false).encode(
                    Self.signBody(
                        key: onCard ? Self.cardKey : Self.softKey, pin: onCard ? cardPIN : softPIN,
                        note: "N-\(10 + index)", extract: extract))
                let answer = try? HTTPExchange(service: "the daemon", url: url, timeout: 60)
                    .send(method: "POST", headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: body.map { Array($0) })
                answers.withLock { $0[index] = answer ?? (0, []) }
            }
            let extractFile = try daemon.folder.file("concurrent.txt", extract)
            for index in 0..<8 {
                let answer = answers.withLock { $0[index] } ?? (status: 0, body: [])
                #expect(answer.status == 200, "request \(index): \(String(decoding: answer.body, as: UTF8.self))")
                let signatureFile = try daemon.folder.file("concurrent-\(index).p7s", Data(answer.body))
                #expect(try SigningTests.opensslVerifies(signatureFile.path, content: extractFile.path), "request \(index)")
            }
            #expect(Rig.cardLog().filter { $0.hasPrefix("GENERAL-AUTHENTICATE ") }.count == cardSignaturesBefore + 4, "the card signed its four")
            #expect(daemon.stop())
            for text in daemon.everythingWritten() {
                #expect(!text.contains(cardPIN), "the PIN appears in what the daemon wrote")
            }
        }
    }

    static let softKey = "pkcs11:token=SignService%20Test;id=%01;type=private"
    static let cardKey = "pkcs11:token=Anita%20Sharma;id=%01;type=private"
    static let ministerKey = "pkcs11:token=SignService%20Test;id=%07;type=private"

    /// signctl against the daemon (`--service`), the PIN (if any) on stdin for --pin-fd 0.
    static func signctl(_ daemon: Daemon, _ arguments: [String], pin: String? = nil) throws -> Command.Result {
        try Command.run(
            Rig.signctl, arguments + ["--service", daemon.url, "--state-dir", daemon.state] + (pin == nil ? [] : ["--pin-fd", "0"]),
            stdin: pin.map { Data(($0 + "\n").utf8) })
    }

    @Test("a file's history: a page signs through the agent, the records service appends, each entry a leaf of the department log, the bundle verifies offline")
    func history() async throws {
        try await Rig.exclusive {
            let daemon = try Daemon()
            defer { _ = daemon.stop() }
            // The records service beside the agent; here its operator (the admin token on its own machine) appends.
            let records = try Daemon(role: "records")
            defer { _ = records.stop() }
            records.exchanges = daemon.exchanges
            let ops = ["Authorization: Bearer \(records.adminToken)"]
            let softPIN = try Rig.secretStrings()[1], cardPIN = try Rig.secretStrings()[0]
            let number = "GAD-11011/3/2026-ADMIN", path = "/v1/files/GAD-11011%2F3%2F2026-ADMIN"
            let token = try Self.pair(daemon)
            let auth = ["Origin: \(Self.origin)", "Authorization: Bearer \(token)"]

            // The page opens the file and signs its first note through the daemon, bound to the empty file's head.
            let created = try Self.request(
                records, "POST", "/v1/files", headers: ops, body: FileRecord(number: number, subject: "Leave rules revision", department: "GAD"))
            // A small JSON route takes a small body: 20 KiB for a new file is refused before it is buffered.
            let huge = FileRecord(number: "BIG-1", subject: String(repeating: "s", count: 20 * 1024), department: "GAD")
            let tooBig = try Self.request(records, "POST", "/v1/files", headers: ops, body: huge)
            #expect(tooBig.status == 413, "\(tooBig.status) \(tooBig.text)")
            #expect(created.status == 201, "\(created.text)")
            // "|" separates the fields of an approval request's QR form: refused in a file number.
            let piped = try Self.request(records, "POST", "/v1/files", headers: ops, body: FileRecord(number: "GAD|1", subject: "x", department: "GAD"))
            #expect(piped.status == 400 && piped.text.contains("control characters or"), "\(piped.text)")
            let opened = try Self.request(records, "GET", path, headers: ops)
            #expect(opened.json["size"] as? Int == 0 && opened.json["head"] as? String == String(repeating: "0", count: 64), "\(opened.text)")
            let note1 = Array("File \(number), note N-1: the draft rules are placed below for approval.\n".utf8)
            let head0 = try opened.decode(FileHistoryAnswer.self).head
            let body = SignRequestBody(
                extract: note1, fileNumber: number, noteID: "N-1", commitment: .proofOfOrigin, key: Self.softKey, pin: softPIN,
                previousHash: Hex.decode(head0))
            let signed1 = try Self.request(daemon, "POST", "/v1/sign", headers: auth, body: body)
            #expect(signed1.status == 200, "\(signed1.text)")
            let appended1 = try Self.request(
                records, "POST", path + "/entries", headers: ops,
                body: AppendRequestBody(kind: .note, noteID: "N-1", content: note1, signature: Array(signed1.body)))
            #expect(appended1.status == 201, "\(appended1.text)")
            let answer1 = try appended1.decode(AppendAnswer.self)
            let entry1 = answer1.entry
            #expect(entry1.sequence == 1 && answer1.indication == "TOTAL-PASSED")

            // The same signature again (a retry after a lost answer): the entry it made, not a second one.
            let replay = try Self.request(
                records, "POST", path + "/entries", headers: ops,
                body: AppendRequestBody(kind: .note, noteID: "N-1", content: note1, signature: Array(signed1.body)))
            #expect(replay.status == 201 && (try? replay.decode(AppendAnswer.self).entry.hash) == entry1.hash, "\(replay.text)")

            // signctl --service: the officer signs on the emulated card over the current head, verifies through the
            // daemon, appends; the Minister's key approves.
            let folder = daemon.folder
            let shown = try Self.signctl(records, ["history", "show", number, "--json"])
            #expect(shown.status == 0, "\(shown.stderr)")
            let head1 = try JSONDecoder().decode(FileHistoryAnswer.self, from: shown.stdoutData).head
            #expect(head1 == entry1.hash)
            let note2 = try folder.file("n2.txt", Array("File \(number), note N-2: agreed; put up to the Minister.\n".utf8))
            let sign2 = try Self.signctl(
                daemon,
                [
                    "sign", note2.path, "--key", Self.cardKey, "--file-number", number, "--note-id", "N-2",
                    "--previous-hash", head1, "-o", folder.path("n2.p7s"),
                ], pin: cardPIN)
            #expect(sign2.status == 0, "\(sign2.stderr)")
            let verify2 = try Self.signctl(daemon, ["verify", folder.path("n2.p7s"), "--content", note2.path])
            #expect(
                verify2.status == 0 && verify2.stdout.contains("TOTAL-PASSED") && verify2.stdout.contains("Anita Sharma"), "\(verify2.stdout)\(verify2.stderr)")
            let append2 = try Self.signctl(
                records, ["history", "append", number, "--note-id", "N-2", "--extract", note2.path, "--signature", folder.path("n2.p7s")])
            #expect(append2.status == 0 && append2.stdout.contains("appended entry 2"), "\(append2.stdout)\(append2.stderr)")
            let head2 = try #require(try Self.request(records, "GET", path, headers: ops).json["head"] as? String)
            let note3 = try folder.file("n3.txt", Array("File \(number), note N-3: approved.\n".utf8))
            let sign3 = try Self.signctl(
                daemon,
                [
                    "sign", note3.path, "--key", Self.ministerKey, "--file-number", number, "--note-id", "N-3",
                    "--previous-hash", head2, "--approval", "-o", folder.path("n3.p7s"),
                ], pin: softPIN)
            #expect(sign3.status == 0, "\(sign3.stderr)")
            // Appended as a note, an approval signature is refused (its commitment says approval); as an approval it goes in.
            let wrongKind = try Self.signctl(
                records, ["history", "append", number, "--note-id", "N-3", "--extract", note3.path, "--signature", folder.path("n3.p7s")])
            #expect(wrongKind.status == 3 && wrongKind.stderr.contains("proof-of-origin"), "\(wrongKind.stderr)")
            let append3 = try Self.signctl(
                records, ["history", "append", number, "--note-id", "N-3", "--extract", note3.path, "--signature", folder.path("n3.p7s"), "--approval"])
            #expect(append3.status == 0, "\(append3.stdout)\(append3.stderr)")

            // A signature made for another file's note is refused by name, and the history does not move.
            let other = try folder.file("other.txt", Array("File FIN-2/2026, note N-1.\n".utf8))
            let signOther = try Self.signctl(
                daemon,
                [
                    "sign", other.path, "--key", Self.softKey, "--file-number", "FIN-2/2026", "--note-id", "N-4",
                    "--previous-hash", String(repeating: "0", count: 64), "-o", folder.path("other.p7s"),
                ], pin: softPIN)
            #expect(signOther.status == 0, "\(signOther.stderr)")
            let foreign = try Self.signctl(
                records, ["history", "append", number, "--note-id", "N-4", "--extract", other.path, "--signature", folder.path("other.p7s")])
            #expect(foreign.status == 3 && foreign.stderr.contains("made for file FIN-2/2026"), "\(foreign.stderr)")

            let final = try Self.request(records, "GET", path, headers: ops)
            #expect(final.json["size"] as? Int == 3, "\(final.text)")
            let kinds = (final.json["entries"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
            #expect(kinds == ["note", "note", "approval"])
            let leaves = (final.json["entries"] as? [[String: Any]] ?? []).compactMap { $0["leafIndex"] as? Int }
            #expect(leaves == [0, 1, 2], "each append a leaf of the department log: \(final.text)")
            #expect((final.json["checkpoints"] as? [[String: Any]])?.isEmpty == true, "no per-entry checkpoint: the log's heads cover them")

            // The bundle, from the page and from signctl, verifies offline with the trust anchors alone.
            let fromPage = try Self.request(records, "GET", path + "/bundle", headers: ops)
            #expect(fromPage.status == 200 && fromPage.headers.lowercased().contains("content-type: application/zip"))
            let exported = try Self.signctl(records, ["history", "export", number, "-o", folder.path("bundle.zip")])
            #expect(exported.status == 0, "\(exported.stderr)")
            // The admin token never goes over plain http to another machine.
            let remote = try Command.run(Rig.signctl, ["history", "show", number, "--service", "http://192.0.2.7:8787", "--state-dir", records.state])
            #expect(remote.status == 3 && remote.stderr.contains("plain http is only for the daemon on this machine"), "\(remote.stderr)")
            let checked = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("bundle.zip"), "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path])
            #expect(checked.status == 0 && checked.stdout.contains("Valid history: 3 entries"), "\(checked.stdout)\(checked.stderr)")
            #expect(checked.stdout.contains("Anita Sharma") && checked.stdout.contains("SignService Document Signer"), "\(checked.stdout)")
            let pageBundle = try folder.file("page.zip", Array(fromPage.body))
            let pageChecked = try Command.run(
                Rig.signctl, ["history", "verify", pageBundle.path, "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path])
            #expect(pageChecked.status == 0, "\(pageChecked.stdout)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: records.state + "/exports"))?.isEmpty ?? true, "no exported bundle is left behind")

            // The note goes to the Minister: an approval request, its QR code printed as PNG, read back by zbar and
            // checked against the document signer's certificate.
            let ppsFingerprint = Hex.encode(
                try CertificateFolder.load(file: Rig.root.appendingPathComponent("TestCerts/certs/pps.crt").path)[0].sha256Fingerprint)
            let requested = try Self.signctl(
                records,
                [
                    "scan", "request", number, "--note-id", "N-4", "--extract", note3.path, "--minister", "Shri R. K. Singh",
                    "--pps", ppsFingerprint, "--qr", folder.path("qr.png"), "--qr", folder.path("qr.svg"), "--json",
                ])
            #expect(requested.status == 0, "\(requested.stderr)")
            let issued = try #require((try? JSONSerialization.jsonObject(with: requested.stdoutData)) as? [String: Any])
            let qrText = try #require(issued["qr"] as? String)
            let scanned = try Command.run("/usr/bin/zbarimg", ["--raw", "-q", folder.path("qr.png")])
            #expect(scanned.stdout.trimmingCharacters(in: .newlines) == qrText, "\(scanned.stdout)\(scanned.stderr)")
            let printed = try ApprovalRequest.read(
                qrText: qrText, signer: try CertificateFolder.load(file: Rig.root.appendingPathComponent("TestCerts/certs/docsigner.crt").path)[0])
            let note3Hash = SHA256Hasher.hash(Array(try Data(contentsOf: note3)))
            #expect(printed.fileNumber == number && printed.noteID == "N-4" && printed.extractHash == note3Hash)
            let stored = try Self.request(records, "GET", path + "/approvals/\(printed.id)", headers: ops)
            #expect(stored.json["status"] as? String == "open" && stored.json["qr"] as? String == qrText, "\(stored.text)")

            // signctl tokens through the daemon lists what the daemon sees.
            let tokens = try Self.signctl(daemon, ["tokens"])
            #expect(tokens.status == 0 && tokens.stdout.contains(Rig.cardToken) && tokens.stdout.contains(Rig.softToken), "\(tokens.stdout)\(tokens.stderr)")

            let audit = try String(contentsOfFile: records.state + "/audit.log", encoding: .utf8)
            let lines = audit.split(separator: "\n")
            #expect(
                lines.filter { $0.contains("\"action\":\"history-append\"") && $0.contains("\"result\":\"ok\"") }.count == 4,
                "each append is audited (the retry too)")
            #expect(
                lines.filter { $0.contains("\"action\":\"history-append\"") && $0.contains("\"result\":\"refused\"") }.count == 2,
                "each refused append is audited")
            #expect(lines.filter { $0.contains("\"action\":\"history-export\"") }.count == 2)
            let openapi = try Self.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "\(openapi.stdout)\(openapi.stderr)")
            for secret in [softPIN, cardPIN] {
                #expect(!(daemon.everythingWritten() + records.everythingWritten()).contains { $0.contains(secret) }, "a PIN appears in what a daemon wrote")
            }
        }
    }

    @Test("every operation in docs/openapi.yaml answers as documented, errors included")
    func openAPI() async throws {
        try await Rig.exclusive {
            let daemon = try Daemon()
            defer { _ = daemon.stop() }
            let softPIN = try Rig.secretStrings()[1]
            let admin = ["Authorization: Bearer \(daemon.adminToken)"]
            _ = try Self.request(daemon, "GET", "/v1/health")
            _ = try Self.request(daemon, "GET", "/v1/version")
            let token = try Self.pair(daemon)
            let auth = ["Origin: \(Self.origin)", "Authorization: Bearer \(token)"]
            _ = try Self.request(daemon, "GET", "/v1/admin/pairings", headers: admin)
            _ = try Self.request(daemon, "POST", "/v1/admin/pairings/approve", headers: admin, body: PairingApproval(code: "000-000"))
            _ = try Self.request(daemon, "GET", "/v1/tokens", headers: auth)
            _ = try Self.request(daemon, "GET", "/v1/tokens?all=true", headers: admin)
            _ = try Self.request(daemon, "GET", "/v1/tokens")
            let preflight = try Self.request(
                daemon, "OPTIONS", "/v1/tokens", headers: ["Origin: \(Self.origin)", "Access-Control-Request-Private-Network: true"])
            #expect(preflight.status == 204)
            // The event stream: opened, read for a moment, recorded as text/event-stream.
            let events = try Command.run(
                "/usr/bin/curl", ["-s", "-N", "--max-time", "1", "-D", "-", "-o", "/dev/null", "-H", auth[0], "-H", auth[1], daemon.url + "/v1/events"])
            #expect(events.stdout.contains("text/event-stream"))
            try Self.record(daemon, "GET", "/v1/events", Answer(status: 200, headers: events.stdout, body: Data()))

            let extract = Array("File E-7/2026, note N-1.\n".utf8)
            let signed = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: Self.softKey, pin: softPIN, note: "N-1", extract: extract))
            #expect(signed.status == 200)
            _ = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth,
                json: ["extract": "!", "fileNumber": "E-7/2026", "noteID": "N-1", "key": Self.softKey, "pin": softPIN])
            _ = try Self.request(daemon, "POST", "/v1/verify", headers: auth, body: VerifyRequestBody(signature: Array(signed.body), content: extract))
            _ = try Self.request(
                daemon, "POST", "/v1/verify", headers: auth, json: ["signature": Data("not a signature".utf8).base64EncodedString(), "content": ""])
            // The validation policy and the material beside the signature as request fields; one that does not read is a 400.
            let testCerts = Rig.root.appendingPathComponent("TestCerts")
            var withPolicy = VerifyRequestBody(
                signature: Array(signed.body), content: extract,
                policy: VerificationPolicy(revocation: .off, initialPolicySet: ["2.16.356.100.2.3"], explicitPolicy: true),
                adjunct: AdjunctMaterial(
                    certificates: try CertificateFolder.load(file: testCerts.appendingPathComponent("ca/chain-individual.pem").path),
                    revocationData: try AdjunctMaterial.loadCRLs(file: testCerts.appendingPathComponent("crl/root.crl").path)))
            let policyAnswer = try Self.request(daemon, "POST", "/v1/verify", headers: auth, body: withPolicy)
            let reported = (policyAnswer.json["verdict"] as? [String: Any])?["validationPolicy"] as? [String: Any]
            #expect(
                policyAnswer.status == 200 && reported?["revocation"] as? String == "off" && reported?["explicitPolicy"] as? Bool == true,
                "\(policyAnswer.text)")
            withPolicy.revocation = "sometimes"
            #expect(try Self.request(daemon, "POST", "/v1/verify", headers: auth, body: withPolicy).status == 400)
            withPolicy.revocation = nil
            withPolicy.policies = ["not-an-oid"]
            #expect(try Self.request(daemon, "POST", "/v1/verify", headers: auth, body: withPolicy).status == 400)

            // The records service: an officer enrolled by the operator logs in with the soft token's key through the agent.
            let records = try Daemon(role: "records")
            defer { _ = records.stop() }
            records.exchanges = daemon.exchanges
            let ops = ["Authorization: Bearer \(records.adminToken)"]
            let officer = try #require(signed.header("X-Certificate-SHA256"))
            let member = RosterMember(fingerprint: officer, name: "Rajesh Kumar Singh", department: "IT", role: .officer)
            #expect(try Self.request(records, "POST", "/v1/roster", headers: ops, body: member).status == 200)
            _ = try Self.request(records, "POST", "/v1/roster", headers: ops, json: ["fingerprint": "12", "name": "x", "department": "IT", "role": "officer"])
            _ = try Self.request(records, "GET", "/v1/roster", headers: ops)
            let challenge = try Self.request(records, "POST", "/v1/login/challenge", headers: ["Origin: \(Self.origin)"]).decode(ChallengeAnswer.self)
            let loginSigned = try Self.request(
                daemon, "POST", "/v1/login/sign", headers: auth,
                body: LoginSignRequestBody(challenge: Array(Data(base64Encoded: challenge.challenge) ?? Data()), key: Self.softKey, pin: softPIN))
            #expect(loginSigned.status == 200, "\(loginSigned.text)")
            let login = LoginRequestBody(
                challenge: Array(Data(base64Encoded: challenge.challenge) ?? Data()),
                signature: Array(Data(base64Encoded: try loginSigned.decode(LoginSignAnswer.self).signature) ?? Data()))
            let session = try Self.request(records, "POST", "/v1/login", headers: ["Origin: \(Self.origin)"], body: login)
            #expect(session.status == 200, "\(session.text)")
            _ = try Self.request(records, "POST", "/v1/login", headers: ["Origin: \(Self.origin)"], body: login)  // replayed: 401
            let user = ["Origin: \(Self.origin)", "Authorization: Bearer \(try session.decode(SessionAnswer.self).token)"]
            let key = try Self.request(records, "POST", "/v1/keys", headers: ops, body: APIKeyRequestBody(name: "monitoring", scopes: ["read-report"]))
            #expect(key.status == 201, "\(key.text)")
            _ = try Self.request(records, "GET", "/v1/keys", headers: ops)
            _ = try Self.request(records, "DELETE", "/v1/keys/\(try key.decode(APIKeyCreatedAnswer.self).key.id)", headers: ops)
            _ = try Self.request(records, "DELETE", "/v1/keys/0000000000000000", headers: ops)
            _ = try Self.request(records, "GET", "/v1/roster", headers: user)  // an officer is not the admin: 403

            _ = try Self.request(records, "POST", "/v1/files", headers: user, body: FileRecord(number: "E-7/2026", subject: "Tender", department: "IT"))
            _ = try Self.request(records, "POST", "/v1/files", headers: user, body: FileRecord(number: "E-7/2026", subject: "Tender", department: "IT"))
            _ = try Self.request(records, "GET", "/v1/files", headers: user)
            _ = try Self.request(
                daemon, "POST", "/v1/sign/batch", headers: auth,
                body: BatchSignRequestBody(
                    key: Self.softKey, notes: [.init(extract: extract, fileNumber: "E-7/2026", noteID: "D-1")], timeStamp: false, pin: softPIN))
            let first = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: Self.softKey, pin: softPIN, note: "N-1", extract: extract))
            let appended = try Self.request(
                records, "POST", "/v1/files/E-7%2F2026/entries?wait=true", headers: user,
                body: AppendRequestBody(kind: .note, noteID: "N-1", content: extract, signature: Array(first.body)))
            #expect(appended.status == 201, "\(appended.text)")
            #expect(try appended.decode(AppendAnswer.self).inclusion?.treeSize == 1, "wait=true answers with the proof: \(appended.text)")
            let second = try Self.request(
                daemon, "POST", "/v1/sign", headers: auth, body: Self.signBody(key: Self.softKey, pin: softPIN, note: "N-2", extract: extract))
            _ = try Self.request(
                records, "POST", "/v1/files/E-7%2F2026/entries", headers: user,
                body: AppendRequestBody(kind: .note, noteID: "N-2", content: extract, signature: Array(second.body)))  // over the old head: 409
            // A batch (POST /v1/entries): a note over the current head goes in; the stale one, a file that does not
            // exist and a body that does not read are each refused alone.
            var third = Self.signBody(key: Self.softKey, pin: softPIN, note: "N-3", extract: extract)
            third.previousHash = try appended.decode(AppendAnswer.self).entry.hash
            let thirdSigned = try Self.request(daemon, "POST", "/v1/sign", headers: auth, body: third)
            let batch = try Self.request(
                records, "POST", "/v1/entries", headers: user,
                body: BatchAppendRequestBody(entries: [
                    .init(file: "E-7/2026", kind: .note, noteID: "N-3", content: extract, signature: Array(thirdSigned.body)),
                    .init(file: "E-7/2026", kind: .note, noteID: "N-2", content: extract, signature: Array(second.body)),
                    .init(file: "NO-SUCH-FILE", kind: .note, noteID: "N-1", content: extract, signature: Array(second.body)),
                    .init(file: "E-7/2026", kind: .note, noteID: "N-4", content: [], signature: []),
                ]))
            let results = try batch.decode(BatchAppendAnswer.self).results
            #expect(results.map(\.status) == [201, 409, 404, 422], "\(batch.text)")
            #expect(results[0].appended?.entry.sequence == 2 && results[0].appended?.leafIndex == 1, "\(batch.text)")
            _ = try Self.request(records, "POST", "/v1/entries", headers: user, json: ["entries": "not a list"])  // 400
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026", headers: user)
            _ = try Self.request(records, "GET", "/v1/files/NO-SUCH-FILE", headers: user)
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026/bundle", headers: user)
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026/report", headers: user)
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026/report", headers: user + ["Accept: text/html", "Accept-Language: hi"])
            _ = try Self.request(records, "GET", "/v1/files/NO-SUCH-FILE/report", headers: user)
            // The department log: its key, heads, proofs and a witness's cosignature (the Finance document signer).
            let logInfo = try Self.request(records, "GET", "/v1/log").decode(LogInfoAnswer.self)
            let head = try Self.request(records, "GET", "/v1/log/checkpoint")
            #expect(head.status == 200 && head.text.hasPrefix(logInfo.origin + "\n2\n"), "two entries, two leaves: \(head.text)")
            _ = try Self.request(records, "GET", "/v1/log/checkpoint?size=99")  // 404
            _ = try Self.request(records, "GET", "/v1/log/checkpoint?size=x")  // 400
            #expect(try Self.request(records, "POST", "/v1/log/checkpoint", headers: user).status == 200)
            _ = try Self.request(records, "POST", "/v1/log/checkpoint")  // 401
            #expect(try Self.request(records, "GET", "/v1/log/proof/inclusion?leaf=0").decode(InclusionView.self).treeSize == 2)
            _ = try Self.request(records, "GET", "/v1/log/proof/inclusion?file=E-7%2F2026&sequence=1", headers: user)
            _ = try Self.request(records, "GET", "/v1/log/proof/inclusion?leaf=5")  // 400: no head covers it
            _ = try Self.request(records, "GET", "/v1/log/proof/inclusion")  // 400
            _ = try Self.request(records, "GET", "/v1/log/proof/consistency?from=0&to=2")
            _ = try Self.request(records, "GET", "/v1/log/proof/consistency?from=1&to=7")  // 404
            let note = try SignedNote(parsing: Array(head.body))
            let witness = try X509NoteKey(
                name: "Finance-witness", certificate: try CertificateFolder.load(file: testCerts.path + "/certs/docsigner-finance.crt")[0])
            let witnessKey = try SoftwareKey(pemFile: testCerts.path + "/keys/docsigner-finance.key")
            let cosigned = try note.adding(try witness.sign(note.text) { try witnessKey.sign($0).bytes })
            let witnessPEM = PEM.encode(witness.certificate.der, label: "CERTIFICATE")
            let cosignature = try Self.request(
                records, "POST", "/v1/log/cosignatures", headers: ops,
                body: CosignatureBody(checkpoint: cosigned.encoded, name: witness.name, certificate: witnessPEM))
            #expect(cosignature.status == 201, "\(cosignature.text)")
            let byPerson = try Self.request(
                records, "POST", "/v1/log/cosignatures", headers: user,
                body: CosignatureBody(checkpoint: cosigned.encoded, name: witness.name, certificate: witnessPEM))
            #expect(byPerson.status == 403, "a witness is a machine, not a person's session: \(byPerson.text)")
            #expect(try Self.request(records, "GET", "/v1/log/checkpoint").text.contains("— Finance-witness "))
            _ = try Self.request(
                records, "POST", "/v1/log/cosignatures", headers: ops,
                body: CosignatureBody(checkpoint: note.encoded, name: witness.name, certificate: witnessPEM))  // 422: no line by the witness
            _ = try Self.request(
                records, "POST", "/v1/log/cosignatures", headers: ops, body: CosignatureBody(checkpoint: "x", name: "w", certificate: "y"))  // 400
            let approval = try Self.request(
                records, "POST", "/v1/files/E-7%2F2026/approvals", headers: user,
                body: ApprovalRequestBody(
                    noteID: "N-2", extractHash: SHA256Hasher.hash(extract), minister: "Shri R. K. Singh", pps: [[UInt8](repeating: 0xab, count: 32)]))
            #expect(approval.status == 201, "\(approval.text)")
            _ = try Self.request(
                records, "POST", "/v1/files/E-7%2F2026/approvals", headers: user,
                json: [
                    "noteID": "N-2", "extractSHA256": "12", "minister": "M", "pps": [String(repeating: "ab", count: 32)],
                ])
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026/approvals/\(approval.json["id"] as? String ?? "?")", headers: user)
            _ = try Self.request(records, "GET", "/v1/files/E-7%2F2026/approvals/AR-NOSUCHONE", headers: user)
            _ = try Self.request(records, "POST", "/v1/verify", headers: user, body: VerifyRequestBody(signature: Array(signed.body), content: extract))
            _ = try Self.request(daemon, "DELETE", "/v1/admin/pairings?origin=https%3A%2F%2Feoffice.test", headers: admin)
            _ = try Self.request(daemon, "GET", "/v1/tokens", headers: auth)  // revoked: 401
            _ = try Self.request(records, "GET", "/v1/files", headers: ["Authorization: Bearer not-a-session"])  // 401
            _ = try Self.request(daemon, "GET", "/v1/health", headers: ["Host: rebind.attacker.example"])
            _ = try Self.request(daemon, "GET", "/v1/health", headers: ["Origin: https://evil.example"])
            _ = try Self.request(records, "GET", "/v1/health")

            let daily = try Self.request(records, "GET", "/v1/reports/daily?from=2000-01-01&to=2100-12-31", headers: ops)
            #expect(daily.status == 200 && (daily.json["rows"] as? [Any]) != nil, "\(daily.text)")
            _ = try Self.request(records, "GET", "/v1/reports/daily?from=yesterday", headers: ops)
            // The scan upload (its success and refusals are checked against the document in ScanUploadTests).
            _ = try Self.request(records, "POST", "/v1/files/E-7%2F2026/approvals/AR-NONE/scan", headers: ops)
            _ = try Self.request(records, "POST", "/v1/logout", headers: user)
            _ = try Self.request(records, "DELETE", "/v1/roster/\(officer)", headers: ops)
            let checked = try Self.checkOpenAPI(daemon, requireAll: true)
            #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
            let statuses = Set(
                try String(contentsOfFile: daemon.exchanges, encoding: .utf8).split(separator: "\n").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["status"] as? Int
                })
            #expect(statuses.isSuperset(of: [200, 201, 400, 401, 403, 404, 409, 421, 422]), "errors were exercised too: \(statuses.sorted())")
        }
    }
}
