import Foundation
import SignKit
import Testing
import TestSupport

/// The records service under faults the real stack produces: instances killed with SIGKILL at random moments while
/// notes and scans are appended through both, and PostgreSQL stopped and started under the instances' feet. What an
/// instance acknowledged must be in the store with its blobs, nothing may be half there, and the service must come
/// back without a restart of the instances.
@Suite("The records service under kill -9 and a PostgreSQL restart", .serialized)
struct RecordsCrashTests {
    static let testCerts = Rig.root.appendingPathComponent("TestCerts")

    /// One instance of the records service, restarted on the same state folder after each kill.
    final class Instance: @unchecked Sendable {
        let name: String
        private let lock = NSLock()
        private var daemon: DaemonTests.Daemon
        private var generation = 0
        private var up = true
        let extra: [String: Any]

        init(_ name: String, extra: [String: Any]) throws {
            self.name = name
            self.extra = extra
            daemon = try DaemonTests.Daemon(role: "records", scans: ["acceptWithoutQR": true], extra: extra)
        }

        /// The URL and generation to send a request to, nil while the instance is down.
        var current: (url: String, token: String, generation: Int)? {
            lock.withLock { up ? (daemon.url, daemon.adminToken, generation) : nil }
        }

        /// True when the instance has been killed since `generation` (a failure of that request is the kill's).
        func killed(since generation: Int) -> Bool { lock.withLock { !up || self.generation != generation } }

        func kill9() {
            let pid = lock.withLock { () -> Int32 in
                up = false
                generation += 1
                return daemon.pid
            }
            // Not this process's child (a shell started it): gone once kill(pid, 0) fails, or reaped by init soon after.
            kill(pid, SIGKILL)
            for _ in 0..<100 where Foundation.kill(pid, 0) == 0 { Thread.sleep(forTimeInterval: 0.01) }
        }

        func restart() throws {
            let folder = lock.withLock { daemon.folder }
            let started = try DaemonTests.Daemon(role: "records", scans: ["acceptWithoutQR": true], folder: folder, extra: extra)
            lock.withLock {
                daemon = started
                up = true
            }
        }

        func stop() { _ = lock.withLock { daemon }.stop() }

        /// The instance's state folder (its admin token, for signctl --state-dir).
        var stateFolder: String { lock.withLock { daemon.state } }
    }

