import Foundation
import Testing
import TestSupport
@testable import SignKit
import ZIPFoundation

/// A realistic file history built on the real token stack: a dozen notes by three officers on the card and on
/// SoftHSM2, a Minister's approval, each checkpoint signed by the service's document-signer token. Exported,
/// verified, then tampered with in every way the issue names.
@Suite("File histories", .serialized)
struct HistoryTests {
    static let number = "DIT-12/3/2026-IT"
    static let logOrigin = "records.dit.mn.gov.in/log"

    /// Officers: Anita Sharma on the card (RSA), Rajesh Kumar Singh on SoftHSM2 (EC), the PPS on SoftHSM2 (RSA);
    /// the Minister approves on SoftHSM2.
    static let signers: [(uri: String, pin: String)] = [
        ("pkcs11:token=Anita%20Sharma;id=%01", "card"), ("pkcs11:token=SignService%20Test;id=%02", "softhsm"),
        ("pkcs11:token=SignService%20Test;id=%06", "softhsm"),
    ]
    static let minister = "pkcs11:token=SignService%20Test;id=%07"
    static let docSigner = "pkcs11:token=SignService%20DocSigner;id=%10"

    /// The history's clock: step n is n minutes after TestTime.now (notes 1-12, the approval 13, appends 14 on), then
    /// the export and the verification. Every signature, append and verdict takes its time from here.
    static func time(_ step: Int) -> Date { TestTime.now.addingTimeInterval(Double(step) * 60) }
    static let exportedAt = time(30)
    static let verifiedAt = time(40)

    struct Built {
        let folder: TemporaryFolder
        let bundle: String
        let trust: TrustStore
        let history: FileHistory
        let sealer: CheckpointSigner
    }

