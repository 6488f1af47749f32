import Foundation
import SignKit
import Testing
import TestSupport

/// A department on real parts: PostgreSQL; two records service instances on it (A over HTTPS, B over http on
/// loopback); two officers' agents (two state folders) with the emulated card and SoftHSM2. Officers log in with their
/// DSC through their agent, note a file through either instance, the note goes to the Minister, the PPS uploads the
/// hand-signed scan through the other instance, the nodal officer's report counts it all, and each instance's bundle
/// verifies offline and holds nothing of another file. Then everything that must be refused is, with nothing stored.
@Suite("The records service: one department on PostgreSQL, two instances, two agents", .serialized)
struct RecordsServiceTests {
    static let origin = DaemonTests.origin
    static let number = ScanUploadTests.number  // ScanUploadTests.attest signs attestations for this file
    static let path = ScanUploadTests.path
    static let minister = "Shri Th. Biswajit Singh"
    /// The rig has four certificates that may sign (officer-rsa on the card and in SoftHSM2, officer-ec, pps,
    /// minister): the Minister's serves as the nodal officer, then as an auditor, and signs another department's file.
    static let officer2Key = "pkcs11:token=SignService%20Test;id=%02;type=private"
    static let nodalKey = DaemonTests.ministerKey

    /// The department: its PostgreSQL, the two instances, the two agents and the page's pairing with each agent.
    final class Department {
        let folder: TemporaryFolder
        let a: DaemonTests.Daemon
        let b: DaemonTests.Daemon
        let agent1: DaemonTests.Daemon
        let agent2: DaemonTests.Daemon
        let page1: [String]
        let page2: [String]

        init() throws {
            folder = try TemporaryFolder("signservice-department")
            // HTTPS for A: a certificate for 127.0.0.1, made for this run (curl trusts it with --cacert).
            let made = try Command.run(
                Command.which("openssl") ?? "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", folder.path("tls.key"),
                    "-out", folder.path("tls.pem"), "-days", "36500", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                ])
            guard made.status == 0 else { throw RigError("openssl req: \(made.stderr)") }
            // A schema of this run's own: fixed file numbers, and a report that counts only what this test did.
            let schema = try Postgres.freshSchema()
            let postgres: [String: Any] = ["url": schema.url, "migrationURL": schema.ownerURL]
            // Both instances name the same service, so a challenge issued by one is good at the other.
            let shared: [String: Any] = ["postgres": postgres, "serviceName": "https://records.it.example.gov.in"]
            a = try DaemonTests.Daemon(
                role: "records",
                extra: shared.merging(["tls": ["certificateChain": folder.path("tls.pem"), "privateKey": folder.path("tls.key")]]) { $1 })
            b = try DaemonTests.Daemon(role: "records", extra: shared)
            b.exchanges = a.exchanges
            agent1 = try DaemonTests.Daemon()
            agent2 = try DaemonTests.Daemon()
            page1 = ["Origin: \(RecordsServiceTests.origin)", "Authorization: Bearer \(try DaemonTests.pair(agent1))"]
            page2 = ["Origin: \(RecordsServiceTests.origin)", "Authorization: Bearer \(try DaemonTests.pair(agent2))"]
        }

        func stop() {
            for daemon in [a, b, agent1, agent2] { _ = daemon.stop() }
        }

