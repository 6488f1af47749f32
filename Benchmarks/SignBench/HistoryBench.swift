import ArgumentParser
import Foundation
import Synchronization
import SignKit

/// Verifying whole history bundles: entries per second for bundles of growing size, beside the single-signature
/// limit (SHA-256 of an extract + one RSA-2048 verification) measured in the same run.
struct HistoryRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Bundle verification: entries/s for growing bundles beside the SHA-256 + RSA-2048 verify limit.",
        discussion: """
            Builds one history of --entries notes (TestCerts officer-rsa software key, the real append path with its \
            verification, the department log's tree heads signed by the document signer key) in memory, exports \
            bundles of the first 1/4, 1/2 and all entries, and times `HistoryBundle.verify` on each (offline, as \
            signctl history verify). Each entry holds one signature verified in full and its inclusion proof \
            against the bundle's signed tree head. The limit is measured on one core; bundle verification uses \
            every core. Needs the rig (OCSP and CRLs at append time).
            """)

    @Option(help: "Entries in the largest bundle.")
    var entries = 10_000

    @Option(help: "Interleaved rounds (limit, then the largest bundle) for the median ratio.")
    var rounds = 7

    @Option(help: "Keep the bundles in this folder (to profile `signctl history verify` on them); default: a temporary folder, removed.")
    var keep: String?

    @Option(name: .customLong("test-certs"), help: "The TestCerts folder.")
    var testCerts = FileManager.default.currentDirectoryPath + "/TestCerts"

    func run() throws {
        let officer = try CertificateFolder.load(file: "\(testCerts)/certs/officer-rsa.crt")[0]
        let officerKey = try PrivateKey(pemFile: "\(testCerts)/keys/officer-rsa.key")
        let chain = try CertificateFolder.load(file: "\(testCerts)/ca/chain-individual.pem")
        let docSigner = try CertificateFolder.load(file: "\(testCerts)/certs/docsigner.crt")[0]
        let docKey = try PrivateKey(pemFile: "\(testCerts)/keys/docsigner.key")
        let sealer = CheckpointSigner(certificate: docSigner, chain: try CertificateFolder.load(file: "\(testCerts)/ca/chain-docsigner.pem")) {
            TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: try docKey.sign($0))
        }
        let trust = try TrustStore.load(directory: "\(testCerts)/trust")
        let cache = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("signbench-history-\(getpid())").path
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: cache) } }
        let verifier = Verifier(trust: trust, revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: cache + "/cache")))
        let store = MemoryHistoryStore()
        let history = FileHistory(store: store, verifier: verifier)
        let log = try DepartmentLog(origin: "records.bench.example.gov.in/log", store: store)
        let number = "BENCH-1/2026"
        try store.createFile(FileRecord(number: number, subject: "benchmark", department: "Testing"))
        let sizes = [entries / 4, entries / 2, entries]
        var bundles = [(Int, String)]()
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let started = Date()
        for index in 1...entries {
            let head = try store.head(of: number)
            let content = Array("File \(number), note N-\(index): \(String(repeating: "x", count: 1500))\n".utf8)
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: number, noteID: "N-\(index)", previousEntryHash: head.hash),
                commitment: .proofOfOrigin, signingTime: Date(), chain: chain)
            let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: officer, parameters: parameters) {
                TokenSignature(algorithm: .sha256WithRSAEncryption, bytes: try officerKey.sign($0))
            }
            try history.append(file: number, kind: .note, noteID: "N-\(index)", content: content, signature: signature, at: Date())
            if sizes.contains(index) {
                let path = "\(cache)/bundle-\(index).zip"
                // Every entry proven in the department log against a head signed now (as the records service exports).
                guard let head = try log.publish(signer: sealer, at: Date()) else { throw ValidationError("no tree head was signed") }
                try HistoryBundle.export(
                    file: number, from: store, verifier: verifier, sealer: sealer, log: HistoryBundle.LogEvidence(log: log, head: head),
                    to: path, at: Date())
                bundles.append((index, path))
            }
        }
        print(String(format: "built %d entries and %d bundles in %.1f s", entries, bundles.count, Date().timeIntervalSince(started)))

        // The limit, measured on this run's machine: SHA-256 of a 1.5 KiB extract plus one RSA-2048 verification.
        let message = Array(repeating: UInt8(0x78), count: 1540)
        let signatureValue = try officerKey.sign(message)
        let digest = SHA256Hasher.hash(message)
        func limit() throws -> Double {
            try Bench.measure(seconds: 1) {
                _ = SHA256Hasher.hash(message)
                guard officer.verifySignature(signatureValue, digest: digest, algorithm: .sha256) else { throw ValidationError("limit check failed") }
            }
        }
        /// Seconds to verify the bundle at `path` (offline, as signctl history verify), and its report.
        func timedVerify(_ path: String) throws -> (Double, HistoryReport) {
            let clock = ContinuousClock()
            let start = clock.now
            let report = try HistoryBundle.verify(path, trust: trust, at: Date())
            let elapsed = clock.now - start
            return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, report)
        }
        // The limit is one core's; bundle verification uses every core, so "per core" divides by their number.
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        print("entries   seconds   entries/s   limit/s   ratio   per core   µs/entry   (\(Int(cores)) cores)")
        for (count, path) in bundles {
            let before = try limit()
            let (seconds, report) = try timedVerify(path)
            let after = try limit()
            guard report.passed else { throw ValidationError("bundle of \(count) did not verify: \(report.findings.prefix(3))") }
            let rate = Double(count) / seconds, reference = (before + after) / 2
            print(
                String(
                    format: "%7d  %8.2f  %10.1f  %8.1f  %6.3f  %9.3f  %9.1f", count, seconds, rate, reference, rate / reference,
                    rate / reference / cores, 1e6 * seconds / Double(count)))
        }
        // The largest bundle again, in rounds interleaved with the limit (this machine's speed drifts by tens of
        // percent from one second to the next): the ratio of the medians and the median of the per-round ratios.
        if let (count, path) = bundles.last {
            var rates = [Double](), references = [Double]()
            for _ in 0..<rounds {
                references.append(try limit())
                rates.append(Double(count) / (try timedVerify(path).0))
            }
            let ratios = zip(rates, references).map { $0 / $1 }
            print(
                "\(count) entries, \(rounds) interleaved rounds: ratios " + ratios.map { String(format: "%.3f", $0) }.joined(separator: " ")
                    + String(
                        format: "; ratio of medians %.3f, median of pairs %.3f (per core %.3f)", Bench.median(rates) / Bench.median(references),
                        Bench.median(ratios), Bench.median(ratios) / cores))
        }
        print("target: ratio >= 0.5; µs/entry flat across sizes (linear time)")
    }
}