    static func sign(
        _ manager: TokenManager, uri: String, pinKind: String, content: [UInt8], file: String, note: String,
        previous: [UInt8], commitment: Commitment, at time: Date
    ) throws -> [UInt8] {
        let pin = pinKind == "card" ? try Rig.cardPIN() : try Rig.softhsmPIN()
        defer { pin.wipe() }
        let session = try manager.openSigningSession(try PKCS11URI(uri), pin: pin, at: time)
        defer { session.close() }
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: file, noteID: note, previousEntryHash: previous),
            commitment: commitment, signingTime: time, chain: try Fixture.individualChain)
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: session.certificate, parameters: parameters) {
            try session.sign($0, pin: session.alwaysAuthenticate ? pin : nil)
        }
    }

    /// Builds the history, exports it, and hands the pieces to `body` (the docsigner session stays open meanwhile).
    static func withHistory<R>(_ body: (Built, TokenManager) throws -> R) async throws -> R {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let folder = try TemporaryFolder("signservice-history")
            let store = try SQLiteHistoryStore(folder: folder.path("store"))
            let pin = try Rig.softhsmPIN()
            defer { pin.wipe() }
            let docSession = try manager.openSigningSession(try PKCS11URI(docSigner), pin: pin, at: time(0))
            defer { docSession.close() }
            let docChain = try CertificateFolder.load(file: Fixture.folder.appendingPathComponent("ca/chain-docsigner.pem").path)
            let sealer = CheckpointSigner(certificate: docSession.certificate, chain: docChain) { try docSession.sign($0) }
            let trust = try TrustStore(anchors: [try Fixture.testRoot])
            let verifier = Verifier(
                trust: trust,
                revocation: RevocationChecker(
                    options: RevocationOptions(
                        online: true, cacheDirectory: folder.path("cache"), timeout: 3)))
            let history = FileHistory(store: store, verifier: verifier)
            try store.createFile(FileRecord(number: number, subject: "Purchase of laptops for the Secretariat", department: "Information Technology"))
            for index in 1...12 {
                let (uri, pinKind) = signers[index % signers.count]
                let note = "N-\(index)"
                let content = Array("File \(number), note \(note)\nProposal step \(index): examined and put up.\n".utf8)
                let head = try store.head(of: number).hash
                let signature = try sign(
                    manager, uri: uri, pinKind: pinKind, content: content, file: number, note: note,
                    previous: head, commitment: .proofOfOrigin, at: time(index))
                try history.append(file: number, kind: .note, noteID: note, content: content, signature: signature, at: time(index))
            }
            let approval = Array("File \(number): approved. Kh. Ratan Kumar, Minister (IT)\n".utf8)
            let signature = try sign(
                manager, uri: minister, pinKind: "softhsm", content: approval, file: number, note: "N-13",
                previous: try store.head(of: number).hash, commitment: .proofOfApproval, at: time(13))
            try history.append(file: number, kind: .approval, noteID: "N-13", content: approval, signature: signature, at: time(13))
            // The department log's head over the 13 leaves, signed by the document signer, proves every entry.
            let log = try DepartmentLog(origin: Self.logOrigin, store: store)
            let head = try #require(try log.publish(signer: sealer, at: exportedAt))
            let bundle = folder.path("history.zip")
            try HistoryBundle.export(
                file: number, from: store, verifier: verifier, sealer: sealer, log: HistoryBundle.LogEvidence(log: log, head: head), to: bundle,
                at: exportedAt)
            return try body(Built(folder: folder, bundle: bundle, trust: trust, history: history, sealer: sealer), manager)
        }
    }

    /// Rewrites a bundle through `edit` (members by name, manifest decoded) into a new zip.
    static func tampered(_ built: Built, _ name: String, edit: (inout [String: [UInt8]], inout BundleManifest) throws -> Void) throws -> String {
        var members = try HistoryBundle.read(built.bundle)
        var manifest = try BundleManifest.parse(members["manifest.json"]!)
        try edit(&members, &manifest)
        members["manifest.json"] = Array(try BundleManifest.encoder().encode(manifest))
        let path = built.folder.path("\(name).zip")
        try HistoryBundle.write(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: path)
        return path
    }

    static func codes(_ report: HistoryReport) -> Set<HistoryReport.Finding.Code> { Set(report.findings.map(\.code)) }

    @Test("a dozen notes by three officers (card and SoftHSM2) and an approval: exported, every entry TOTAL-PASSED; each tampering is named")
    func realisticHistory() async throws {
        try await Self.withHistory { built, manager in
            let report = try HistoryBundle.verify(built.bundle, trust: built.trust, at: Self.verifiedAt)
            #expect(report.passed, "\(report.findings)")
            #expect(report.entries.count == 13)
            #expect(report.entries.allSatisfy { $0.indication == "TOTAL-PASSED" })
            #expect(Set(report.entries.compactMap(\.signer)) == ["Anita Sharma", "Rajesh Kumar Singh", "Thoudam Ibomcha Singh", "Kh. Ratan Kumar"])
            #expect(report.entries.last?.kind == "approval")
            #expect(report.checkpoints.isEmpty, "no per-entry checkpoint: the log's tree head covers every entry")
            #expect(report.log?.valid == true && report.log?.treeSize == 13 && report.log?.origin == Self.logOrigin)
            #expect(report.log?.signedBy?.hasPrefix("SignService Document Signer") == true)
            #expect(report.entries.map(\.leafIndex) == Array(0..<13))
            #expect(report.seal.hasPrefix("sealed by SignService Document Signer"))

            // An entry removed from the middle.
            let removed = try Self.tampered(built, "removed") { _, manifest in manifest.entries.remove(at: 5) }
            #expect(Self.codes(try HistoryBundle.verify(removed, trust: built.trust, at: Self.verifiedAt)).contains(.missingEntry))

            // Two entries swapped.
            let swapped = try Self.tampered(built, "swapped") { _, manifest in manifest.entries.swapAt(3, 4) }
            let swappedReport = try HistoryBundle.verify(swapped, trust: built.trust, at: Self.verifiedAt)
            #expect(Self.codes(swappedReport).contains(.outOfOrder) || Self.codes(swappedReport).contains(.missingEntry))
            #expect(Self.codes(swappedReport).contains(.brokenChain))

            // An entry inserted (a copy of entry 2 after entry 7).
            let inserted = try Self.tampered(built, "inserted") { _, manifest in manifest.entries.insert(manifest.entries[1], at: 7) }
            let insertedReport = try HistoryBundle.verify(inserted, trust: built.trust, at: Self.verifiedAt)
            #expect(Self.codes(insertedReport).contains(.outOfOrder))
            #expect(Self.codes(insertedReport).contains(.brokenChain))

            // An extract changed.
            let changed = try Self.tampered(built, "changed") { members, manifest in
                let name = manifest.entries[3].content
                members[name]! += Array(" (amended)".utf8)
            }
            let changedReport = try HistoryBundle.verify(changed, trust: built.trust, at: Self.verifiedAt)
            #expect(Self.codes(changedReport).contains(.contentChanged))
            #expect(changedReport.findings.contains { $0.code == .contentChanged && $0.entry == 4 })

            // A signature replaced by a valid signature over another file's note (same officer, hashes updated).
            let otherContent = Array("File FIN-7/2026, note N-4: another file's note.\n".utf8)
            let other = try Self.sign(
                manager, uri: Self.signers[1].uri, pinKind: "softhsm", content: otherContent, file: "FIN-7/2026",
                note: "N-4", previous: HistoryEntry.genesis, commitment: .proofOfOrigin, at: Self.time(4))
            let replaced = try Self.tampered(built, "replaced") { members, manifest in
                members[manifest.entries[3].signature] = other
                members[manifest.entries[3].content] = otherContent
                manifest.entries[3].signatureHash = Hex.encode(SHA256Hasher.hash(other))
                manifest.entries[3].contentHash = Hex.encode(SHA256Hasher.hash(otherContent))
            }
            let replacedReport = try HistoryBundle.verify(replaced, trust: built.trust, at: Self.verifiedAt)
            #expect(replacedReport.findings.contains { $0.code == .contextMismatch && $0.entry == 4 && $0.message.contains("FIN-7/2026") })

            // The history cut short: the last three entries dropped (the seal names 13).
            let cut = try Self.tampered(built, "cut") { _, manifest in manifest.entries.removeLast(3) }
            let cutReport = try HistoryBundle.verify(cut, trust: built.trust, at: Self.verifiedAt)
            #expect(Self.codes(cutReport).contains(.cutShort), "\(cutReport.findings)")

            // The log's tree head forged: the same text signed by an officer's key under the log's name.
            let forged = try Self.tampered(built, "forged") { members, _ in
                let note = try SignedNote(parsing: members["log/checkpoint"]!)
                let officerKey = try X509NoteKey(name: Self.logOrigin, certificate: try Fixture.certificate("officer-rsa"))
                let line = try officerKey.sign(note.text) { try Fixture.key("officer-rsa").sign($0).bytes }
                members["log/checkpoint"] = Array(try SignedNote(text: note.text, signatures: [line]).encoded.utf8)
            }
            let forgedReport = try HistoryBundle.verify(forged, trust: built.trust, at: Self.verifiedAt)
            #expect(Self.codes(forgedReport).contains(.logHeadNotValid), "\(forgedReport.findings)")

            // An entry whose inclusion proof was altered (one hash of its path): not in the log, named.
            let unproven = try Self.tampered(built, "unproven") { _, manifest in
                var path = manifest.entries[6].inclusion!
                path[0] = String(repeating: "0", count: 64)
                manifest.entries[6].inclusion = path
            }
            let unprovenReport = try HistoryBundle.verify(unproven, trust: built.trust, at: Self.verifiedAt)
            #expect(unprovenReport.findings.contains { $0.code == .notInLog && $0.entry == 7 }, "\(unprovenReport.findings)")
            #expect(unprovenReport.entries[6].leafIndex == nil && unprovenReport.entries[5].leafIndex == 5)

            for report in [swappedReport, insertedReport, changedReport, replacedReport, cutReport, forgedReport, unprovenReport] {
                #expect(!report.passed)
            }
        }
    }

    @Test("appends are refused with the reason: another file's signature, a stale head, an invalid signature")
    func refusals() async throws {
        try await Self.withHistory { built, manager in
            let store = built.history.store
            let head = try store.head(of: Self.number)
            let content = Array("note 14\n".utf8)
            // Signed for another file.
            let wrongFile = try Self.sign(
                manager, uri: Self.signers[1].uri, pinKind: "softhsm", content: content, file: "FIN-7/2026",
                note: "N-14", previous: head.hash, commitment: .proofOfOrigin, at: Self.time(14))
            let refused = #expect(throws: HistoryError.self) {
                try built.history.append(file: Self.number, kind: .note, noteID: "N-14", content: content, signature: wrongFile, at: Self.time(14))
            }
            #expect(refused?.code == .contextMismatch && refused?.description.contains("FIN-7/2026") == true, "\(String(describing: refused))")
            // Signed over an older head.
            let stale = try Self.sign(
                manager, uri: Self.signers[1].uri, pinKind: "softhsm", content: content, file: Self.number,
                note: "N-14", previous: HistoryEntry.genesis, commitment: .proofOfOrigin, at: Self.time(14))
            do {
                try built.history.append(file: Self.number, kind: .note, noteID: "N-14", content: content, signature: stale, at: Self.time(14))
                Issue.record("a signature over an old head was accepted")
            } catch let error as HistoryError {
                #expect(error.code == .contextMismatch)
                #expect(error.description.contains("head"))
            }
            // Content that is not what was signed.
            let good = try Self.sign(
                manager, uri: Self.signers[1].uri, pinKind: "softhsm", content: content, file: Self.number,
                note: "N-14", previous: head.hash, commitment: .proofOfOrigin, at: Self.time(14))
            do {
                try built.history.append(file: Self.number, kind: .note, noteID: "N-14", content: content + [0x20], signature: good, at: Self.time(14))
                Issue.record("a signature over other content was accepted")
            } catch let error as HistoryError {
                #expect(error.code == .signatureNotValid)
            }
            #expect(try store.head(of: Self.number).size == head.size, "nothing was appended")
            try built.history.append(file: Self.number, kind: .note, noteID: "N-14", content: content, signature: good, at: Self.time(14))
            #expect(try store.head(of: Self.number).size == head.size + 1)
        }
    }
}

