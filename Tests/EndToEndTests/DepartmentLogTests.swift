import Foundation
import SignKit
import Testing
import TestSupport

/// The department log against an operator who edits the database: a records instance on PostgreSQL, a monitor that
/// cosigns as another department's document signer (SoftHSM2 "SignService Witness"), bundles verified by a holder
/// who remembers what they verified (`signctl history verify --state`).
@Suite("The department log: a rewritten or cut history shows", .serialized)
struct DepartmentLogTests {
    typealias Crash = RecordsCrashTests
    static let witnessKey = "pkcs11:token=SignService%20Witness;id=%20;type=private"
    static let witnessName = "SignService-Document-Signer-Finance-Manipur"

    @Test(
        "an operator deletes the last entries and re-signs, then backdates an entry: the monitor reports each with both heads; a bundle from before still verifies, one from after fails naming the entry"
    )
    func tampering() async throws {
        try await Rig.exclusive { try Self.tamperingRun() }
    }

    /// SQL run as the schema's owner (an operator with the database in hand).
    static func sql(_ cluster: Crash.Cluster, _ statements: String) throws {
        let ran = try Command.run(
            "/bin/bash", [Crash.Cluster.script, "psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", statements], environment: cluster.environment)
        guard ran.status == 0 else { throw RigError("psql: \(ran.stdout)\(ran.stderr)") }
    }

    static func bytea(_ bytes: [UInt8]) -> String { "'\\x\(Hex.encode(bytes))'" }

    static func tamperingRun() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-log-tamper")
        let cluster = try Crash.Cluster(in: folder)
        let extra = Crash.configuration(url: cluster.url, ownerURL: cluster.ownerURL).merging(["treeHeadIntervalMilliseconds": 100]) { $1 }
        let instance = try Crash.Instance("A", extra: extra)
        defer { instance.stop() }
        let ledger = Crash.Ledger()
        let trust = Rig.root.appendingPathComponent("TestCerts/trust").path
        let witnessCertificate = Rig.root.appendingPathComponent("TestCerts/certs/docsigner-finance.crt").path
        let softPIN = try Rig.secretStrings()[1]
        var url: String { instance.current?.url ?? "http://127.0.0.1:1" }  // a restarted instance listens on a new port
        let files = ["LOG-1/2026", "LOG-2/2026"]
        try Crash.createFiles(files, subject: "the log", through: instance, ledger: ledger)

