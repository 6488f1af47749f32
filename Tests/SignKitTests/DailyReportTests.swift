import Foundation
import Testing
import TestSupport
@testable import SignKit

@Suite("The daily status report")
struct DailyReportTests {
    /// A store written directly (the report reads what is stored; appending is tested elsewhere): two departments,
    /// entries signed in process with the test PKI's keys, at times either side of midnight in India.
    static func store(in folder: TemporaryFolder) throws -> SQLiteHistoryStore {
        let store = try SQLiteHistoryStore(folder: folder.path("store"))
        try store.createFile(FileRecord(number: "IT-1/2026", subject: "Servers", department: "IT"))
        try store.createFile(FileRecord(number: "IT-2/2026", subject: "Network", department: "IT"))
        try store.createFile(FileRecord(number: "FIN-9/2026", subject: "Budget", department: "Finance"))
        func append(_ file: String, _ note: String, signer: String, kind: EntryKind = .note, at time: String) throws {
            let certificate = try Fixture.certificate(signer), key = try Fixture.key(signer)
            let content = Array("\(file) \(note)".utf8)
            let head = try store.head(of: file)
            let signedAt = try #require(UTCTimeText.parse(time))
            let signature = try CAdES.signDetached(
                contentDigest: SHA256Hasher.hash(content), certificate: certificate,
                parameters: SignatureParameters(
                    context: EOfficeContext(fileNumber: file, noteID: note, previousEntryHash: head.hash),
                    commitment: .proofOfOrigin, signingTime: signedAt, chain: [])
            ) { try key.sign($0) }
            let entry = HistoryEntry(
                fileNumber: file, sequence: head.size + 1, kind: kind, noteID: note, time: signedAt,
                contentHash: SHA256Hasher.hash(content), signatureHash: SHA256Hasher.hash(signature),
                signerFingerprint: certificate.sha256Fingerprint, previousHash: head.hash)
            try store.append(
                entry, checkpoint: Checkpoint(fileNumber: file, size: entry.sequence, headHash: entry.hash, time: entry.time),
                blobs: [content, signature])
        }
        // 21 November in India: 20 Nov 18:30 UTC to 21 Nov 18:30 UTC.
        try append("IT-1/2026", "N-1", signer: "officer-rsa", at: "2026-11-20T19:00:00Z")  // 21st, 00:30 IST
        try append("IT-1/2026", "N-1", signer: "minister", kind: .approval, at: "2026-11-21T05:00:00Z")
        try append("IT-1/2026", "N-2", signer: "esign-user", at: "2026-11-21T06:00:00Z")
        try append("IT-2/2026", "N-1", signer: "pps", kind: .scanApproval, at: "2026-11-21T10:00:00Z")
        try append("IT-2/2026", "N-2", signer: "officer-rsa", at: "2026-11-21T18:45:00Z")  // 22nd, 00:15 IST
        try append("FIN-9/2026", "N-1", signer: "officer-ec", at: "2026-11-21T12:00:00Z")
        try append("FIN-9/2026", "N-2", signer: "docsigner", at: "2026-11-21T12:30:00Z")  // not a person's DSC
        try append("FIN-9/2026", "N-3", signer: "officer-rsa", at: "2026-11-23T12:00:00Z")  // outside the days asked
        return store
    }

    @Test("counts per department and Indian day: files, notes, DSC, e-Sign, scan approvals; text, CSV and JSON from signctl agree")
    func counts() throws {
        let folder = try TemporaryFolder("signservice-daily")
        let store = try Self.store(in: folder)
        let report = try DailyReport.build(store: store, from: "2026-11-21", to: "2026-11-22")
        let rows = report.rows.map {
            "\($0.department) \($0.day) f\($0.files) n\($0.notes) dsc\($0.signedByDSC) esign\($0.signedByESign) scan\($0.scanApprovals) other\($0.otherSignatures)"
        }
        #expect(
            rows == [
                "Finance 2026-11-21 f1 n2 dsc1 esign0 scan0 other1",
                "IT 2026-11-21 f2 n3 dsc2 esign1 scan1 other0",
                "IT 2026-11-22 f1 n1 dsc1 esign0 scan0 other0",
            ], "\(rows)")
        #expect(report.totals.signedByDSC == 4 && report.totals.scanApprovals == 1 && report.totals.notes == 6)
        // In UTC the entry at 18:45 on the 21st belongs to the 21st.
        let utc = try DailyReport.build(store: store, from: "2026-11-21", to: "2026-11-21", timeZone: TimeZone(identifier: "UTC")!, department: "IT")
        #expect(utc.rows.map(\.day) == ["2026-11-21"] && utc.rows[0].notes == 4 && utc.rows[0].signedByDSC == 2, "\(utc.rows)")
        #expect(throws: HistoryError.self) { try DailyReport.build(store: store, from: "2026-11-31", to: "2026-12-01") }
        #expect(throws: HistoryError.self) { try DailyReport.build(store: store, from: "2026-11-22", to: "2026-11-21") }

        // signctl on the same store: the three formats.
        let arguments = ["report", "daily", "--store", folder.path("store"), "--from", "2026-11-21", "--to", "2026-11-22"]
        let csv = try Command.run(Rig.signctl, arguments + ["--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.hasPrefix("department,day,files,notes,signed_by_dsc,signed_by_esign,scan_approvals,other_signatures\r\n"))
        #expect(csv.stdout.contains("IT,2026-11-21,2,3,2,1,1,0\r\n") && csv.stdout.contains("all,2026-11-21..2026-11-22,4,6,4,1,1,1\r\n"), "\(csv.stdout)")
        let json = try Command.run(Rig.signctl, arguments + ["--format", "json"])
        let decoded = try JSONDecoder().decode(DailyReport.self, from: json.stdoutData)
        #expect(decoded.rows == report.rows && decoded.schema == "signservice.daily-report/1")
        let text = try Command.run(Rig.signctl, arguments)
        #expect(
            text.stdout.contains("Daily status of e-Office signing, 2026-11-21 to 2026-11-22 (Asia/Kolkata)") && text.stdout.contains("Finance"),
            "\(text.stdout)")
        let bad = try Command.run(Rig.signctl, ["report", "daily", "--store", folder.path("store"), "--from", "21-11-2026"])
        #expect(bad.status == 3 && bad.stderr.contains("YYYY-MM-DD"), "\(bad.stderr)")
    }

    @Test("a CSV field a spreadsheet would run as a formula is defused, and quoting follows RFC 4180")
    func csvSafety() {
        let row = DailyReport.Row(
            department: "=HYPERLINK(\"http://x\")", day: "2026-11-21", files: 1, notes: 1, signedByDSC: 1, signedByESign: 0,
            scanApprovals: 0, otherSignatures: 0)
        let report = DailyReport(from: "2026-11-21", to: "2026-11-21", timeZone: "Asia/Kolkata", rows: [row], totals: row)
        #expect(report.csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\",2026-11-21,1,1,1,0,0,0\r\n"), "\(report.csv)")
    }
}