extension HistoryTests {
    @Test("signctl history verify prints the timeline (exit 0), names a tampering (exit 1); the HTML report renders in Chromium")
    func commandAndBrowser() async throws {
        try await Self.withHistory { built, _ in
            let trust = Fixture.folder.appendingPathComponent("trust").path
            let html = built.folder.path("report.html")
            let at = ["--at", UTCTimeText.format(Self.verifiedAt)]
            let result = try Command.run(Rig.signctl, ["history", "verify", built.bundle, "--trust", trust, "--html", html] + at)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            for words in ["File DIT-12/3/2026-IT", "Anita Sharma (Class 3 DSC", "Kh. Ratan Kumar", "approval", "Valid history: 13 entries"] {
                #expect(result.stdout.contains(words), "\(words) in \(result.stdout)")
            }
            let json = try Command.run(Rig.signctl, ["history", "verify", built.bundle, "--trust", trust, "--json"] + at)
            #expect(json.status == 0)
            #expect(json.stdout.contains("\"schema\" : \"signservice.history-report/1\""))

            let cut = try Self.tampered(built, "cut-cli") { _, manifest in manifest.entries.removeLast() }
            let failed = try Command.run(Rig.signctl, ["history", "verify", cut, "--trust", trust] + at)
            #expect(failed.status == 1)
            #expect(failed.stdout.contains("[cut-short]"))
            let garbage = try built.folder.file("garbage.zip", Array("not a zip".utf8))
            let unreadable = try Command.run(Rig.signctl, ["history", "verify", garbage.path, "--trust", trust] + at)
            #expect(unreadable.status == 3)

            // A real browser renders the report: the DOM it builds holds the verdict and every entry.
            let chromium = try #require(Command.which("chromium"), "chromium is installed by scripts/setup.sh")
            let profile = try TemporaryFolder("signservice-chromium")
            let dom = try Command.run(
                chromium,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.url.path)",
                    "--dump-dom", "file://\(html)",
                ])
            #expect(dom.status == 0, "\(dom.stderr)")
            #expect(dom.stdout.contains("<p class=\"verdict\" id=\"verdict\">Valid history: 13 entries"))
            #expect(dom.stdout.components(separatedBy: "<tr class=\"ok\">").count - 1 == 13)
            #expect(dom.stdout.contains("Bharatiya Sakshya Adhiniyam"))
            let shot = built.folder.path("report.png")
            let screenshot = try Command.run(
                chromium,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.url.path)",
                    "--hide-scrollbars", "--window-size=1400,1800", "--screenshot=\(shot)", "file://\(html)",
                ])
            #expect(screenshot.status == 0, "\(screenshot.stderr)")
            let png = try Data(contentsOf: URL(fileURLWithPath: shot))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000)
            if let keep = ProcessInfo.processInfo.environment["SIGNSERVICE_KEEP_SCREENSHOT"] {
                try png.write(to: URL(fileURLWithPath: keep))
            }
        }
    }
}

