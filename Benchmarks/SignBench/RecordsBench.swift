import ArgumentParser
import Foundation
import SignKit
import Synchronization
import TestSupport

/// The records service under a department's load (issue 18): simulated officers append notes to many files through
/// two `SignService records` instances on one PostgreSQL, beside pgbench on the same server with the same client
/// count and the document signer's raw C_Sign rate on the rig's SoftHSM2, both measured in the same run.
struct RecordsRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Appends/s through two records instances on PostgreSQL (the department log on) beside pgbench and the document signer's raw C_Sign/s.",
        discussion: """
            Needs the token rig (scripts/rig.sh up; its CRL server publishes the throwaway PKI's CRLs and SoftHSM2 \
            holds the document signer) and the test PostgreSQL (scripts/postgres.sh up; source its env.sh). Setup, \
            not timed: a throwaway PKI (root, sub-CA, --officers EC P-256 officer certificates, each with its own key \
            and a CRL distribution point on the rig), two release `SignService records` instances on the same \
            database, the roster, --files files and one DSC login per officer. Then the references (pgbench -N with \
            --clients clients; raw C_Sign on the document-signer key, one session), the load (--clients threads, each \
            a simulated officer's desk: sign a note over the file's head with the officer's software key, POST it to \
            instance A or B in turn; a 409 is contention, re-signed over the head it names), and the references again.
            """)

    @Option(help: "Officers in the roster (each with a certificate and key of their own).")
    var officers = 200

    @Option(help: "Departments the officers and files are spread over.")
    var departments = 10

    @Option(help: "Files appended to (spread over the departments).")
    var files = 100

    @Option(help: "Concurrent simulated officers (threads), and pgbench's client count.")
    var clients = 16

    @Option(help: "Length of the timed load, seconds.")
    var seconds = 20.0

    @Option(help: "Warm-up before the timed load, seconds (same loop, not counted).")
    var warmup = 3.0

    @Option(name: .customLong("pgbench-seconds"), help: "Length of each pgbench run.")
    var pgbenchSeconds = 15

    @Option(name: .customLong("sign-seconds"), help: "Length of each raw C_Sign measurement.")
    var signSeconds = 5.0

    @Option(name: .customLong("extract-bytes"), help: "Size of each note extract.")
    var extractBytes = 1500

    @Option(
        help: """
            Notes per request: 1 posts each note alone (POST /v1/files/{file}/entries); more, each desk's officer signs \
            that many notes for as many files of the department and posts them together (POST /v1/entries, one store \
            transaction), as an officer's batch of drafts signed with one PIN.
            """)
    var batch = 1

    @Flag(
        help: """
            With --batch: each desk appends only to files of its own inbox (each department's files dealt out among the \
            desks), as an e-Office file is with one officer at a time; without it, any file of the department at random \
            (contention: a 409 is a note signed in vain).
            """)
    var inbox = false

    @Option(help: "The SignService binary (default: next to this benchmark).")
    var daemon: String?

    @Option(name: .customLong("docsigner-key"), help: "PKCS#11 URI of the document signer's key on the rig.")
    var docsignerKey = "pkcs11:token=SignService%20DocSigner;id=%10;type=private"

    @Option(name: .customLong("pin-file"), help: "The document signer's PIN file (default: the rig's softhsm.pin).")
    var pinFile: String?

    @Option(name: .customLong("test-certs"), help: "The TestCerts folder (the document signer's chain).")
    var testCerts = FileManager.default.currentDirectoryPath + "/TestCerts"

    @Flag(help: "Keep the instances' folders (configs, logs, state) and print where they are.")
    var keep = false

    func run() throws {
        // Setup, not timed.
        let environment = try Preflight.check()
        let binary = daemon ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("SignService").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no SignService at \(binary): swift build -c release --product SignService, or pass --daemon")
        }
        let pinPath = pinFile ?? (Bench.rigFolder() + "/softhsm.pin")
        guard FileManager.default.isReadableFile(atPath: pinPath) else { throw ValidationError("no PIN file \(pinPath): start the rig (scripts/rig.sh up)") }
        guard officers >= departments, files >= departments, clients >= 1, departments >= 1 else {
            throw ValidationError("need at least one officer and one file per department, and one client")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("records: \(officers) officers in \(departments) departments, \(files) files, \(clients) simulated officers; \(cores) cores")
        print("PostgreSQL 127.0.0.1:\(environment.postgresPort); rig \(Bench.rigFolder()); SignService \(binary)")

        var clock = Stopwatch()
        let people = try Department.make(officers: officers, departments: departments)
        print(
            String(format: "setup: throwaway PKI (root, sub-CA, %d officer certificates, one EC P-256 key each, in parallel) in %.1f s", officers, clock.lap()))

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signbench-records-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }
        let trust = folder + "/trust"
        try FileManager.default.createDirectory(atPath: trust, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: people.root.certificatePath, toPath: trust + "/bench-root.pem")
        let settings = RecordsInstance.Settings(
            binary: binary, trust: trust, postgresURL: environment.postgresURL, migrationURL: environment.ownerURL,
            docsigner: ["key": docsignerKey, "pinFile": pinPath, "chainFile": testCerts + "/ca/chain-docsigner.pem"])
        let a = try RecordsInstance(name: "A", folder: folder + "/a", settings: settings)
        defer { a.stop() }
        let b = try RecordsInstance(name: "B", folder: folder + "/b", settings: settings)
        defer { b.stop() }
        let instances = [a, b]
        print(String(format: "setup: instances A (port %d, pid %d) and B (port %d, pid %d) started in %.1f s", a.port, a.pid, b.port, b.pid, clock.lap()))
        if keep { print("kept: \(folder) (config, service.log and state of each instance)") }

        // The roster, through both instances (one database): every officer, and one whose certificate is revoked.
        let run = String(UUID().uuidString.prefix(6)).lowercased()
        for (index, officer) in (people.officers + [people.revoked]).enumerated() {
            let instance = instances[index % 2]
            try instance.admin(
                "POST", "/v1/roster",
                RosterMember(fingerprint: officer.fingerprint, name: officer.issued.name, department: officer.department, role: .officer))
        }
        var numbers = [[String]](repeating: [], count: departments)
        for index in 0..<files {
            let department = index % departments
            let number = "BENCH-\(run)-\(department)/\(index)/2026"
            try instances[index % 2].admin(
                "POST", "/v1/files", FileRecord(number: number, subject: "load benchmark file \(index)", department: Department.name(department)))
            numbers[department].append(number)
        }
        print(String(format: "setup: roster of %d (+1 revoked) and %d files in %.1f s", officers, files, clock.lap()))

        // One DSC login per officer, on A and B in turn; the revoked officer must be refused.
        var sessions = [String]()
        for (index, officer) in people.officers.enumerated() {
            sessions.append(try instances[index % 2].login(officer, chain: [people.subCA.certificate]))
        }
        do {
            _ = try a.login(people.revoked, chain: [people.subCA.certificate])
            throw ValidationError("the officer whose certificate is on the sub-CA's CRL logged in: revocation is not being checked")
        } catch let refused as RecordsInstance.Refused {
            print(
                "setup: \(officers) DSC logins in \(String(format: "%.1f", clock.lap())) s; revoked officer refused: HTTP \(refused.status) \(refused.code ?? "")"
            )
        }

        // References before the load.
        let references = References(
            clients: clients, pgbenchSeconds: pgbenchSeconds, signSeconds: signSeconds, docsignerKey: docsignerKey, pinPath: pinPath, environment: environment)
        try references.initialize()
        let pgbenchBefore = try references.pgbench()
        let signBefore = try references.rawSign()
        print(String(format: "reference (before): pgbench %.1f tps, raw C_Sign %.1f/s", pgbenchBefore, signBefore))

        // The load.
        let load = Load(
            instances: instances.map(\.port), people: people, sessions: sessions, numbers: numbers, clients: clients, warmup: warmup,
            seconds: seconds, extractBytes: extractBytes, batch: batch, inbox: inbox)
        let usage = CPUUsage(pids: ["instance A": [a.pid], "instance B": [b.pid]], postmaster: environment.postmasterPID)
        let result = try load.run(usage: usage)

        // References after the load.
        let pgbenchAfter = try references.pgbench()
        let signAfter = try references.rawSign()
        print(String(format: "reference (after):  pgbench %.1f tps, raw C_Sign %.1f/s", pgbenchAfter, signAfter))

        let pgbenchTPS = (pgbenchBefore + pgbenchAfter) / 2, signRate = (signBefore + signAfter) / 2
        let lower = min(pgbenchTPS, signRate)
        print("")
        print(
            "load: \(clients) simulated officers, \(String(format: "%.0f", seconds)) s after \(String(format: "%.0f", warmup)) s of warm-up, POSTs to A and B in turn, "
                + (batch == 1 ? "one note each" : "\(batch) notes each (POST /v1/entries; an append's latency is its request's)")
                + (inbox ? ", each desk's own files" : "")
        )
        print("  appends/s      p50 ms    p99 ms    409s   errors   appends")
        print(
            String(
                format: "  %9.1f  %10.2f  %8.2f  %6d  %7d  %8d", result.rate, result.p50 * 1000, result.p99 * 1000, result.conflicts, result.errors,
                result.appended))
        print(String(format: "  pgbench tps (-N, -c %d -j 2, %d s; mean of before and after)  %10.1f", clients, pgbenchSeconds, pgbenchTPS))
        print(String(format: "  raw C_Sign/s (document signer, one session; mean)          %10.1f", signRate))
        print(
            String(
                format: "  ratio appends/s / min(pgbench tps, C_Sign/s) = %.1f / %.1f = %.3f (issue 18's target >= 0.5), errors %d (target 0)", result.rate,
                lower, result.rate / lower, result.errors))
        // Issue 21: with the department log, one document-signer signature per tree head, not per append.
        print(
            String(
                format:
                    "  appends/s / raw C_Sign/s = %.3f (target > 1: faster than one signature per append could go); appends/s / pgbench tps = %.3f (target >= 0.5)",
                result.rate / signRate, result.rate / pgbenchTPS))
        if let log = try? a.logHead() {
            print("  department log: latest signed head of \(log.size) leaves (every append is a leaf; heads at most 1 s apart)")
        }
        for sample in result.errorSamples { print("  error: \(sample)") }
        print("")
        print("where the time goes (timed window):")
        print(
            String(
                format:
                    "  per append, client side: sign %.2f ms (CAdES over the head, software EC key), POST %.2f ms (mean); 409s: %d head-moved, %d stale head",
                result.meanSign * 1000, result.meanPost * 1000, result.headMoved, result.staleHead))
        for line in result.cpu.lines(appends: result.appended, cores: cores) { print("  " + line) }
        print(
            String(
                format: "  the document signer at the raw rate: %.2f ms of C_Sign per append, %.0f%% of one core at %.1f appends/s", 1000 / signRate,
                100 * result.rate / signRate, result.rate))

        // Revocation: what the instances fetched, and one appended signature verified here with the same policy.
        for instance in instances {
            print("  revocation cache of \(instance.name): \(instance.cachedRevocationFiles()) files (CRLs fetched from the rig's CRL server)")
        }
        if let sample = result.sample {
            let verifier = Verifier(
                trust: try TrustStore.load(directory: trust),
                revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: folder + "/check-cache")))
            let verdict = try verifier.verify(signature: sample.signature, content: .bytes(sample.content), at: Date())
            let findings = verdict.revocation.map { "\($0.certificate): \($0.status.rawValue) (\($0.source ?? "-"))" }.joined(separator: "; ")
            print("  an appended signature, verified here (revocation require): \(verdict.indication.rawValue); \(findings)")
        }
    }
}