/// A history store in memory, for the benchmark (the protocol is the same one the SQLite store implements).
final class MemoryHistoryStore: HistoryStore, @unchecked Sendable {
    private let lock = NSLock()
    private var fileRecords = [String: FileRecord]()
    private var entryLists = [String: [HistoryEntry]]()
    private var checkpointLists = [String: [Checkpoint]]()
    private var blobs = [[UInt8]: [UInt8]]()
    private var requests = [String: ApprovalRequest]()

    func createApprovalRequest(_ request: ApprovalRequest) throws { lock.withLock { requests[request.id] = request } }
    func approvalRequest(_ id: String) throws -> ApprovalRequest? { lock.withLock { requests[id] } }
    func approvalRequests(of number: String) throws -> [ApprovalRequest] {
        lock.withLock { requests.values.filter { $0.fileNumber == number }.sorted { $0.id < $1.id } }
    }

    func createFile(_ file: FileRecord) throws { lock.withLock { fileRecords[file.number] = file } }
    func file(_ number: String) throws -> FileRecord? { lock.withLock { fileRecords[number] } }
    func files() throws -> [FileRecord] { lock.withLock { Array(fileRecords.values) } }
    func entries(of number: String) throws -> [HistoryEntry] { lock.withLock { entryLists[number] ?? [] } }
    func checkpoints(of number: String) throws -> [Checkpoint] { lock.withLock { checkpointLists[number] ?? [] } }
    func blob(_ hash: [UInt8]) throws -> [UInt8]? { lock.withLock { blobs[hash] } }
    func blobFile(_ hash: [UInt8]) -> String? { nil }

    func append(_ entry: HistoryEntry, checkpoint: Checkpoint?, blobs new: [[UInt8]], scan: ScanAppendix?) throws -> Int {
        let scanned = try scan.map { [try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0.path)))] } ?? []
        return lock.withLock {
            for blob in new + scanned { blobs[SHA256Hasher.hash(blob)] = blob }
            if let scan { requests[scan.requestID]?.status = .closed }
            entryLists[entry.fileNumber, default: []].append(entry)
            if let checkpoint { checkpointLists[entry.fileNumber, default: []].append(checkpoint) }
            leaves.append(LogLeafRecord(index: leaves.count, fileNumber: entry.fileNumber, sequence: entry.sequence, entryHash: entry.hash, time: entry.time))
            return leaves.count - 1
        }
    }

    // The department log, in memory.
    private var leaves = [LogLeafRecord]()
    private var heads = [Int: StoredTreeHead]()

    func logSize() throws -> Int { lock.withLock { leaves.count } }
    func logLeaves(in range: Range<Int>) throws -> [LogLeafRecord] {
        lock.withLock { Array(leaves[min(range.lowerBound, leaves.count)..<min(range.upperBound, leaves.count)]) }
    }
    func leafIndexes(of number: String) throws -> [Int: Int] {
        lock.withLock { Dictionary(uniqueKeysWithValues: leaves.filter { $0.fileNumber == number }.map { ($0.sequence, $0.index) }) }
    }
    func latestTreeHead() throws -> StoredTreeHead? { lock.withLock { heads.keys.max().flatMap { heads[$0] } } }
    func treeHead(size: Int) throws -> StoredTreeHead? { lock.withLock { heads[size] } }
    func addTreeHead(_ head: StoredTreeHead) throws -> Bool {
        lock.withLock {
            guard heads.keys.allSatisfy({ $0 < head.size }), head.size <= leaves.count else { return false }
            heads[head.size] = head
            return true
        }
    }
    func addCosignature(_ cosignature: StoredCosignature) throws {}
    func cosignatures(size: Int) throws -> [StoredCosignature] { [] }
}