@Suite("File histories survive kill -9")
struct HistoryCrashTests {
    static var appender: String { URL(fileURLWithPath: Rig.signctl).deletingLastPathComponent().appendingPathComponent("HistoryAppender").path }

    @Test(
        "50 kills at random moments of a process appending and signing tree heads in a loop: the store opens, every committed entry is whole and verifies, every signed head is over stored leaves"
    )
    func killNine() throws {
        try Rig.require()
        let folder = try TemporaryFolder("signservice-crash")
        let storePath = folder.path("store")
        let number = "CRASH-1/2026"
        var committed = Set<Int>()
        var roots = [Int: [UInt8]]()  // every tree head seen after a kill, by size
        var latestSize = 0
        for round in 0..<50 {
            let delay = String(format: "%.2f", Double.random(in: 0.25...0.9))
            let result = try Command.run("/usr/bin/timeout", ["--signal=KILL", delay, Self.appender, storePath, number, Fixture.folder.path])
            #expect(result.status == 137, "round \(round): the appender ended by itself (\(result.status)): \(result.stderr)")
            committed.formUnion(result.stdout.split(separator: "\n").compactMap { Int($0) })

            let store = try SQLiteHistoryStore(folder: storePath)  // must open after every kill
            let entries = try store.entries(of: number)
            var previous = HistoryEntry.genesis
            for (index, entry) in entries.enumerated() {
                #expect(entry.sequence == index + 1)
                #expect(entry.hashIsConsistent && entry.previousHash == previous, "round \(round): entry \(entry.sequence) is not whole")
                #expect(try store.blob(entry.contentHash) != nil && store.blob(entry.signatureHash) != nil, "round \(round): a blob is missing")
                previous = entry.hash
            }
            #expect(try store.leafIndexes(of: number).count == entries.count && store.logSize() == entries.count, "a leaf for every entry, committed together")
            // The log: the latest signed head covers only stored leaves and is their root (rebuild checks it), sizes
            // never go back from one kill to the next, and one size never has two heads.
            let log = try DepartmentLog(origin: "records.crash.example.gov.in/log", store: store)
            #expect(throws: Never.self, "round \(round): the store gives the latest signed head") { try log.rebuild() }
            if let head = try store.latestTreeHead() {
                #expect(
                    head.size <= entries.count && head.size >= latestSize, "round \(round): head of \(head.size) after \(latestSize), \(entries.count) entries")
                #expect(roots[head.size].map { $0 == head.rootHash } ?? true, "round \(round): two heads for size \(head.size)")
                roots[head.size] = head.rootHash
                latestSize = head.size
            }
            #expect(committed.isSubset(of: Set(entries.map(\.sequence))), "round \(round): an entry reported committed is gone")
            let leftovers = try FileManager.default.subpathsOfDirectory(atPath: storePath + "/blobs").filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "opening the store removes interrupted blob writes")
        }
        // Every committed entry's signature and checkpoint verify.
        let store = try SQLiteHistoryStore(folder: storePath)
        let entries = try store.entries(of: number)
        #expect(entries.count >= 50, "the appender made progress: \(entries.count) entries")
        #expect(roots.count >= 20, "heads were signed between the kills: \(roots.count) sizes seen")
        let verifier = try Fixture.verifier()
        for entry in entries {
            let verdict = try verifier.verify(
                signature: try #require(try store.blob(entry.signatureHash)),
                content: .bytes(try #require(try store.blob(entry.contentHash))), at: entry.time)
            #expect(verdict.passed, "entry \(entry.sequence): \(verdict.summary)")
        }
        for checkpoint in try store.checkpoints(of: number) {
            let verdict = try verifier.verify(signature: checkpoint.signature, content: .bytes(checkpoint.canonicalBytes), at: checkpoint.time)
            #expect(verdict.passed && verdict.signer?.kind == .documentSigner)
        }
    }
}