    /// What the load saw: acknowledged entries (file, sequence, hash), and failures not explained by a kill.
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var acknowledged: [(file: String, sequence: Int, hash: String)] = []
        private(set) var unexplained: [String] = []
        private(set) var answered = [String: Int]()
        func ack(_ file: String, _ entry: EntryView) { lock.withLock { acknowledged.append((file, entry.sequence, entry.hash)) } }
        func fail(_ what: String) { lock.withLock { unexplained.append(what) } }
        func count(_ status: String) { lock.withLock { answered[status, default: 0] += 1 } }
    }

    /// One request to `instance` (the operator's admin token); nil when the instance is down or was killed meanwhile.
    static func send(
        _ instance: Instance, _ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:], ledger: Ledger
    ) -> (status: Int, body: [UInt8])? {
        guard let target = instance.current else {
            ledger.count("\(instance.name) down")
            return nil
        }
        var all = headers
        all["Authorization"] = "Bearer \(target.token)"
        if body != nil && all["Content-Type"] == nil { all["Content-Type"] = "application/json" }
        do {
            let answer = try HTTPExchange(service: "records \(instance.name)", url: URL(string: target.url + path)!, timeout: 120)
                .send(method: method, headers: all, body: body)
            if answer.status >= 500 && !instance.killed(since: target.generation) {
                ledger.fail("\(instance.name) \(method) \(path): \(answer.status) \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
            return answer
        } catch {
            ledger.count("\(instance.name) no answer")
            if !instance.killed(since: target.generation) { ledger.fail("\(instance.name) \(method) \(path): \(error)") }
            return nil
        }
    }

    static func encoded(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
    }

    /// Signs `content` for `file`/`note` over `head` with a TestCerts software key (as an officer's token would).
    static func sign(_ content: [UInt8], file: String, note: String, head: String, key name: String) throws -> [UInt8] {
        let certificate = try CertificateFolder.load(file: testCerts.appendingPathComponent("certs/\(name).crt").path)[0]
        let key = try SoftwareKey(pemFile: testCerts.appendingPathComponent("keys/\(name).key").path)
        let chain = try CertificateFolder.load(file: testCerts.appendingPathComponent("ca/chain-individual.pem").path)
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: file, noteID: note, previousEntryHash: Hex.decode(head)), commitment: .proofOfOrigin,
            signingTime: TestTime.now, chain: chain)
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: certificate, parameters: parameters) {
            try key.sign($0)
        }
    }

    typealias Answer = (status: Int, body: [UInt8])

    /// One note appended to `file` through `instance`, signed over the head it reads there first: the answers (nil:
    /// none) to the read and, when the read gave the head (`appended`), to the append, and how long the read took. An
    /// acknowledged entry goes into `acks`; a failure a kill does not explain, into `errors`.
    static func appendNote(_ instance: Instance, file: String, note: String, text: String, errors: Ledger, acks: Ledger)
        -> (read: Answer?, readSeconds: Double, appended: Bool, append: Answer?)
    {
        let started = Date()
        let read = send(instance, "GET", "/v1/files/\(encoded(file))", ledger: errors)
        let readSeconds = Date().timeIntervalSince(started)
        guard let read, read.status == 200, let history = try? JSONOutput.decoder().decode(FileHistoryAnswer.self, from: Data(read.body)) else {
            return (read, readSeconds, false, nil)
        }
        let content = Array("File \(file), note \(note): \(text)\n".utf8)
        guard let signature = try? sign(content, file: file, note: note, head: history.head, key: "officer-ec"),
            let body = try? JSONOutput.encoder(pretty: false).encode(AppendRequestBody(kind: .note, noteID: note, content: content, signature: signature))
        else {
            errors.fail("signing \(note) failed")
            return (read, readSeconds, false, nil)
        }
        let answer = send(instance, "POST", "/v1/files/\(encoded(file))/entries", body: Array(body), ledger: errors)
        if let answer, answer.status == 201, let appended = try? JSONOutput.decoder().decode(AppendAnswer.self, from: Data(answer.body)) {
            acks.ack(file, appended.entry)
        }
        return (read, readSeconds, true, answer)
    }

    /// Notes appended to `files` through whichever instance answers, until `stop`.
    static func noteLoad(thread: Int, files: [String], instances: [Instance], ledger: Ledger, stop: @escaping () -> Bool) {
        var round = 0
        while !stop() {
            round += 1
            let file = files[(thread + round) % files.count]
            let instance = instances[(thread + round) % instances.count]
            let text = String(repeating: "text ", count: 1 + round % 50)
            let done = appendNote(instance, file: file, note: "N-\(thread)-\(round)", text: text, errors: ledger, acks: ledger)
            guard done.read?.status == 200 else {
                ledger.count("read failed")
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            guard let answer = done.append else { continue }
            ledger.count("\(answer.status)")
            if answer.status != 201 && answer.status != 409 && answer.status < 500 {
                ledger.fail("\(instance.name) append: \(answer.status) \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
        }
    }

    /// Scans uploaded to `file` (one uploader, so the attestation's head is the file's): an approval request, a blank
    /// one-page PDF attested by the PPS (no QR code, which this service accepts), the upload.
    static func scanLoad(file: String, instances: [Instance], ledger: Ledger, stop: @escaping () -> Bool) {
        let scan = ScanFixtures.pdf(pages: 1)
        let pps = (try? CertificateFolder.load(file: testCerts.appendingPathComponent("certs/pps.crt").path))?.first
        guard let pps else { return ledger.fail("no PPS certificate") }
        var round = 0
        while !stop() {
            round += 1
            let instance = instances[round % instances.count]
            let asked = ApprovalRequestBody(
                noteID: "S-\(round)", extractHash: SHA256Hasher.hash(Array("extract \(round)".utf8)), minister: "Shri Th. Biswajit Singh",
                pps: [pps.sha256Fingerprint])
            guard
                let issued = send(
                    instance, "POST", "/v1/files/\(encoded(file))/approvals", body: Array(try! JSONOutput.encoder(pretty: false).encode(asked)), ledger: ledger),
                issued.status == 201, let json = try? JSONOutput.decoder().decode(ApprovalRequest.JSON.self, from: Data(issued.body)),
                let request = try? json.request(),
                let read = send(instance, "GET", "/v1/files/\(encoded(file))", ledger: ledger),
                let history = try? JSONOutput.decoder().decode(FileHistoryAnswer.self, from: Data(read.body))
            else { continue }
            let attestation = ScanAttestation(
                request: request, scanHash: SHA256Hasher.hash(scan), scanType: .pdf, scanBytes: scan.count, qr: .notRead, at: TestTime.now)
            guard let signature = try? sign(attestation.bytes, file: file, note: request.noteID, head: history.head, key: "pps") else {
                return ledger.fail("attestation signing failed")
            }
            let headers = [
                ScanUploadHeader.attestation: Data(attestation.bytes).base64EncodedString(),
                ScanUploadHeader.attestationSignature: Data(signature).base64EncodedString(), "Content-Type": "application/pdf",
            ]
            guard let answer = send(instance, "POST", "/v1/files/\(encoded(file))/approvals/\(request.id)/scan", body: scan, headers: headers, ledger: ledger)
            else { continue }
            ledger.count("scan \(answer.status)")
            if answer.status == 201, let uploaded = try? JSONOutput.decoder().decode(ScanApprovalAnswer.self, from: Data(answer.body)) {
                ledger.ack(file, uploaded.entry)
            } else if answer.status < 500 {
                ledger.fail("\(instance.name) upload: \(answer.status) \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
        }
    }

    /// Every acknowledged entry is in the store as acknowledged, and each file's bundle (every entry with its extract,
    /// signature and scan, every checkpoint) verifies offline.
    static func checkStore(files: [String], through instance: Instance, ledger: Ledger, folder: TemporaryFolder) throws {
        for file in files {
            let read = try #require(send(instance, "GET", "/v1/files/\(encoded(file))", ledger: ledger))
            let history = try JSONOutput.decoder().decode(FileHistoryAnswer.self, from: Data(read.body))
            let stored = Dictionary(uniqueKeysWithValues: history.entries.map { ($0.sequence, $0.hash) })
            for acknowledged in ledger.acknowledged where acknowledged.file == file {
                #expect(stored[acknowledged.sequence] == acknowledged.hash, "acknowledged entry \(acknowledged.sequence) of \(file) is not as acknowledged")
            }
            let bundle = try #require(send(instance, "GET", "/v1/files/\(encoded(file))/bundle", ledger: ledger))
            #expect(bundle.status == 200)
            let path = try folder.file("\(UUID().uuidString).zip", bundle.body).path
            let checked = try Command.run(
                Rig.signctl, ["history", "verify", path, "--trust", testCerts.appendingPathComponent("trust").path])
            #expect(checked.status == 0 && checked.stdout.contains("Valid history: \(history.size) entr"), "\(file): \(checked.stdout)\(checked.stderr)")
        }
    }

    /// Creates each file (department IT) through `instance`, as its operator.
    static func createFiles(_ files: [String], subject: String, through instance: Instance, ledger: Ledger) throws {
        for file in files {
            let body = try JSONOutput.encoder(pretty: false).encode(FileRecord(number: file, subject: subject, department: "IT"))
            #expect(send(instance, "POST", "/v1/files", body: Array(body), ledger: ledger)?.status == 201, "file \(file) created")
        }
    }

    static func configuration(url: String, ownerURL: String, deadline: Double = 5) -> [String: Any] {
        ["postgres": ["url": url, "migrationURL": ownerURL, "deadlineSeconds": deadline]]
    }

    /// A PostgreSQL server of the test's own (scripts/postgres.sh in a folder of the test), so that stopping it
    /// disturbs no other test, and with md5 logins: these tests open connections by the hundred (every restart of an
    /// instance), and a SCRAM login costs a debug build about 0.85 s (scripts/postgres.sh, AUTH).
    final class Cluster {
        let folder: String
        let environment: [String: String]
        let url: String
        let ownerURL: String

        init(in parent: TemporaryFolder) throws {
            folder = parent.path("pg")
            environment = ["SIGNSERVICE_PG": folder, "SIGNSERVICE_PG_PORT": String(try NewcomerTests.freePort()), "SIGNSERVICE_PG_AUTH": "md5"]
            let ran = try Command.run("/bin/bash", [Self.script, "up"], environment: environment)
            guard ran.status == 0 else { throw RigError("postgres.sh up: \(ran.stdout)\(ran.stderr)") }
            let env = try String(contentsOfFile: folder + "/env.sh", encoding: .utf8)
            url = try Self.exported("SIGNSERVICE_TEST_POSTGRES_URL", from: env)
            ownerURL = try Self.exported("SIGNSERVICE_TEST_POSTGRES_OWNER_URL", from: env)
        }

        /// The value `env.sh` exports as `name`.
        static func exported(_ name: String, from env: String) throws -> String {
            guard let line = env.split(separator: "\n").first(where: { $0.hasPrefix("export \(name)=") }) else {
                throw RigError("\(name) is not in env.sh")
            }
            return String(line.dropFirst("export \(name)=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        }

        static var script: String { Rig.root.appendingPathComponent("scripts/postgres.sh").path }

        func control(_ command: String) throws {
            let ran = try Command.run("/bin/bash", [Self.script, command], environment: environment)
            guard ran.status == 0 else { throw RigError("postgres.sh \(command): \(ran.stdout)\(ran.stderr)") }
        }

        deinit { _ = try? Command.run("/bin/bash", [Self.script, "destroy"], environment: environment) }
    }

    @Test(
        "kill -9 of one instance, 30 times at random moments, during appends and uploads through both: every acknowledged entry is stored whole, the other instance keeps serving"
    )
    func killNine() async throws {
        // Alone among the rig's tests: on 2 cores shared with the whole suite, a database answer could take longer
        // than any deadline a service should keep.
        try await Rig.exclusive { try Self.killNineRun() }
    }

    static func killNineRun() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-records-kill")
        let cluster = try Cluster(in: folder)
        // A kill mid-transaction leaves its row lock until PostgreSQL sees the connection gone: the survivor's wait
        // for it is not the database being away.
        // Tree heads every 50 ms: both instances sign heads all through the load, so the kills land while they do.
        let extra = Self.configuration(url: cluster.url, ownerURL: cluster.ownerURL, deadline: 20).merging(["treeHeadIntervalMilliseconds": 50]) { $1 }
        let instances = [try Instance("A", extra: extra), try Instance("B", extra: extra)]
        defer { instances.forEach { $0.stop() } }
        let info = try JSONOutput.decoder().decode(LogInfoAnswer.self, from: Data(try #require(send(instances[0], "GET", "/v1/log", ledger: Ledger())).body))
        let logKey = try X509NoteKey(name: info.origin, certificate: try #require(try X509Certificate.fromPEM(info.certificate).first))
        let heads = HeadWatch()
        let files = (1...3).map { "KILL-\($0)/2026" }
        let scanFile = "KILL-SCAN/2026"
        let ledger = Ledger()
        try Self.createFiles(files + [scanFile], subject: "kill -9", through: instances[0], ledger: ledger)
        let stopped = Flag()
        let group = DispatchGroup()
        for thread in 0..<3 {
            DispatchQueue.global().async(group: group) {
                Self.noteLoad(thread: thread, files: files, instances: instances, ledger: ledger) { stopped.value }
            }
        }
        DispatchQueue.global().async(group: group) {
            Self.scanLoad(file: scanFile, instances: instances, ledger: ledger) { stopped.value }
        }
        DispatchQueue.global().async(group: group) {
            Self.watchHeads(instances: instances, key: logKey, watch: heads) { stopped.value }
        }
        var kills = 0
        while kills < 30 {
            Thread.sleep(forTimeInterval: Double.random(in: 0.15...0.6))
            let victim = instances[kills % 2]
            victim.kill9()
            kills += 1
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.3))  // the other instance alone for a moment
            try victim.restart()
        }
        Thread.sleep(forTimeInterval: 0.5)
        stopped.value = true
        group.wait()

        #expect(ledger.unexplained.isEmpty, "\(ledger.unexplained.prefix(10)) of answers \(ledger.answered)")
        let scans = ledger.acknowledged.filter { $0.file == scanFile }.count
        #expect(ledger.acknowledged.count - scans >= 30, "the load went on across the kills: \(ledger.answered)")
        #expect(scans >= 1, "scans were uploaded across the kills: \(ledger.answered)")
        try Self.checkStore(files: files + [scanFile], through: instances[1], ledger: ledger, folder: folder)
        try Self.checkLog(heads, key: logKey, files: files + [scanFile], through: instances[1], ledger: ledger)
        withExtendedLifetime(cluster) {}  // the server stays up until the instances are checked
    }

    /// Every tree head the watcher saw, in the order seen, and what broke the log's rules.
    final class HeadWatch: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var seen = [Int: [UInt8]]()
        private(set) var order = [Int]()
        private(set) var violations = [String]()

        func see(_ head: TreeHead, from name: String) {
            lock.withLock {
                if let root = seen[head.size], root != head.rootHash {
                    violations.append("two different heads for size \(head.size) (the second from \(name))")
                }
                if let last = order.last, head.size < last { violations.append("the latest head went back from \(last) to \(head.size) (\(name))") }
                seen[head.size] = head.rootHash
                order.append(head.size)
            }
        }

        func violate(_ what: String) { lock.withLock { violations.append(what) } }
    }

    /// Reads the latest head from each instance in turn, one read after another, until `stop`: each must be signed by
    /// the log's key, no size may have two heads, and the latest size never goes back.
    static func watchHeads(instances: [Instance], key: X509NoteKey, watch: HeadWatch, stop: @escaping () -> Bool) {
        let quiet = Ledger()  // a read refused by a killed instance is not a failure of the log
        var turn = 0
        while !stop() {
            let instance = instances[turn % instances.count]
            turn += 1
            if let answer = send(instance, "GET", "/v1/log/checkpoint", ledger: quiet), answer.status == 200 {
                do {
                    watch.see(try TreeHead(verifying: try SignedNote(parsing: answer.body), origin: key.name, key: key), from: instance.name)
                } catch {
                    watch.violate("\(instance.name) served a head that does not hold: \(error)")
                }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// After the kills: a head over every leaf; each head seen during the load is a prefix of it (a consistency proof
    /// from the store's leaves); every acknowledged entry is in it (an inclusion proof from the entry's own leaf).
    static func checkLog(_ watch: HeadWatch, key: X509NoteKey, files: [String], through instance: Instance, ledger: Ledger) throws {
        #expect(watch.violations.isEmpty, "\(watch.violations.prefix(10))")
        #expect(watch.seen.count >= 30, "heads were signed all through the load: \(watch.seen.count) sizes seen")
        let published = try #require(send(instance, "POST", "/v1/log/checkpoint", ledger: ledger))
        #expect(published.status == 200, "\(String(decoding: published.body, as: UTF8.self))")
        let final = try TreeHead(verifying: try SignedNote(parsing: published.body), origin: key.name, key: key)
        for (size, root) in watch.seen where size > 0 {
            let answer = try #require(send(instance, "GET", "/v1/log/proof/consistency?from=\(size)&to=\(final.size)", ledger: ledger))
            let proof = try #require(try JSONOutput.decoder().decode(ConsistencyView.self, from: Data(answer.body)).proof)
            #expect(proof.isValid(oldRoot: root, newRoot: final.rootHash), "the head of \(size) seen during the load is not a prefix of the final one")
        }
        var proven = 0
        for file in files {
            let read = try #require(send(instance, "GET", "/v1/files/\(encoded(file))", ledger: ledger))
            let history = try JSONOutput.decoder().decode(FileHistoryAnswer.self, from: Data(read.body))
            for entry in history.entries {
                let index = try #require(entry.leafIndex, "entry \(entry.sequence) of \(file) has no leaf")
                let leaf = try DepartmentLogLeaf(
                    origin: key.name, fileNumber: file, sequence: entry.sequence, entryHash: try #require(Hex.decode(entry.hash)),
                    time: try #require(UTCTimeText.parse(entry.time)))
                let answer = try #require(send(instance, "GET", "/v1/log/proof/inclusion?leaf=\(index)&size=\(final.size)", ledger: ledger))
                let proof = try #require(try JSONOutput.decoder().decode(InclusionView.self, from: Data(answer.body)).proof)
                #expect(proof.isValid(leafHash: leaf.leafHash, rootHash: final.rootHash), "entry \(entry.sequence) of \(file) is not in the final head")
                proven += 1
            }
        }
        #expect(proven == final.size, "every leaf is an entry of these files: \(proven) entries, \(final.size) leaves")
    }

    @Test("PostgreSQL stopped in the middle of a load: clear 503s while it is down, then service resumes without restarting the instances")
    func databaseRestart() async throws {
        try await Rig.exclusive { try Self.databaseRestartRun() }
    }

    static func databaseRestartRun() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-records-pg-restart")
        let cluster = try Cluster(in: folder)
        let extra = Self.configuration(url: cluster.url, ownerURL: cluster.ownerURL)
        let instances = [try Instance("A", extra: extra), try Instance("B", extra: extra)]
        defer { instances.forEach { $0.stop() } }
        let ledger = Ledger()
        let files = ["PG-1/2026", "PG-2/2026"]
        try Self.createFiles(files, subject: "restart", through: instances[0], ledger: ledger)
        // Appends before, during and after the outage, through both instances.
        let phase = Phase()
        let stopped = Flag()
        let group = DispatchGroup()
        for thread in 0..<2 {
            DispatchQueue.global().async(group: group) {
                var round = 0
                while !stopped.value {
                    round += 1
                    let instance = instances[(thread + round) % 2], file = files[thread]
                    let now = phase.value
                    // Failures of requests are what this test judges, by phase: the error ledger is not kept.
                    let done = Self.appendNote(instance, file: file, note: "N-\(thread)-\(round)", text: "restart", errors: Ledger(), acks: ledger)
                    var made: [(answer: Answer?, seconds: Double)] = [(done.read, done.readSeconds)]
                    if done.appended { made.append((done.append, 0)) }
                    for (answer, seconds) in made {
                        phase.record(
                            now, status: answer?.status ?? 0, body: answer.map { String(decoding: $0.body.prefix(400), as: UTF8.self) } ?? "",
                            seconds: seconds)
                    }
                    if done.read?.status != 200 { Thread.sleep(forTimeInterval: 0.05) }
                }
            }
        }
        // Appends going in first (a loaded machine may take a while), then the outage.
        for _ in 0..<300 where !(phase.seen["before"] ?? []).contains(201) { Thread.sleep(forTimeInterval: 0.1) }
        phase.value = "down"
        try cluster.control("stop")
        Thread.sleep(forTimeInterval: 12)  // twice a request's deadline (5 s): waiting requests must give up with 503
        try cluster.control("start")
        phase.value = "back"
        Thread.sleep(forTimeInterval: 8)
        stopped.value = true
        group.wait()

        let seen = phase.seen
        #expect((seen["before"] ?? []).contains(201), "appends went in before the outage")
        let during = phase.answers(in: "down")
        #expect(!during.isEmpty, "requests were made while the database was down")
        for answer in during where answer.status != 200 && answer.status != 201 && answer.status != 409 {
            #expect(answer.status == 503 && answer.body.contains("store-unavailable"), "while down: \(answer.status) \(answer.body)")
            #expect(answer.seconds < 8, "answered within the deadline, not hung: \(answer.seconds) s")
        }
        #expect(
            during.contains { $0.status == 503 },
            "the outage was seen as 503s: \(["before", "down", "back"].map { name in "\(name): \(phase.answers(in: name).map { "\($0.status)/\(Int($0.seconds * 10))ds" })" })"
        )
        #expect((seen["back"] ?? []).contains(201), "appends go in again after the restart, through the same instances: \(phase.answers(in: "back").suffix(5))")
        try Self.checkStore(files: files, through: instances[0], ledger: ledger, folder: folder)
        withExtendedLifetime(cluster) {}
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var state = false
        var value: Bool {
            get { lock.withLock { state } }
            set { lock.withLock { state = newValue } }
        }
    }

    /// Which phase the test is in, and every answer seen in each.
    final class Phase: @unchecked Sendable {
        struct Seen { let status: Int; let body: String; let seconds: Double }
        private let lock = NSLock()
        private var current = "before"
        private var log = [String: [Seen]]()
        var value: String {
            get { lock.withLock { current } }
            set { lock.withLock { current = newValue } }
        }
        func record(_ phase: String, status: Int, body: String, seconds: Double) {
            lock.withLock { log[phase, default: []].append(Seen(status: status, body: body, seconds: seconds)) }
        }
        func answers(in phase: String) -> [Seen] { lock.withLock { log[phase] ?? [] } }
        var seen: [String: Set<Int>] { lock.withLock { log.mapValues { Set($0.map(\.status)) } } }
    }
}