        func append(_ file: String, _ note: String) throws {
            let answer = Crash.appendNote(instance, file: file, note: note, text: "text of \(note)", errors: ledger, acks: ledger).append
            #expect(answer?.status == 201, "\(file) \(note): \(answer.map { String(decoding: $0.body, as: UTF8.self) } ?? "no answer")")
        }
        func history(_ file: String) throws -> FileHistoryAnswer {
            try JSONOutput.decoder().decode(
                FileHistoryAnswer.self, from: Data(try #require(Crash.send(instance, "GET", "/v1/files/\(Crash.encoded(file))", ledger: ledger)).body))
        }
        /// The latest head, once its size is `size` (the publisher signs within its interval).
        func head(size: Int) throws -> String {
            for _ in 0..<100 {
                if let answer = Crash.send(instance, "GET", "/v1/log/checkpoint", ledger: Crash.Ledger()), answer.status == 200 {
                    let note = String(decoding: answer.body, as: UTF8.self)
                    if (try? TreeHead(checkpoint: try SignedNote(parsing: note).text))?.size == size { return note }
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            throw RigError("no tree head of size \(size) was signed")
        }
        // The second monitor is a witness from another department: it holds an API key, not the operator's token.
        let issued = try #require(
            Crash.send(
                instance, "POST", "/v1/keys",
                body: Array(try JSONOutput.encoder(pretty: false).encode(APIKeyRequestBody(name: "Finance witness", scopes: ["read-report"]))),
                ledger: ledger))
        #expect(issued.status == 201, "\(String(decoding: issued.body, as: UTF8.self))")
        let apiKey = try folder.file("witness.key", Array(try JSONOutput.decoder().decode(APIKeyCreatedAnswer.self, from: Data(issued.body)).secret.utf8))
        func monitor(_ state: String) throws -> Command.Result {
            let credential = state == "monitor-2" ? ["--api-key-file", apiKey.path] : ["--state-dir", instance.stateFolder]
            return try Command.run(
                Rig.signctl,
                ["records", "monitor", "--records", url, "--state", folder.path(state), "--once", "--key", witnessKey, "--pin-fd", "0"] + credential,
                stdin: Data((softPIN + "\n").utf8))
        }
        func bundle(_ name: String, _ file: String) throws -> String {
            let answer = try #require(Crash.send(instance, "GET", "/v1/files/\(Crash.encoded(file))/bundle", ledger: ledger))
            #expect(answer.status == 200)
            return try folder.file(name, answer.body).path
        }
        func verify(_ path: String, _ options: [String] = []) throws -> Command.Result {
            try Command.run(Rig.signctl, ["history", "verify", path, "--trust", trust] + options)
        }
        func restart() throws {
            instance.kill9()
            try instance.restart()
        }

        // Ten entries, five in each file; the monitor sees the head of 10 and cosigns it as the Finance witness.
        for index in 1...5 {
            for file in files { try append(file, "N-\(index)") }
            if index == 2 {  // a head of 4 leaves, signed on request
                #expect(Crash.send(instance, "POST", "/v1/log/checkpoint", ledger: ledger)?.status == 200)
            }
        }
        let head10 = try head(size: 10)
        // signctl records log: the head, an entry's proof and the consistency of two heads, each checked.
        let origin = try JSONOutput.decoder().decode(LogInfoAnswer.self, from: Data(try #require(Crash.send(instance, "GET", "/v1/log", ledger: ledger)).body))
            .origin
        let proved = try #require(try history(files[1]).entries.first { $0.sequence == 2 })
        let leafHash = try DepartmentLogLeaf(
            origin: origin, fileNumber: files[1], sequence: 2, entryHash: try #require(Hex.decode(proved.hash)),
            time: try #require(UTCTimeText.parse(proved.time))
        ).leafHash
        let shown = try Command.run(Rig.signctl, ["records", "log", "head", "--records", url])
        #expect(shown.status == 0 && shown.stdout == head10 && shown.stderr.contains("tree head of 10 leaves"), "\(shown.stdout)\(shown.stderr)")
        let proven = try Command.run(
            Rig.signctl, ["records", "log", "proof", "--records", url, "--leaf", "\(try #require(proved.leafIndex))", "--leaf-hash", Hex.encode(leafHash)])
        #expect(proven.status == 0 && proven.stderr.contains("leaf 3 is in the signed tree of 10 leaves"), "\(proven.stdout)\(proven.stderr)")
        let wrong = try Command.run(
            Rig.signctl, ["records", "log", "proof", "--records", url, "--leaf", "4", "--leaf-hash", Hex.encode(leafHash)])
        #expect(wrong.status == 1 && wrong.stderr.contains("proof-not-valid"), "another leaf's proof does not hold: \(wrong.stderr)")
        let consistent = try Command.run(Rig.signctl, ["records", "log", "consistency", "--records", url, "--from", "4", "--to", "10"])
        #expect(consistent.status == 0 && consistent.stderr.contains("the tree of 10 leaves extends the tree of 4"), "\(consistent.stderr)")
        let first = try monitor("monitor-1")
        #expect(
            first.status == 0 && first.stdout.contains("tree head of 10 leaves") && first.stdout.contains("cosigned as \(witnessName)"),
            "\(first.stdout)\(first.stderr)")
        // A holder exports both files now and verifies them, remembering the head and the entries (--state).
        let holder = ["--state", folder.path("holder")]
        let before = try bundle("before-2.zip", files[1])
        for path in [try bundle("before-1.zip", files[0]), before] {
            let checked = try verify(path, holder + ["--witness", witnessCertificate])
            #expect(
                checked.status == 0 && checked.stdout.contains("inclusion in the department log under its signed tree head of 10 leaves"),
                "\(checked.stdout)\(checked.stderr)")
        }

        // 1. The operator deletes the last two entries (leaves 8 and 9) and their heads, restarts the service and
        //    lets it sign new heads; one more note makes a new leaf 8.
        let log1 = try history(files[0]), log2 = try history(files[1])
        #expect(log1.entries.compactMap(\.leafIndex) == [0, 2, 4, 6, 8] && log2.entries.compactMap(\.leafIndex) == [1, 3, 5, 7, 9])
        try sql(
            cluster,
            """
            BEGIN;
            DELETE FROM log_leaf WHERE leaf_index >= 8;
            DELETE FROM entry WHERE sequence = 5;
            UPDATE log_state SET size = 8;
            DELETE FROM cosignature WHERE size > 8;
            DELETE FROM tree_head WHERE size > 8;
            COMMIT;
            """)
        try restart()
        try append(files[0], "N-5")
        let head9 = try head(size: 9)
        let cut = try monitor("monitor-1")
        #expect(cut.status == 1, "\(cut.stdout)\(cut.stderr)")
        #expect(cut.stdout.contains("LOG CONTRADICTION") && cut.stdout.contains("went back from 10 leaves to 9"), "\(cut.stdout)")
        #expect(cut.stdout.contains(head10) && cut.stdout.contains(head9), "both heads are in the report")
        try checkEvidence(folder.path("monitor-1"), remembered: head10, received: head9)

        // 2. A second monitor takes the log as it is now; then the operator backdates the last entry of file 2 by a
        //    day (its time and hash: the file still reads whole, since no later entry names it, and the officer's
        //    signature does not cover the time the service accepted it), deletes every head over it and restarts.
        let second = try monitor("monitor-2")
        #expect(second.status == 0 && second.stdout.contains("tree head of 9 leaves"), "\(second.stdout)\(second.stderr)")
        let last = try #require(try history(files[1]).entries.last)
        #expect(last.sequence == 4 && last.leafIndex == 7)
        let backdated = HistoryEntry(
            fileNumber: files[1], sequence: last.sequence, kind: EntryKind(rawValue: last.kind), noteID: last.noteID,
            time: try #require(UTCTimeText.parse(last.time)).addingTimeInterval(-86400), contentHash: try #require(Hex.decode(last.contentHash)),
            signatureHash: try #require(Hex.decode(last.signatureHash)), signerFingerprint: try #require(Hex.decode(last.signerFingerprint)),
            previousHash: try #require(Hex.decode(last.previousHash)))
        try sql(
            cluster,
            """
            BEGIN;
            UPDATE entry SET time = \(backdated.time.timeIntervalSince1970), hash = \(bytea(backdated.hash)) WHERE file = '\(files[1])' AND sequence = 4;
            DELETE FROM cosignature WHERE size > 7;
            DELETE FROM tree_head WHERE size > 7;
            COMMIT;
            """)
        try restart()
        let rewritten = try head(size: 9)
        #expect(rewritten != head9)
        let fork = try monitor("monitor-2")
        #expect(fork.status == 1 && fork.stdout.contains("two different signed tree heads for size 9"), "\(fork.stdout)\(fork.stderr)")
        #expect(fork.stdout.contains(head9) && fork.stdout.contains(rewritten))
        try checkEvidence(folder.path("monitor-2"), remembered: head9, received: rewritten)
        // The first monitor, holding the head of 10, reports the new head too.
        #expect(try monitor("monitor-1").status == 1)

        // The bundle of file 2 exported before still verifies, and proves the original entries, with or without the
        // memory.
        #expect(try verify(before).status == 0)
        let again = try verify(before, holder + ["--witness", witnessCertificate])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        // The bundle exported after holds together on its own (the chain and every signature hold: that is why the
        // log exists), but fails against what the holder verified, naming entry 4, and no witness cosigned its head.
        let after = try bundle("after.zip", files[1])
        let alone = try verify(after)
        #expect(alone.status == 0, "\(alone.stdout)")
        let failed = try verify(after, holder + ["--records", url, "--json"])
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        let report = try JSONOutput.decoder().decode(HistoryReport.self, from: Data(failed.stdout.utf8))
        #expect(report.findings.contains { $0.code == .rewritten && $0.entry == 4 }, "\(report.findings)")
        #expect(report.findings.contains { $0.code == .logInconsistent }, "\(report.findings)")
        #expect(!report.findings.contains { $0.code == .rewritten && $0.entry != 4 }, "entries 1 to 3 were not touched: \(report.findings)")
        let unwitnessed = try verify(after, ["--witness", witnessCertificate])
        #expect(unwitnessed.status == 1 && unwitnessed.stdout.contains(witnessName), "\(unwitnessed.stdout)")
    }

    /// The evidence a monitor kept: both heads as received, each signed by the log's key, and the report.
    static func checkEvidence(_ state: String, remembered: String, received: String) throws {
        let logFolder = try #require(try FileManager.default.contentsOfDirectory(atPath: state).first { !$0.hasPrefix(".") })
        let evidence = "\(state)/\(logFolder)/evidence"
        let kept = try FileManager.default.contentsOfDirectory(atPath: evidence).map { "\(evidence)/\($0)" }
        #expect(
            try kept.contains {
                try String(contentsOfFile: "\($0)/remembered.checkpoint", encoding: .utf8) == remembered
                    && String(contentsOfFile: "\($0)/received.checkpoint", encoding: .utf8) == received
            }, "evidence of \(kept)")
    }
}