@Suite("Bundle zip reading")
struct BundleZipTests {
    @Test("stored members are read in place, deflated ones through ZIPFoundation, with the same result; damage is an error, not a crash")
    func readers() throws {
        let folder = try TemporaryFolder("signservice-zip")
        let files: [(String, [UInt8])] = (0..<50).map {
            ("contents/\($0)", Array("member \($0) ".utf8) + (0..<Int.random(in: 0...3000)).map { UInt8(truncatingIfNeeded: $0) })
        }
        let stored = folder.path("stored.zip")
        try HistoryBundle.write(files, to: stored)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: stored)))
        #expect(try BundleReader(stored).readsInPlace)
        let fast = try HistoryBundle.read(stored)
        #expect(fast.count == 50)
        for (name, content) in files { #expect(fast[name] == content) }

        // A deflated zip (as another tool may write) is not read in place, and ZIPFoundation gives the same members.
        let deflated = folder.path("deflated.zip")
        let archive = try Archive(url: URL(fileURLWithPath: deflated), accessMode: .create)
        for (name, content) in files {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(content.count), compressionMethod: .deflate) { position, size in
                Data(content[Int(position)..<Int(position) + size])
            }
        }
        #expect(try !BundleReader(deflated).readsInPlace)
        let slow = try HistoryBundle.read(deflated)
        for (name, content) in files { #expect(slow[name] == content) }

        // A member that inflates past the cap is refused while inflating, whatever size the zip declares: here every
        // central-directory record claims 1 byte (a decompression bomb lies the same way).
        var lying = Array(try Data(contentsOf: URL(fileURLWithPath: deflated)))
        for index in 0..<(lying.count - 46) where lying[index..<index + 4].elementsEqual([0x50, 0x4B, 0x01, 0x02]) {
            lying.replaceSubrange(index + 24..<index + 28, with: [1, 0, 0, 0])
        }
        let bomb = try folder.file("lying.zip", lying)
        do {
            _ = try HistoryBundle.read(bomb.path, maximumMemberSize: 100)
            Issue.record("a member inflating past its declared size and the cap was accepted")
        } catch let error as HistoryError {
            #expect(error.description.contains("inflates to more than 100 bytes"), "\(error)")
        }

        // Truncations (every cut loses the end-of-central-directory record) are errors; flipped bytes anywhere give
        // an error or at most the members there were, through the mapped reader and the ZIPFoundation fallback.
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 60)) {
            let damaged = try folder.file("cut.zip", Array(bytes.prefix(cut)))
            #expect((try? HistoryBundle.read(damaged.path)) == nil, "cut at \(cut)")
        }
        for _ in 0..<200 {
            var damaged = bytes
            damaged[Int.random(in: 0..<damaged.count)] ^= UInt8.random(in: 1...255)
            let file = try folder.file("flip.zip", damaged)
            if let members = try? HistoryBundle.read(file.path) { #expect(members.count <= 50) }
        }

        // A central directory whose record count was lowered: not read in place (the records no longer fill it).
        var lowered = bytes
        let end = try #require((0...(bytes.count - 22)).reversed().first { bytes[$0..<$0 + 4].elementsEqual([0x50, 0x4B, 0x05, 0x06]) })
        lowered[end + 10] &-= 1
        lowered[end + 8] &-= 1
        let loweredFile = try folder.file("lowered.zip", lowered)
        #expect((try? BundleReader(loweredFile.path))?.readsInPlace != true)

        // The mapped reader refuses a name that could leave an extraction folder and a member over the cap, naming it.
        for name in ["../outside", "contents/../../outside", "/etc/outside"] {
            let unsafe = folder.path("unsafe.zip")
            try HistoryBundle.write(Array(files.prefix(3)) + [(name, [1, 2, 3])], to: unsafe)
            let refusal = #expect(throws: HistoryError.self) { try BundleReader(unsafe) }
            #expect(refusal?.description.contains("unsafe name: \(name)") == true, "\(String(describing: refusal))")
        }
        let big = folder.path("big.zip")
        try HistoryBundle.write(Array(files.prefix(3)) + [("contents/big", [UInt8](repeating: 7, count: 5000))], to: big)
        let tooLarge = #expect(throws: HistoryError.self) { try BundleReader(big, maximumMemberSize: 4096) }
        #expect(tooLarge?.description.contains("contents/big is larger than 4096 bytes") == true, "\(String(describing: tooLarge))")
        let reader = try BundleReader(big, maximumMemberSize: 5000)
        #expect(reader.readsInPlace && reader.names == files.prefix(3).map(\.0) + ["contents/big"])
        #expect(reader.member("contents/big") == [UInt8](repeating: 7, count: 5000) && reader.member("contents/bi") == nil)
    }
}

