import Foundation

/// The daily status report the government orders ask of departmental nodal officers: for each department and day,
/// the files and notes handled and how they were signed (DSC, e-Sign, scan approval), from the history store.
///
/// A day is a calendar day in `timeZone` (India Standard Time by default), counted by when the service accepted
/// each entry. How an entry was signed is read from its signer's certificate policy in the stored signature
/// (Class 3 or Class 2 DSC, e-Sign); a scan approval counts as a scan approval whatever the PPS's certificate.
public struct DailyReport: Codable, Sendable {
    public var schema = "signservice.daily-report/1"
    public var from: String
    public var to: String
    public var timeZone: String
    public var rows: [Row]
    public var totals: Row

    public struct Row: Codable, Sendable, Hashable {
        public var department: String
        public var day: String
        /// Distinct files with at least one entry that day.
        public var files: Int
        /// Distinct notes (file and note id) with at least one entry that day.
        public var notes: Int
        public var signedByDSC: Int
        public var signedByESign: Int
        public var scanApprovals: Int
        /// Signatures under another policy (a document signer, an unknown CA).
        public var otherSignatures: Int
    }

    /// Entries accepted between the start of `from` and the end of `to` (days in `timeZone`), by department and day.
    public static func build(
        store: any HistoryStore, from: String, to: String, timeZone: TimeZone = TimeZone(identifier: "Asia/Kolkata")!,
        department: String? = nil
    ) throws -> DailyReport {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let start = Self.day(from, calendar), let end = Self.day(to, calendar).flatMap({ calendar.date(byAdding: .day, value: 1, to: $0) }),
            start < end
        else {
            throw HistoryError(.invalidRequest, "the days must read as YYYY-MM-DD, the first not after the last (\(from) to \(to))")
        }
        let formatter = dayFormatter(timeZone)

        struct Tally {
            var files = Set<String>(), notes = Set<String>()
            var dsc = 0, eSign = 0, scans = 0, other = 0
        }
        var tallies = [String: [String: Tally]]()  // department -> day -> tally
        for file in try store.files() where department == nil || file.department == department {
            for entry in try store.entries(of: file.number) where entry.time >= start && entry.time < end {
                let day = formatter.string(from: entry.time)
                var tally = tallies[file.department, default: [:]][day, default: Tally()]
                tally.files.insert(file.number)
                tally.notes.insert(file.number + "\u{0}" + entry.noteID)
                if entry.kind == .scanApproval {
                    tally.scans += 1
                } else {
                    switch try signerKind(of: entry, in: store) {
                    case .class3TokenDSC, .class2LegacyDSC: tally.dsc += 1
                    case .eSign: tally.eSign += 1
                    default: tally.other += 1
                    }
                }
                tallies[file.department, default: [:]][day] = tally
            }
        }
        var rows = [Row]()
        for (name, days) in tallies.sorted(by: { $0.key < $1.key }) {
            for (day, tally) in days.sorted(by: { $0.key < $1.key }) {
                rows.append(
                    Row(
                        department: name, day: day, files: tally.files.count, notes: tally.notes.count, signedByDSC: tally.dsc,
                        signedByESign: tally.eSign, scanApprovals: tally.scans, otherSignatures: tally.other))
            }
        }
        let totals = Row(
            department: "all", day: "\(from)..\(to)", files: rows.reduce(0) { $0 + $1.files }, notes: rows.reduce(0) { $0 + $1.notes },
            signedByDSC: rows.reduce(0) { $0 + $1.signedByDSC }, signedByESign: rows.reduce(0) { $0 + $1.signedByESign },
            scanApprovals: rows.reduce(0) { $0 + $1.scanApprovals }, otherSignatures: rows.reduce(0) { $0 + $1.otherSignatures })
        return DailyReport(from: from, to: to, timeZone: timeZone.identifier, rows: rows, totals: totals)
    }

    /// "2026-11-23": the day `date` falls on in `timeZone`.
    public static func day(of date: Date, in timeZone: TimeZone) -> String {
        dayFormatter(timeZone).string(from: date)
    }

    static func dayFormatter(_ timeZone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = timeZone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }

    static func day(_ text: String, _ calendar: Calendar) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, text.count == 10 else { return nil }
        let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// The kind of the entry's signer, from the certificate policies of the certificate with the recorded
    /// fingerprint among those in its stored signature; `.unknown` when it cannot be read.
    static func signerKind(of entry: HistoryEntry, in store: any HistoryStore) throws -> SignerKind {
        guard let signature = try store.blob(entry.signatureHash), let structure = try? SignedDataStructure(signature) else { return .unknown }
        for slice in structure.certificates where SHA256Hasher.hash(Array(slice)) == entry.signerFingerprint {
            guard let certificate = try? X509Certificate(der: Array(slice)) else { return .unknown }
            return SignerKind.of(policies: certificate.policies)
        }
        return .unknown
    }

    static let columns = ["department", "day", "files", "notes", "signed_by_dsc", "signed_by_esign", "scan_approvals", "other_signatures"]

    func values(_ row: Row) -> [String] {
        [
            row.department, row.day, String(row.files), String(row.notes), String(row.signedByDSC), String(row.signedByESign),
            String(row.scanApprovals), String(row.otherSignatures),
        ]
    }

    /// RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line break; a field a spreadsheet
    /// would run as a formula (=, +, -, @ first) is prefixed with a quote.
    public var csv: String {
        func field(_ text: String) -> String {
            var value = text
            if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
            return value.contains(where: { ",\"\r\n".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        return ([Self.columns] + rows.map(values) + [values(totals)]).map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    public var text: String {
        let header = ["Department", "Day", "Files", "Notes", "DSC", "e-Sign", "Scan appr.", "Other"]
        let table = [header] + rows.map(values) + [values(totals)]
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index < 2
                    ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }
        var lines = ["Daily status of e-Office signing, \(from) to \(to) (\(timeZone))", ""]
        lines.append(line(header))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        lines += rows.map { line(values($0)) }
        lines.append(line(values(totals)))
        lines.append("")
        lines.append(
            "DSC: Class 3/Class 2 certificates; e-Sign: Aadhaar eSign; scan approvals: hand-signed printed extracts uploaded and "
                + "attested by a PPS/PS (not a digital signature of the approver).")
        return lines.joined(separator: "\n") + "\n"
    }
}