/// The environment the benchmark needs, checked before anything starts.
struct Preflight {
    let postgresURL: String
    let ownerURL: String
    let postgresPort: Int
    let pgbench: String
    let postmasterPID: Int32?

    static func check() throws -> Preflight {
        try Bench.loadRigEnvironment()
        let environment = ProcessInfo.processInfo.environment
        guard let rig = environment["SIGNSERVICE_RIG"], FileManager.default.fileExists(atPath: rig + "/env.sh"),
            FileManager.default.fileExists(atPath: rig + "/softhsm/softhsm2.conf")
        else {
            throw ValidationError("the token rig is not up: scripts/rig.sh up, then source .rig/env.sh (or set SIGNSERVICE_RIG)")
        }
        let files = URL(string: environment["SIGNSERVICE_TEST_FILES"] ?? "http://127.0.0.1:18790")!
        guard reachable(port: files.port ?? 80) else {
            throw ValidationError("the rig's CRL server (\(files.absoluteString)) does not answer: scripts/rig.sh up (in this network namespace)")
        }
        guard let url = environment["SIGNSERVICE_TEST_POSTGRES_URL"], let owner = environment["SIGNSERVICE_TEST_POSTGRES_OWNER_URL"],
            let pgbench = environment["SIGNSERVICE_TEST_PGBENCH"], let port = environment["SIGNSERVICE_TEST_POSTGRES_PORT"].flatMap({ Int($0) })
        else {
            throw ValidationError("PostgreSQL is not configured: scripts/postgres.sh up, then source \"$(scripts/postgres.sh env)\"")
        }
        guard reachable(port: port) else {
            throw ValidationError("PostgreSQL does not answer on 127.0.0.1:\(port): scripts/postgres.sh up (in this network namespace)")
        }
        guard FileManager.default.isExecutableFile(atPath: pgbench) else { throw ValidationError("no pgbench at \(pgbench) (Debian's postgresql-contrib)") }
        // The postmaster, for CPU accounting (readable when the benchmark runs as root or as the server's user).
        let folder = environment["SIGNSERVICE_PG"].map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
        let postmaster = folder.flatMap { try? String(contentsOfFile: $0 + "/data/postmaster.pid", encoding: .utf8) }
            .flatMap { $0.split(separator: "\n").first.flatMap { Int32($0) } }
        return Preflight(postgresURL: url, ownerURL: owner, postgresPort: port, pgbench: pgbench, postmasterPID: postmaster)
    }