@Suite("Bundle manifest reading")
struct ManifestReadingTests {
    static func manifest(sequence: String = "1", extra: String = "") -> [UInt8] {
        let hash = String(repeating: "ab", count: 32)
        return Array(
            """
            {"schema": "signservice.bundle/1", "file": {"number": "F-1/2026", "subject": "s\\u00e9", "department": "D"},
             "exportedAt": "2026-11-23T07:01:49Z", "exportedBy": "test", \(extra)
             "entries": [{"sequence": \(sequence), "kind": "note", "noteID": "N-1", "time": "2026-11-23T07:01:49Z",
                          "contentHash": "\(hash)", "signatureHash": "\(hash)", "signerFingerprint": "\(hash)", "attachmentHash": null,
                          "previousHash": "\(hash)", "hash": "\(hash)", "content": "contents/\(hash)", "signature": "signatures/1.p7s"}],
             "checkpoints": [], "certificates": [], "revocation": []}
            """.utf8)
    }

    @Test("a manifest reads with escapes and unknown keys; a negative, fractional or missing number is an error, not a trap")
    func numbers() throws {
        let read = try BundleManifest.parse(Self.manifest(extra: #""later": {"nested": [1, 2.5, true, null]},"#))
        #expect(read.entries.count == 1 && read.entries[0].sequence == 1 && read.file.subject == "sé")
        for bad in ["-1", "1.5", "01", "\"1\"", "99999999999999999999"] {
            #expect(throws: (any Error).self, "sequence \(bad)") { try BundleManifest.parse(Self.manifest(sequence: bad)) }
        }
        #expect(throws: (any Error).self) { try BundleManifest.parse(Array(Self.manifest().dropLast(3))) }
    }
}