        var operatorA: [String] { ["Authorization: Bearer \(a.adminToken)"] }
    }

    /// A login signature made on `key` through `agent` over a fresh challenge from `records`.
    struct LoginSigned {
        let challenge: [UInt8]
        let signature: [UInt8]
        let fingerprint: String
    }

    static func loginSign(_ records: DaemonTests.Daemon, agent: DaemonTests.Daemon, page: [String], key: String, pin: String) throws -> LoginSigned {
        let issued = try DaemonTests.request(records, "POST", "/v1/login/challenge", headers: ["Origin: \(origin)"])
        #expect(issued.status == 201, "\(issued.text)")
        let challenge = Array(Data(base64Encoded: try issued.decode(ChallengeAnswer.self).challenge) ?? Data())
        let signed = try DaemonTests.request(
            agent, "POST", "/v1/login/sign", headers: page, body: LoginSignRequestBody(challenge: challenge, key: key, pin: pin))
        #expect(signed.status == 200, "\(signed.text)")
        let answer = try signed.decode(LoginSignAnswer.self)
        return LoginSigned(challenge: challenge, signature: Array(Data(base64Encoded: answer.signature) ?? Data()), fingerprint: answer.certificate)
    }

    /// Enrols the key's certificate as `member` (through A's operator), logs in at `records`; the page's headers for
    /// the session.
    static func enrolAndLogIn(
        _ department: Department, at records: DaemonTests.Daemon, agent: DaemonTests.Daemon, page: [String], key: String, pin: String,
        as member: (String) -> RosterMember
    ) throws -> (headers: [String], fingerprint: String, signed: LoginSigned) {
        let signed = try loginSign(records, agent: agent, page: page, key: key, pin: pin)
        let enrolled = try DaemonTests.request(department.a, "POST", "/v1/roster", headers: department.operatorA, body: member(signed.fingerprint))
        #expect(enrolled.status == 200, "\(enrolled.text)")
        let session = try DaemonTests.request(
            records, "POST", "/v1/login", headers: ["Origin: \(origin)"], body: LoginRequestBody(challenge: signed.challenge, signature: signed.signature))
        #expect(session.status == 200, "\(session.text)")
        return (["Origin: \(origin)", "Authorization: Bearer \(try session.decode(SessionAnswer.self).token)"], signed.fingerprint, signed)
    }

    /// A note signed through `agent` over the file's head as `records` reports it.
    static func signNote(
        _ note: String, file: String = number, over head: String, agent: DaemonTests.Daemon, page: [String], key: String, pin: String
    ) throws -> (extract: [UInt8], signature: [UInt8], signer: String) {
        let extract = Array("File \(file), note \(note): placed below for orders.\n".utf8)
        let body = SignRequestBody(
            extract: extract, fileNumber: file, noteID: note, commitment: .proofOfOrigin, key: key, pin: pin, previousHash: Hex.decode(head))
        let signed = try DaemonTests.request(agent, "POST", "/v1/sign", headers: page, body: body)
        #expect(signed.status == 200, "\(signed.text)")
        return (extract, Array(signed.body), signed.header("X-Certificate-SHA256") ?? "?")
    }

    static func head(_ records: DaemonTests.Daemon, _ headers: [String], file: String = path) throws -> (size: Int, head: String) {
        let answer = try DaemonTests.request(records, "GET", file, headers: headers)
        let history = try answer.decode(FileHistoryAnswer.self)
        return (history.size, history.head)
    }

    static func append(_ records: DaemonTests.Daemon, _ headers: [String], note: String, _ signed: (extract: [UInt8], signature: [UInt8], signer: String))
        throws -> DaemonTests.Answer
    {
        try DaemonTests.request(
            records, "POST", path + "/entries", headers: headers,
            body: AppendRequestBody(kind: .note, noteID: note, content: signed.extract, signature: signed.signature))
    }

    @Test(
        "officers note through two agents and two instances, the PPS uploads through the other, the nodal officer's report counts it, both bundles verify and hold only this file; every refusal stores nothing; racing appends make one chain"
    )
    func department() async throws {
        try await Rig.exclusive {
            let department = try Department()
            defer { department.stop() }
            let (a, b, agent1, agent2) = (department.a, department.b, department.agent1, department.agent2)
            let cardPIN = try Rig.secretStrings()[0], softPIN = try Rig.secretStrings()[1]

            // --- Logins: each officer through their own agent, each at either instance.
            let officer1 = try Self.enrolAndLogIn(
                department, at: a, agent: agent1, page: department.page1, key: DaemonTests.cardKey, pin: cardPIN
            ) { RosterMember(fingerprint: $0, name: "Anita Sharma", department: "IT", role: .officer) }
            let officer2 = try Self.enrolAndLogIn(
                department, at: b, agent: agent2, page: department.page2, key: Self.officer2Key, pin: softPIN
            ) { RosterMember(fingerprint: $0, name: "Rajesh Kumar Singh", department: "IT", role: .officer) }
            let pps = try Self.enrolAndLogIn(
                department, at: a, agent: agent2, page: department.page2, key: ScanUploadTests.ppsKey, pin: softPIN
            ) { RosterMember(fingerprint: $0, name: "PPS to the Minister", department: "IT", role: .pps, minister: Self.minister) }
            let nodal = try Self.enrolAndLogIn(
                department, at: b, agent: agent2, page: department.page2, key: Self.nodalKey, pin: softPIN
            ) { RosterMember(fingerprint: $0, name: "Nodal Officer", department: "IT", role: .nodal) }

            // --- Officer 1 opens the file and notes it at A; officer 2 adds a note at B.
            let created = try DaemonTests.request(
                a, "POST", "/v1/files", headers: officer1.headers, body: FileRecord(number: Self.number, subject: "Data centre upgrade", department: "IT"))
            #expect(created.status == 201, "\(created.text)")
            let note1 = try Self.signNote(
                "N-1", over: try Self.head(a, officer1.headers).head, agent: agent1, page: department.page1, key: DaemonTests.cardKey, pin: cardPIN)
            let appended1 = try Self.append(a, officer1.headers, note: "N-1", note1)
            #expect(appended1.status == 201, "\(appended1.text)")
            let note2 = try Self.signNote(
                "N-2", over: try Self.head(b, officer2.headers).head, agent: agent2, page: department.page2, key: Self.officer2Key, pin: softPIN)
            let appended2 = try Self.append(b, officer2.headers, note: "N-2", note2)
            #expect(appended2.status == 201 && (try? appended2.decode(AppendAnswer.self).entry.sequence) == 2, "\(appended2.text)")

            // --- The note goes to the Minister (request at B); the PPS uploads the hand-signed scan at A.
            let requested = try DaemonTests.request(
                b, "POST", Self.path + "/approvals", headers: officer2.headers,
                body: ApprovalRequestBody(
                    noteID: "N-3", extractHash: SHA256Hasher.hash(note2.extract), minister: Self.minister, pps: [Hex.decode(pps.fingerprint)!]))
            #expect(requested.status == 201, "\(requested.text)")
            let request = try ScanUploadTests.approval(a, try #require(requested.json["id"] as? String), auth: pps.headers)
            let printed = ScanFixtures.printedExtract(
                lines: ["File \(Self.number)", "Note N-3", "Request \(request.id)"], qr: try QRCode(text: request.qrText))
            let scan = try department.folder.file("scan.pdf", try ScanFixtures.scan(printed, in: department.folder).pdf).path
            let headNow = try Self.head(a, pps.headers).head
            let attestation = try ScanUploadTests.attest(
                a, request: request, scan: scan, qr: .matched, key: ScanUploadTests.ppsKey, head: headNow, folder: department.folder)
            let uploaded = try DaemonTests.request(
                a, "POST", Self.path + "/approvals/\(request.id)/scan", headers: pps.headers + attestation, bodyFile: scan)
            #expect(uploaded.status == 201, "\(uploaded.text)")

            // --- The nodal officer's report (at B) counts all of it.
            let report = try DaemonTests.request(b, "GET", "/v1/reports/daily?from=2000-01-01&to=2100-12-31&timeZone=UTC", headers: nodal.headers)
            #expect(report.status == 200, "\(report.text)")
            let rows = try report.decode(DailyReport.self).rows.filter { $0.department == "IT" }
            // Notes N-1 and N-2 signed by DSC, and N-3 approved by hand (the scan): three notes on one file.
            #expect(rows.map(\.files).reduce(0, +) == 1 && rows.map(\.notes).reduce(0, +) == 3, "\(report.text)")
            #expect(rows.map(\.signedByDSC).reduce(0, +) == 2, "\(report.text)")
            #expect(rows.map(\.scanApprovals).reduce(0, +) == 1, "\(report.text)")

            // --- Another department's file, signed by another certificate, judged by the same instances.
            _ = try DaemonTests.request(
                a, "POST", "/v1/files", headers: department.operatorA, body: FileRecord(number: "FIN-9/2026", subject: "Budget", department: "Finance"))
            let foreign = try Self.signNote(
                "N-1", file: "FIN-9/2026", over: String(repeating: "0", count: 64), agent: agent2, page: department.page2, key: Self.nodalKey,
                pin: softPIN)
            let foreignAppended = try DaemonTests.request(
                b, "POST", "/v1/files/FIN-9%2F2026/entries", headers: ["Authorization: Bearer \(b.adminToken)"],
                body: AppendRequestBody(kind: .note, noteID: "N-1", content: foreign.extract, signature: foreign.signature))
            #expect(foreignAppended.status == 201, "\(foreignAppended.text)")

            // --- The bundle from either instance verifies offline and holds no certificate of the other file's signer.
            for (name, instance) in [("a", a), ("b", b)] {
                let bundle = try DaemonTests.request(instance, "GET", Self.path + "/bundle", headers: officer1.headers)
                #expect(bundle.status == 200, "\(name): \(bundle.text.prefix(300))")
                let file = try department.folder.file("bundle-\(name).zip", Array(bundle.body))
                let checked = try Command.run(
                    Rig.signctl, ["history", "verify", file.path, "--trust", Rig.root.appendingPathComponent("TestCerts/trust").path])
                #expect(checked.status == 0 && checked.stdout.contains("Valid history: 3 entries"), "\(name): \(checked.stdout)\(checked.stderr)")
                let members = try HistoryBundle.read(file.path)
                let manifest = try BundleManifest.parse(try #require(members["manifest.json"]))
                #expect(manifest.certificates.contains("certificates/\(note1.signer).der"), "\(name): \(manifest.certificates)")
                #expect(!manifest.certificates.contains("certificates/\(foreign.signer).der"), "\(name): the Finance file's signer is in IT's bundle")
            }

            // --- Two instances receiving appends to the same file at the same moment: one chain, no fork, no duplicate.
            var next = 6
            for _ in 0..<4 {
                let (size, head) = try Self.head(a, officer1.headers)
                let first = try Self.signNote("N-\(next)", over: head, agent: agent1, page: department.page1, key: DaemonTests.cardKey, pin: cardPIN)
                let second = try Self.signNote("N-\(next + 1)", over: head, agent: agent2, page: department.page2, key: Self.officer2Key, pin: softPIN)
                let answers = Answers()
                let start = DispatchSemaphore(value: 0), group = DispatchGroup()
                for (instance, headers, note, signed) in [(a, officer1.headers, "N-\(next)", first), (b, officer2.headers, "N-\(next + 1)", second)] {
                    DispatchQueue.global().async(group: group) {
                        start.wait()
                        answers.add(try? Self.append(instance, headers, note: note, signed))
                    }
                }
                start.signal()
                start.signal()
                group.wait()
                let statuses = answers.all.map(\.status).sorted()
                #expect(statuses == [201, 409], "\(answers.all.map(\.text))")
                let newHead = try Self.head(b, officer2.headers)
                #expect(newHead.size == size + 1)
                if let loser = answers.all.first(where: { $0.status == 409 }) {
                    #expect(loser.text.contains(newHead.head), "the 409 names the new head: \(loser.text)")
                }
                next += 2
            }
            let history = try DaemonTests.request(a, "GET", Self.path, headers: officer1.headers).decode(FileHistoryAnswer.self)
            #expect(history.entries.map(\.sequence) == Array(1...history.size))
            #expect(Set(history.entries.map(\.signatureHash)).count == history.size, "no signature twice")
            for (previous, entry) in zip(history.entries, history.entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }

            // --- Refusals: each named, each audited, none stores anything.
            let before = try Self.head(a, officer1.headers)
            let current = before.head
            // An officer of another department appending (officer 2 moved to Finance; the live session follows the roster).
            let moved = try DaemonTests.request(
                a, "POST", "/v1/roster", headers: department.operatorA,
                body: RosterMember(fingerprint: officer2.fingerprint, name: "Rajesh Kumar Singh", department: "Finance", role: .officer))
            #expect(moved.status == 200, "\(moved.text)")
            let byOfficer2 = try Self.signNote("N-90", over: current, agent: agent2, page: department.page2, key: Self.officer2Key, pin: softPIN)
            let otherDepartment = try Self.append(b, officer2.headers, note: "N-90", byOfficer2)
            #expect(otherDepartment.status == 403 && otherDepartment.text.contains("forbidden"), "\(otherDepartment.text)")
            // A signature whose signer is not the logged-in officer.
            let notTheirs = try Self.append(a, officer1.headers, note: "N-90", byOfficer2)
            #expect(notTheirs.status == 403 && notTheirs.text.contains("signer-mismatch"), "\(notTheirs.text)")
            // A forged session and an unknown API key.
            let forged = try Self.append(a, ["Authorization: Bearer " + String(repeating: "A", count: 43)], note: "N-90", byOfficer2)
            #expect(forged.status == 401 && forged.text.contains("unauthenticated"), "\(forged.text)")
            let unknownKey = try Self.append(b, ["Authorization: ApiKey ssk_" + String(repeating: "B", count: 43)], note: "N-90", byOfficer2)
            #expect(unknownKey.status == 401 && unknownKey.text.contains("unknown-key"), "\(unknownKey.text)")
            // A login signature offered as a note.
            let loginAsNote = try DaemonTests.request(
                a, "POST", Self.path + "/entries", headers: officer1.headers,
                body: AppendRequestBody(kind: .note, noteID: "N-90", content: officer1.signed.challenge, signature: officer1.signed.signature))
            #expect(loginAsNote.status == 422 && loginAsNote.text.contains("login signature"), "\(loginAsNote.text)")
            // An auditor writing (the nodal officer's certificate enrolled anew as an auditor).
            let audited = try DaemonTests.request(
                a, "POST", "/v1/roster", headers: department.operatorA,
                body: RosterMember(fingerprint: nodal.fingerprint, name: "Auditor", department: "Audit", role: .auditor))
            #expect(audited.status == 200, "\(audited.text)")
            let auditor = nodal
            let auditorAppend = try Self.append(a, auditor.headers, note: "N-90", byOfficer2)
            #expect(auditorAppend.status == 403 && auditorAppend.text.contains("forbidden"), "\(auditorAppend.text)")
            let auditorFile = try DaemonTests.request(
                b, "POST", "/v1/files", headers: auditor.headers, body: FileRecord(number: "AUD-1/2026", subject: "x", department: "IT"))
            #expect(auditorFile.status == 403, "\(auditorFile.text)")
            let auditorRead = try DaemonTests.request(b, "GET", Self.path, headers: auditor.headers)
            #expect(auditorRead.status == 200, "an auditor reads every department: \(auditorRead.text)")
            // A PPS uploading for another Minister.
            let otherRequest = try DaemonTests.request(
                a, "POST", Self.path + "/approvals", headers: officer1.headers,
                body: ApprovalRequestBody(
                    noteID: "N-5", extractHash: SHA256Hasher.hash(note1.extract), minister: "Shri Another Minister", pps: [Hex.decode(pps.fingerprint)!]))
            #expect(otherRequest.status == 201, "\(otherRequest.text)")
            let other = try ScanUploadTests.approval(a, try #require(otherRequest.json["id"] as? String), auth: officer1.headers)
            let otherAttestation = try ScanUploadTests.attest(
                a, request: other, scan: scan, qr: .matched, key: ScanUploadTests.ppsKey, head: current, folder: department.folder)
            let wrongMinister = try DaemonTests.request(
                b, "POST", Self.path + "/approvals/\(other.id)/scan", headers: pps.headers + otherAttestation, bodyFile: scan)
            #expect(wrongMinister.status == 403 && wrongMinister.text.contains("forbidden"), "\(wrongMinister.text)")
            #expect(try Self.head(b, officer1.headers) == before, "nothing was stored by any refusal")
            #expect(try ScanUploadTests.approval(a, other.id, auth: officer1.headers).status == .open)
            let audit = try String(contentsOfFile: a.state + "/audit.log", encoding: .utf8) + String(contentsOfFile: b.state + "/audit.log", encoding: .utf8)
            for code in ["forbidden", "signer-mismatch", "unauthenticated", "unknown-key"] {
                #expect(audit.contains(code), "the refusal \(code) is audited")
            }

            // Every exchange with both instances and both agents answers as docs/openapi.yaml says.
            let checked = try DaemonTests.checkOpenAPI(a)
            #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
            for daemon in [a, b, agent1, agent2] {
                #expect(!daemon.everythingWritten().contains { $0.contains(softPIN) || $0.contains(cardPIN) }, "a PIN in what a daemon wrote")
            }
        }
    }

    @Test("signctl as an officer: records login with the DSC, a file created and a note signed and appended in one command, as that officer")
    func signctlOfficer() async throws {
        try await Rig.exclusive {
            let records = try DaemonTests.Daemon(role: "records")
            defer { _ = records.stop() }
            let folder = try TemporaryFolder("signservice-officer")
            let softPIN = try Rig.secretStrings()[1]
            let mine = ["--state-dir", folder.path("state")]  // the officer's own state folder: sessions/, no admin token
            func signctl(_ arguments: [String], pin: Bool = false) throws -> Command.Result {
                try Command.run(Rig.signctl, arguments + mine, stdin: pin ? Data((softPIN + "\n").utf8) : nil)
            }
            // Not logged in, and no admin token of that service in the officer's folder: told to log in.
            let before = try signctl(["history", "show", "E-1/2026", "--records", records.url])
            #expect(before.status == 5 && before.stderr.contains("signctl records login"), "\(before.stderr)")
            // The officer's certificate in the roster (by the operator), then the login on the token.
            let key = DaemonTests.softKey
            let certificate = try CertificateFolder.load(file: Rig.root.appendingPathComponent("TestCerts/certs/officer-rsa.crt").path)[0]
            let member = RosterMember(fingerprint: Hex.encode(certificate.sha256Fingerprint), name: "Anita Sharma", department: "IT", role: .officer)
            // The operator (signctl on the service's machine, its admin token) enrols her.
            let operatorFolder = ["--records", records.url, "--state-dir", records.state]
            let enrolled = try Command.run(
                Rig.signctl,
                [
                    "records", "roster", "add", "--certificate", Rig.root.appendingPathComponent("TestCerts/certs/officer-rsa.crt").path,
                    "--name", "Anita Sharma", "--department", "IT", "--role", "officer",
                ] + operatorFolder)
            #expect(
                enrolled.status == 0 && enrolled.stdout.contains("Anita Sharma: officer of IT, certificate \(member.fingerprint)"),
                "\(enrolled.stdout)\(enrolled.stderr)")
            let listed = try Command.run(Rig.signctl, ["records", "roster", "list"] + operatorFolder)
            #expect(
                listed.status == 0 && listed.stdout.contains(member.fingerprint) && listed.stdout.contains("1 member(s)"), "\(listed.stdout)\(listed.stderr)")
            let login = try signctl(["records", "login", "--records", records.url, "--key", key, "--pin-fd", "0"], pin: true)
            #expect(login.status == 0 && login.stdout.contains("logged in to \(records.url) as Anita Sharma (officer, IT)"), "\(login.stdout)\(login.stderr)")
            let kept = try FileManager.default.attributesOfItem(atPath: folder.path("state/sessions"))
            #expect((kept[.posixPermissions] as? Int) == 0o700)
            let created = try signctl(["history", "create", "E-1/2026", "--subject", "Tender", "--department", "IT", "--records", records.url])
            #expect(created.status == 0, "\(created.stderr)")
            // Another department's file is refused to her, by the service.
            let foreign = try signctl(["history", "create", "F-1/2026", "--subject", "Budget", "--department", "Finance", "--records", records.url])
            #expect(foreign.status != 0 && foreign.stderr.contains("forbidden"), "\(foreign.stderr)")
            let note = try folder.file("n1.txt", Array("File E-1/2026, note N-1: the tender is put up.\n".utf8))
            let signed = try signctl(
                ["sign", note.path, "--key", key, "--file-number", "E-1/2026", "--note-id", "N-1", "--records", records.url, "--pin-fd", "0"], pin: true)
            #expect(signed.status == 0 && signed.stdout.contains("appended entry 1 (note, note N-1) to E-1/2026"), "\(signed.stdout)\(signed.stderr)")
            let shown = try signctl(["history", "show", "E-1/2026", "--records", records.url, "--json"])
            let history = try JSONOutput.decoder().decode(FileHistoryAnswer.self, from: shown.stdoutData)
            #expect(history.size == 1 && history.entries.first?.signerFingerprint == member.fingerprint)
            let audit = try String(contentsOfFile: records.state + "/audit.log", encoding: .utf8)
            #expect(audit.contains("Anita Sharma (officer, IT)"), "the append is audited under the officer's name")
            let logout = try signctl(["records", "logout", "--records", records.url])
            #expect(logout.status == 0 && !FileManager.default.fileExists(atPath: DaemonTests.sessionFile(records.url, state: folder.path("state"))))
            // Taken off the roster: she cannot log in again.
            let removed = try Command.run(Rig.signctl, ["records", "roster", "remove", member.fingerprint] + operatorFolder)
            #expect(removed.status == 0, "\(removed.stderr)")
            let again = try signctl(["records", "login", "--records", records.url, "--key", key, "--pin-fd", "0"], pin: true)
            #expect(again.status == 1 && again.stderr.contains("roster"), "\(again.stdout)\(again.stderr)")
        }
    }

    final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var answers: [DaemonTests.Answer] = []
        func add(_ answer: DaemonTests.Answer?) { lock.withLock { if let answer { answers.append(answer) } } }
        var all: [DaemonTests.Answer] { lock.withLock { answers } }
    }
}