    static func reachable(port: Int) -> Bool {
        let connection = BenchConnection(port: UInt16(port))
        do {
            _ = try connection.send(method: "HEAD", path: "/")
            return true
        } catch let failure as BenchConnection.Failure {
            // Reached, but not an HTTP server (PostgreSQL): the port is open.
            return !failure.description.hasPrefix("connect")
        } catch {
            return false
        }
    }
}

/// The throwaway PKI: a root, a sub-CA and the officers, each with a certificate, key and department.
struct Department: @unchecked Sendable {
    struct Officer: @unchecked Sendable {
        let issued: TestPKI.Issued
        let key: SoftwareKey
        let department: String
        let departmentIndex: Int
        var fingerprint: String { Hex.encode(issued.certificate.sha256Fingerprint) }
    }

    let pki: TestPKI
    let root: TestPKI.Issued
    let subCA: TestPKI.Issued
    let officers: [Officer]
    let revoked: Officer

    static func name(_ index: Int) -> String { String(format: "Department %02d", index) }

    static func make(officers count: Int, departments: Int) throws -> Department {
        let pki = try TestPKI()
        let root = try pki.root("Bench Root")
        let subCA = try pki.issue(
            "Bench Sub-CA", by: root, extensions: ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign"])
        let usage = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation"]
        // openssl runs twice per officer (a key and request, then the certificate): processes on every core.
        let made = Mutex<[Int: UncheckedBox<TestPKI.Issued>]>([:]), failure = Mutex<(any Error)?>(nil), next = Atomic<Int>(0)
        let shared = UncheckedBox((pki, subCA))
        let group = DispatchGroup()
        for _ in 0..<max(2, ProcessInfo.processInfo.activeProcessorCount * 2) {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let (pki, subCA) = shared.value
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < count else { return }
                    do {
                        let issued = UncheckedBox(try pki.issue(String(format: "Bench Officer %03d", index), by: subCA, extensions: usage))
                        made.withLock { $0[index] = issued }
                    } catch {
                        failure.withLock { $0 = error }
                        return
                    }
                }
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        let all = made.withLock { $0 }
        let officers = try (0..<count).map { index in
            let issued = all[index]!.value
            return Officer(issued: issued, key: try issued.key, department: name(index % departments), departmentIndex: index % departments)
        }
        let revokedIssued = try pki.issue("Bench Officer Revoked", by: subCA, extensions: usage)
        let revoked = Officer(issued: revokedIssued, key: try revokedIssued.key, department: name(0), departmentIndex: 0)
        // CRLs on the rig's CRL server, where the certificates' distribution points name them: the root's (empty) and
        // the sub-CA's, listing the revoked officer. The services fetch them as in production (revocation: require).
        try pki.publishCRL(issuer: root)
        try pki.publishCRL(issuer: subCA, revoked: [(revokedIssued, Date().addingTimeInterval(-1), "key_compromise")])
        return Department(pki: pki, root: root, subCA: subCA, officers: officers, revoked: revoked)
    }
}

/// A value handed to another thread that the compiler cannot prove Sendable (used by one thread at a time, or only
/// read).
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// One `SignService records` process with its own state folder on a free loopback port.
final class RecordsInstance {
    struct Settings {
        let binary: String
        let trust: String
        let postgresURL: String
        let migrationURL: String
        let docsigner: [String: String]
    }

