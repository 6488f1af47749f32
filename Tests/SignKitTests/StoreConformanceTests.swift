import Foundation
import Testing
import TestSupport
@testable import SignKit

/// One contract, two stores: every test here runs on the embedded SQLite store and on PostgreSQL (scripts/postgres.sh).
/// The store is judged by what it keeps: entries exactly as appended, blobs by their hash, a head that only the
/// right append can move, an approval request closed once, and no entry or checkpoint from an append it refused.
@Suite("History stores (SQLite and PostgreSQL)", .serialized)
struct StoreConformanceTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// A store of `kind`, and a way to open a second one on the same data (another instance of the service).
    final class Opened: @unchecked Sendable {
        let folder: TemporaryFolder
        let kind: Kind
        private(set) var stores: [any HistoryStore] = []

        init(_ kind: Kind) throws {
            self.kind = kind
            folder = try TemporaryFolder("signservice-store")
            stores.append(try another())
        }

        var store: any HistoryStore { stores[0] }

        func another() throws -> any HistoryStore {
            let made: any HistoryStore =
                switch kind {
                case .sqlite: try SQLiteHistoryStore(folder: folder.path("store"))
                case .postgres: try PostgresHistoryStore(url: try Postgres.url(), migrationURL: try Postgres.ownerURL())
                }
            if !stores.isEmpty { stores.append(made) }
            return made
        }

        deinit {
            for case let store as PostgresHistoryStore in stores { store.close() }
        }
    }

    static func number(_ kind: Kind, _ name: String) -> String { Postgres.uniqueNumber("TEST-\(kind.rawValue)-\(name)") }

    /// An entry following `head`, with its checkpoint, over made-up content and signature bytes (the store does
    /// not judge signatures; FileHistory does, and is tested with real ones).
    static func entry(
        _ number: String, after head: (size: Int, hash: [UInt8]), note: String, signature: [UInt8]? = nil, attachment: [UInt8]? = nil
    ) -> (HistoryEntry, Checkpoint, [[UInt8]]) {
        let content = Array("File \(number), note \(note)\n".utf8)
        let signature = signature ?? Array("signature over \(note) \(UUID().uuidString)".utf8)
        let time = TestTime.now.addingTimeInterval(Double(head.size + 1) * 60)
        let entry = HistoryEntry(
            fileNumber: number, sequence: head.size + 1, kind: attachment == nil ? .note : .scanApproval, noteID: note, time: time,
            contentHash: SHA256Hasher.hash(content), signatureHash: SHA256Hasher.hash(signature),
            signerFingerprint: SHA256Hasher.hash(Array("officer".utf8)), attachmentHash: attachment, previousHash: head.hash)
        var checkpoint = Checkpoint(fileNumber: number, size: entry.sequence, headHash: entry.hash, time: time)
        checkpoint.signature = Array("checkpoint \(entry.sequence)".utf8)
        return (entry, checkpoint, [content, signature])
    }

    @Test("files: created once, read back, listed in order", arguments: Kind.allCases)
    func files(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let first = FileRecord(number: Self.number(kind, "A"), subject: "Purchase of laptops", department: "Information Technology")
        let second = FileRecord(number: first.number + "-B", subject: "Leave rules", department: "Finance")
        try store.createFile(second)
        try store.createFile(first)
        #expect(try store.file(first.number) == first)
        #expect(try store.file(first.number + "-none") == nil)
        let listed = try store.files().filter { [first.number, second.number].contains($0.number) }
        #expect(listed == [first, second])
        let again = #expect(throws: HistoryError.self) { try store.createFile(first) }
        #expect(again?.code == .fileExists)
    }

    @Test("entries, checkpoints and blobs come back exactly as appended", arguments: Kind.allCases)
    func roundTrip(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "RT")
        try store.createFile(FileRecord(number: number, subject: "Round trip", department: "Testing"))
        #expect(try store.head(of: number) == (0, HistoryEntry.genesis))
        var appended: [(HistoryEntry, Checkpoint, [[UInt8]])] = []
        for index in 1...3 {
            let made = Self.entry(number, after: try store.head(of: number), note: "N-\(index)")
            try store.append(made.0, checkpoint: made.1, blobs: made.2)
            appended.append(made)
        }
        let entries = try store.entries(of: number)
        #expect(entries.map(\.canonicalBytes) == appended.map(\.0.canonicalBytes))
        #expect(entries.map(\.hash) == appended.map(\.0.hash))
        #expect(entries.allSatisfy { $0.hash == SHA256Hasher.hash($0.canonicalBytes) })
        #expect(try store.head(of: number) == (3, appended[2].0.hash))
        let checkpoints = try store.checkpoints(of: number)
        #expect(checkpoints.map(\.size) == [1, 2, 3])
        #expect(checkpoints.map(\.signature) == appended.map(\.1.signature))
        #expect(checkpoints.map(\.time) == appended.map(\.1.time))
        for (_, _, blobs) in appended {
            for blob in blobs { #expect(try store.blob(SHA256Hasher.hash(blob)) == blob) }
        }
        #expect(try store.blob(SHA256Hasher.hash(Array("never stored".utf8))) == nil)
        let signatureHash = appended[1].0.signatureHash
        #expect(try store.entry(of: number, signatureHash: signatureHash)?.sequence == 2)
        #expect(try store.entry(of: number, signatureHash: SHA256Hasher.hash(Array("other".utf8))) == nil)
    }

    @Test("an append over an old head is refused, names the new head, and stores nothing", arguments: Kind.allCases)
    func staleHead(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "STALE")
        try store.createFile(FileRecord(number: number, subject: "Stale head", department: "Testing"))
        let first = Self.entry(number, after: (0, HistoryEntry.genesis), note: "N-1")
        try store.append(first.0, checkpoint: first.1, blobs: first.2)
        let late = Self.entry(number, after: (0, HistoryEntry.genesis), note: "N-1b")
        let refused = #expect(throws: HistoryError.self) { try store.append(late.0, checkpoint: late.1, blobs: late.2) }
        #expect(refused?.code == .headMoved)
        #expect(refused?.reason.contains(Hex.encode(first.0.hash)) == true)
        #expect(try store.entries(of: number).count == 1)
        #expect(try store.checkpoints(of: number).count == 1)
        // PostgreSQL writes blobs in the entry's transaction, so a refused append leaves none; SQLite writes its blob
        // files first (fsynced before the row can commit) and may keep an unreferenced one, which nothing names.
        if kind == .postgres { #expect(try store.blob(SHA256Hasher.hash(late.2[0])) == nil) }
        let unknown = Self.entry(number + "-none", after: (0, HistoryEntry.genesis), note: "N-1")
        let noFile = #expect(throws: HistoryError.self) { try store.append(unknown.0, checkpoint: unknown.1, blobs: unknown.2) }
        #expect(noFile?.code == .unknownFile)
    }

    @Test(
        "a batch of appends to several files commits in one transaction: each follows its head or the entry before it, a stale one is refused alone, the leaves are dense and in order, the retried signature is found",
        arguments: Kind.allCases)
    func batch(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let one = Self.number(kind, "BATCH-1"), two = Self.number(kind, "BATCH-2")
        for number in [one, two] { try store.createFile(FileRecord(number: number, subject: "Batch", department: "Testing")) }
        let before = try store.logSize()
        let a1 = Self.entry(one, after: (0, HistoryEntry.genesis), note: "N-1")
        let a2 = Self.entry(one, after: (1, a1.0.hash), note: "N-2")  // follows a1 within the batch
        let b1 = Self.entry(two, after: (0, HistoryEntry.genesis), note: "N-1")
        let stale = Self.entry(two, after: (0, HistoryEntry.genesis), note: "N-1b")  // over the head b1 moves
        let missing = Self.entry(one + "-none", after: (0, HistoryEntry.genesis), note: "N-1")
        let results = try store.appendBatch([(a1.0, a1.2), (b1.0, b1.2), (a2.0, a2.2), (stale.0, stale.2), (missing.0, missing.2)])
        // Other suites append to the shared test database meanwhile: the batch's leaves are dense among themselves.
        let indexes = results.compactMap { try? $0.get() }
        #expect(indexes.count == 3 && indexes[0] >= before, "\(results)")
        let first = indexes.first ?? -1
        #expect(indexes == [first, first + 1, first + 2], "three leaves, dense, in the batch's order: \(results)")
        if case .failure(let error) = results[3] {
            #expect(error.code == .headMoved && error.reason.contains(Hex.encode(b1.0.hash)))
        } else {
            Issue.record("the stale item went in")
        }
        if case .failure(let error) = results[4] { #expect(error.code == .unknownFile) } else { Issue.record("an unknown file's item went in") }
        #expect(try store.entries(of: one).map(\.hash) == [a1.0.hash, a2.0.hash])
        #expect(try store.entries(of: two).map(\.hash) == [b1.0.hash])
        #expect(try store.leafIndexes(of: one) == [1: first, 2: first + 2] && store.leafIndexes(of: two) == [1: first + 1])
        #expect(try store.logSize() >= first + 3)
        #expect(try store.blob(SHA256Hasher.hash(a2.2[0])) == a2.2[0])
        #expect(try store.heads(of: [one, two, one + "-none"]).mapValues(\.size) == [one: 2, two: 1])
        #expect(try store.files([one, one + "-none"]).keys.sorted() == [one])
        let found = try store.entries(signedWith: [(two, b1.0.signatureHash), (two, stale.0.signatureHash), (one, b1.0.signatureHash)])
        #expect(found.count == 1 && found[SignedEntryKey(file: two, signatureHash: b1.0.signatureHash)]?.leafIndex == first + 1)
        // The leaves read back joined with their entries, as the department log rebuilds its tree from them.
        let leaves = try store.logLeaves(in: first..<first + 3)
        #expect(leaves.map(\.entryHash) == [a1.0.hash, b1.0.hash, a2.0.hash] && leaves.map(\.index) == indexes)
    }

    /// SQLite only: the shared test PostgreSQL has other suites' records instances signing heads at the same time.
    /// PostgreSQL's tree heads are held to the same rules with a cluster of their own (DepartmentLogTests and the
    /// kill -9 runs of RecordsCrashTests: sizes never go back, no two heads for one size).
    @Test("tree heads: stored only over leaves the store holds, sizes only grow, one head a size; cosignatures kept once")
    func treeHeads() throws {
        let kind = Kind.sqlite
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "HEADS")
        try store.createFile(FileRecord(number: number, subject: "Heads", department: "Testing"))
        let entry = Self.entry(number, after: (0, HistoryEntry.genesis), note: "N-1")
        try store.append(entry.0, checkpoint: nil, blobs: entry.2)
        let size = try store.logSize()
        let root = [UInt8](repeating: 7, count: 32)
        #expect(try store.latestTreeHead() == nil)
        #expect(throws: HistoryError.self, "a head over leaves the store does not hold") {
            try store.addTreeHead(StoredTreeHead(size: size + 1, rootHash: root, note: "n", time: TestTime.now))
        }
        #expect(try store.addTreeHead(StoredTreeHead(size: size, rootHash: root, note: "head \(size)", time: TestTime.now)))
        #expect(try !store.addTreeHead(StoredTreeHead(size: size, rootHash: [UInt8](repeating: 8, count: 32), note: "other", time: TestTime.now)))
        if size > 1 { #expect(try !store.addTreeHead(StoredTreeHead(size: size - 1, rootHash: root, note: "older", time: TestTime.now))) }
        #expect(try store.latestTreeHead()?.size == size && store.treeHead(size: size)?.rootHash != [UInt8](repeating: 8, count: 32))
        let cosignature = StoredCosignature(size: size, line: "— witness AAAA", certificate: [1, 2, 3])
        try store.addCosignature(cosignature)
        try store.addCosignature(cosignature)
        #expect(try store.cosignatures(size: size) == [cosignature])
    }

    @Test("one signature makes one entry", arguments: Kind.allCases)
    func signatureOnce(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "ONCE")
        try store.createFile(FileRecord(number: number, subject: "Once", department: "Testing"))
        let signature = Array("the same signature".utf8)
        let first = Self.entry(number, after: (0, HistoryEntry.genesis), note: "N-1", signature: signature)
        try store.append(first.0, checkpoint: first.1, blobs: first.2)
        // The same signature bytes at the next position: refused by the store itself, whatever the caller checked.
        let copy = Self.entry(number, after: try store.head(of: number), note: "N-2", signature: signature)
        #expect(throws: HistoryError.self) { try store.append(copy.0, checkpoint: copy.1, blobs: copy.2) }
        #expect(try store.entries(of: number).count == 1)
    }

    @Test("a scan approval closes its request once; the scan comes back whole", arguments: Kind.allCases)
    func scanApproval(kind: Kind) throws {
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "SCAN")
        try store.createFile(FileRecord(number: number, subject: "Scan", department: "Testing"))
        let request = ApprovalRequest(
            id: "AR-\(UUID().uuidString.prefix(8))", fileNumber: number, noteID: "N-1", extractHash: SHA256Hasher.hash(Array("extract".utf8)),
            minister: "Minister of IT", authorisedPPS: [SHA256Hasher.hash(Array("pps".utf8))], issuedAt: TestTime.now, status: .open,
            qrText: "SIGNSERVICE-AR|test")
        try store.createApprovalRequest(request)
        let read = try #require(try store.approvalRequest(request.id))
        #expect(read.fileNumber == number && read.status == .open && read.authorisedPPS == request.authorisedPPS && read.qrText == request.qrText)
        #expect(try store.approvalRequests(of: number).map(\.id) == [request.id])
        // 2.5 MiB of scan: more than one of PostgreSQL's blob parts.
        var generator = SystemRandomNumberGenerator()
        let scanBytes = (0..<(5 << 19)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        func upload() throws -> ScanAppendix {
            let path = opened.folder.path("store/upload-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: opened.folder.path("store"), withIntermediateDirectories: true)
            try Data(scanBytes).write(to: URL(fileURLWithPath: path))
            return ScanAppendix(path: path, sha256: SHA256Hasher.hash(scanBytes), requestID: request.id)
        }
        let made = Self.entry(number, after: (0, HistoryEntry.genesis), note: "N-1", attachment: SHA256Hasher.hash(scanBytes))
        let scan = try upload()
        try store.append(made.0, checkpoint: made.1, blobs: made.2, scan: scan)
        #expect(try store.approvalRequest(request.id)?.status == .closed)
        #expect(try store.blob(SHA256Hasher.hash(scanBytes)) == scanBytes)
        #expect(!FileManager.default.fileExists(atPath: scan.path))
        let second = Self.entry(number, after: try store.head(of: number), note: "N-1", attachment: SHA256Hasher.hash(scanBytes))
        let closed = #expect(throws: HistoryError.self) { try store.append(second.0, checkpoint: second.1, blobs: second.2, scan: try upload()) }
        #expect(closed?.code == .requestClosed)
        #expect(try store.entries(of: number).count == 1)
    }

    @Test("two instances appending to one file at once: one chain, no fork, no gap", arguments: Kind.allCases)
    func race(kind: Kind) throws {
        let opened = try Opened(kind)
        let stores = [opened.store, try opened.another()]
        let number = Self.number(kind, "RACE")
        try stores[0].createFile(FileRecord(number: number, subject: "Race", department: "Testing"))
        let rounds = 20
        let outcomes = Outcomes()
        for round in 1...rounds {
            let head = try stores[0].head(of: number)
            // Both instances are handed an entry over the same head at the same moment; exactly one may land.
            let contenders = (0..<2).map { Self.entry(number, after: head, note: "N-\(round)-\($0)") }
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for index in 0..<2 {
                DispatchQueue.global().async(group: group) {
                    start.wait()
                    let made = contenders[index]
                    do {
                        try stores[index].append(made.0, checkpoint: made.1, blobs: made.2)
                        outcomes.add(won: true)
                    } catch let error as HistoryError where error.code == .headMoved {
                        outcomes.add(won: false)
                    } catch {
                        outcomes.add(error: "\(error)")
                    }
                }
            }
            start.signal()
            start.signal()
            group.wait()
        }
        #expect(outcomes.errors.isEmpty, "\(outcomes.errors)")
        #expect(outcomes.won == rounds && outcomes.lost == rounds)
        let entries = try stores[1].entries(of: number)
        #expect(entries.map(\.sequence) == Array(1...rounds))
        for (previous, next) in zip(entries, entries.dropFirst()) { #expect(next.previousHash == previous.hash) }
        #expect(try stores[0].checkpoints(of: number).count == rounds)
    }

    @Test("a retried append answers with its entry; one signed over an old head is refused naming the head", arguments: Kind.allCases)
    func retryAndStaleSignature(kind: Kind) throws {
        try Rig.require()  // the officer's CRL comes from the rig's CRL server
        let opened = try Opened(kind)
        let store = opened.store
        let number = Self.number(kind, "RETRY")
        try store.createFile(FileRecord(number: number, subject: "Retry", department: "Testing"))
        let officer = try Fixture.certificate("officer-ec"), key = try Fixture.key("officer-ec")
        let docKey = try Fixture.key("docsigner")
        let sealer = CheckpointSigner(certificate: try Fixture.certificate("docsigner")) { try docKey.sign($0) }
        let history = FileHistory(store: store, verifier: try Fixture.verifier(cache: opened.folder.path("cache")))
        func signed(_ note: String, over head: [UInt8], step: Int) throws -> (content: [UInt8], signature: [UInt8]) {
            let content = Array("File \(number), note \(note)\n".utf8)
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: number, noteID: note, previousEntryHash: head), commitment: .proofOfOrigin,
                signingTime: TestTime.now.addingTimeInterval(Double(step)), chain: try Fixture.individualChain)
            let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: officer, parameters: parameters) {
                try key.sign($0)
            }
            return (content, signature)
        }
        let time = TestTime.now.addingTimeInterval(60)
        let first = try signed("N-1", over: HistoryEntry.genesis, step: 1)
        let made = try history.append(file: number, kind: .note, noteID: "N-1", content: first.content, signature: first.signature, at: time).entry
        // The answer was lost; the client sends the same signature again, here and through another instance.
        let again = try history.append(file: number, kind: .note, noteID: "N-1", content: first.content, signature: first.signature, at: time)
        let elsewhere = FileHistory(store: try opened.another(), verifier: history.verifier)
        let third = try elsewhere.append(file: number, kind: .note, noteID: "N-1", content: first.content, signature: first.signature, at: time)
        #expect(again.entry.hash == made.hash && third.entry.hash == made.hash)
        #expect(try store.entries(of: number).count == 1)
        // Two officers sign over the same head; the second to arrive is told where the file is now.
        let secondA = try signed("N-2", over: made.hash, step: 2), secondB = try signed("N-2b", over: made.hash, step: 3)
        let landed = try history.append(file: number, kind: .note, noteID: "N-2", content: secondA.content, signature: secondA.signature, at: time).entry
        let late = #expect(throws: HistoryError.self) {
            try elsewhere.append(file: number, kind: .note, noteID: "N-2b", content: secondB.content, signature: secondB.signature, at: time)
        }
        #expect(late?.code == .contextMismatch)
        #expect(late?.reason.contains("entry 2 (\(Hex.encode(landed.hash)))") == true)
        #expect(try store.entries(of: number).map(\.noteID) == ["N-1", "N-2"])
    }

    @Test("a bundle holds its own file's evidence only, however many other files its verifier has judged")
    func bundleEvidence() throws {
        try Rig.require()  // CRLs from the rig's CRL server
        let opened = try Opened(.sqlite)
        let store = opened.store
        let docKey = try Fixture.key("docsigner")
        let sealer = CheckpointSigner(certificate: try Fixture.certificate("docsigner")) { try docKey.sign($0) }
        func appendNote(_ number: String, signer name: String, history: FileHistory) throws {
            let certificate = try Fixture.certificate(name), key = try Fixture.key(name)
            let content = Array("File \(number), note N-1\n".utf8)
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: number, noteID: "N-1", previousEntryHash: HistoryEntry.genesis), commitment: .proofOfOrigin,
                signingTime: TestTime.now, chain: try Fixture.individualChain)
            let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: certificate, parameters: parameters) {
                try key.sign($0)
            }
            try history.append(file: number, kind: .note, noteID: "N-1", content: content, signature: signature, at: TestTime.now.addingTimeInterval(60))
        }
        func manifest(_ number: String, verifier: Verifier) throws -> BundleManifest {
            let path = opened.folder.path("\(UUID().uuidString).zip")
            _ = try HistoryBundle.export(file: number, from: store, verifier: verifier, sealer: sealer, to: path, at: TestTime.now.addingTimeInterval(120))
            return try BundleManifest.parse(try #require(try HistoryBundle.read(path)["manifest.json"]))
        }
        // One long-lived verifier (as the records service has) judges file B's note by another officer, then A is exported.
        let shared = try Fixture.verifier(cache: opened.folder.path("shared-cache"))
        let history = FileHistory(store: store, verifier: shared)
        try store.createFile(FileRecord(number: "A/1", subject: "A", department: "Finance"))
        try store.createFile(FileRecord(number: "B/1", subject: "B", department: "Home"))
        try appendNote("A/1", signer: "officer-ec", history: history)
        try appendNote("B/1", signer: "officer-rsa", history: history)
        let fromShared = try manifest("A/1", verifier: shared)
        // The same export by a verifier that never saw file B: what A's bundle must hold, exactly.
        let fromFresh = try manifest("A/1", verifier: try Fixture.verifier(cache: opened.folder.path("fresh-cache")))
        let other = "certificates/\(Hex.encode(try Fixture.certificate("officer-rsa").sha256Fingerprint)).der"
        let own = "certificates/\(Hex.encode(try Fixture.certificate("officer-ec").sha256Fingerprint)).der"
        #expect(fromShared.certificates.contains(own))
        #expect(!fromShared.certificates.contains(other), "file B's signer is in file A's bundle")
        #expect(Set(fromShared.certificates) == Set(fromFresh.certificates))
        // OCSP responses are fetched anew by each verifier (other bytes, same answer): the same number of items, each
        // about A's own certificates.
        #expect(fromShared.revocation.count == fromFresh.revocation.count, "\(fromShared.revocation) against \(fromFresh.revocation)")
        #expect(!fromShared.revocation.isEmpty, "the revocation data A's verdicts rested on is carried")
    }

    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var won = 0
        private(set) var lost = 0
        private(set) var errors: [String] = []
        func add(won: Bool) { lock.withLock { if won { self.won += 1 } else { lost += 1 } } }
        func add(error: String) { lock.withLock { errors.append(error) } }
    }
}