    /// A refusal (non-2xx) from the service.
    struct Refused: Error, CustomStringConvertible {
        let status: Int
        let code: String?
        let message: String
        var description: String { "HTTP \(status): \(message)" }
    }

    let name: String
    let folder: String
    let pid: Int32
    let port: Int
    let adminToken: String
    let connection: BenchConnection
    let process: Process

    init(name: String, folder: String, settings: Settings) throws {
        self.name = name
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let config: [String: Any] = [
            "port": 0, "stateDirectory": folder + "/state", "trustDirectory": settings.trust, "logLevel": "warning",
            // One name for the service behind its load balancer: login challenges carry it.
            "serviceName": "https://records.bench.example.gov.in",
            "postgres": ["url": settings.postgresURL, "migrationURL": settings.migrationURL],
            "documentSigner": settings.docsigner,
            // The rig's CRL and OCSP servers are on loopback.
            "fetchFromPrivateAddresses": true,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        let log = folder + "/service.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process = Process()
        process.executableURL = URL(fileURLWithPath: settings.binary)
        process.arguments = ["records", "--config", folder + "/config.json"]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        pid = process.processIdentifier
        var found: Int?
        for _ in 0..<600 where found == nil && process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"records ready on http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last!)
            }
        }
        guard let port = found else {
            kill(pid, SIGKILL)
            throw ValidationError("records instance \(name) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        self.port = port
        connection = BenchConnection(port: UInt16(port))
        adminToken = ((try? String(contentsOfFile: folder + "/state/admin.token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !adminToken.isEmpty else { throw ValidationError("records instance \(name) wrote no admin token in \(folder)/state") }
    }

    /// A JSON request; the decoded answer of a 2xx, `Refused` otherwise.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: some Encodable, token: String?) throws -> [UInt8] {
        var headers = ["Content-Type": "application/json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let answer = try connection.send(method: method, path: path, headers: headers, body: Array(try JSONOutput.encoder(pretty: false).encode(body)))
        guard (200..<300).contains(answer.status) else {
            let error = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(answer.body))
            throw Refused(status: answer.status, code: error?.code, message: error?.error ?? String(decoding: answer.body.prefix(300), as: UTF8.self))
        }
        return answer.body
    }

    func admin(_ method: String, _ path: String, _ body: some Encodable) throws {
        try call(method, path, body, token: adminToken)
    }

    /// The DSC login: a challenge, signed with the officer's key as a login signature, exchanged for a session.
    func login(_ officer: Department.Officer, chain: [X509Certificate]) throws -> String {
        let challenge = try JSONDecoder().decode(ChallengeAnswer.self, from: Data(try call("POST", "/v1/login/challenge", [String: String](), token: nil)))
        guard let bytes = Data(base64Encoded: challenge.challenge) else { throw ValidationError("the challenge is not base64") }
        let read = try LoginChallenge(canonical: Array(bytes))
        let signature = try CAdES.signLogin(
            challenge: Array(bytes), certificate: officer.issued.certificate, binding: LoginBinding(read), signingTime: Date(), chain: chain
        ) { try officer.key.sign($0) }
        let session = try JSONDecoder().decode(
            SessionAnswer.self, from: Data(try call("POST", "/v1/login", LoginRequestBody(challenge: Array(bytes), signature: signature), token: nil)))
        return session.token
    }

    /// The department log's head over every leaf, signed now (POST /v1/log/checkpoint, as the operator).
    func logHead() throws -> TreeHead {
        let answer = try connection.send(method: "POST", path: "/v1/log/checkpoint", headers: ["Authorization": "Bearer \(adminToken)"])
        guard answer.status == 200 else { throw Refused(status: answer.status, code: nil, message: String(decoding: answer.body.prefix(300), as: UTF8.self)) }
        return try TreeHead(checkpoint: try SignedNote(parsing: answer.body).text)
    }

    /// Files in the instance's revocation cache (CRLs it fetched over HTTP and keeps).
    func cachedRevocationFiles() -> Int {
        (FileManager.default.enumerator(atPath: folder + "/state/revocation")?.allObjects.count) ?? 0
    }

    func stop() {
        kill(pid, SIGTERM)
        for _ in 0..<100 where kill(pid, 0) == 0 && process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// pgbench on the same server with the same client count, and the document signer's raw C_Sign.
struct References {
    let clients: Int
    let pgbenchSeconds: Int
    let signSeconds: Double
    let docsignerKey: String
    let pinPath: String
    let environment: Preflight

    var script: String {
        ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_POSTGRES_SCRIPT"] ?? Rig.root.appendingPathComponent("scripts/postgres.sh").path
    }

    /// pgbench's tables (scale 10) in its own schema, as `scripts/postgres.sh pgbench` makes them.
    func initialize() throws {
        let result = try Command.run(script, ["pgbench", "-i", "-s", "10", "-q"])
        guard result.status == 0 else { throw ValidationError("pgbench -i failed: \(result.stderr)") }
    }

    /// tps of pgbench's simple-update script (-N: UPDATE one account, SELECT it, INSERT a history row, one commit),
    /// excluding connection time.
    func pgbench() throws -> Double {
        let result = try Command.run(script, ["pgbench", "-n", "-N", "-c", String(clients), "-j", "2", "-T", String(pgbenchSeconds)])
        guard result.status == 0 else { throw ValidationError("pgbench failed: \(result.stderr)\n\(result.stdout)") }
        for line in result.stdout.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = Double(line.dropFirst(6).split(separator: " ")[0]) { return value }
        }
        throw ValidationError("pgbench printed no tps: \(result.stdout)")
    }

    /// C_SignInit + C_Sign per second on the document signer's key, on one logged-in session (as the service holds it).
    func rawSign() throws -> Double {
        let arguments = try KeyArguments.parse(["--key", docsignerKey, "--pin-file", pinPath])
        let (session, raw, pin) = try arguments.openSessions()
        pin.wipe()
        defer {
            raw.close()
            session.close()
        }
        let message = [UInt8](repeating: 0x31, count: 420)
        return try Bench.measure(seconds: signSeconds) { _ = try raw.sign(message) }
    }
}

/// Seconds between laps.
struct Stopwatch {
    var last = ContinuousClock.now
    mutating func lap() -> Double {
        let now = ContinuousClock.now
        defer { last = now }
        return (now - last).seconds
    }
}
