import Foundation

extension HistoryReport {
    /// The timeline and summary a person reads in a terminal.
    public var text: String {
        var lines = [String]()
        if let file { lines.append("File \(file.number): \(file.subject) (\(file.department))") }
        lines.append("")
        lines.append("  #  kind            note     signed at              by (as)                                      verdict")
        for entry in entries {
            let time = entry.signingTime.map { UTCTimeText.format($0) } ?? "-"
            let who = "\(entry.signer ?? "?") (\(Self.shortKind(entry.signerKind)))"
            func padded(_ text: String, _ width: Int) -> String {
                let count = text.count
                return count >= width ? text : text + String(repeating: " ", count: width - count)
            }
            let number = String(entry.sequence)
            lines.append(String(repeating: " ", count: max(0, 3 - number.count)) + number + "  " + padded(entry.kind, 14) + "  "
                         + padded(entry.noteID, 7) + "  " + padded(time, 21) + "  " + padded(who, 43) + "  "
                         + entry.indication + (entry.subIndication.map { " " + $0 } ?? ""))
            if let approval = entry.approval { lines.append("     " + approval) }
            if let qr = entry.qr { lines.append("     " + qr) }
        }
        lines.append("")
        let validCheckpoints = checkpoints.filter(\.valid).count
        lines.append("Checkpoints: \(validCheckpoints) of \(checkpoints.count) signed by the service and consistent")
        lines.append("Seal: \(seal)")
        if !findings.isEmpty {
            lines.append("")
            lines.append("Problems:")
            for finding in findings { lines.append("  [\(finding.code.rawValue)] \(finding.message)") }
        }
        lines.append("")
        lines.append(summary)
        lines.append("Checked \(UTCTimeText.format(validationTime)) by \(verifier)")
        return lines.joined(separator: "\n")
    }

    static func shortKind(_ description: String?) -> String {
        guard let description else { return "?" }
        var short = description.prefix { $0 != "(" }
        while short.last == " " { short = short.dropLast() }
        return String(short)
    }

    /// A printable HTML timeline for a DNO or an auditor: self-contained, no scripts, every value escaped.
    public var html: String {
        func e(_ text: String?) -> String {
            (text ?? "").replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var rows = ""
        for entry in entries {
            let ok = entry.indication == Indication.totalPassed.rawValue
            rows += """
                <tr class="\(ok ? "ok" : "bad")"><td>\(entry.sequence)</td><td>\(e(entry.kind))</td><td>\(e(entry.noteID))</td>
                <td>\(e(entry.signingTime.map { UTCTimeText.format($0) }))<br><small>\(e(entry.signingTimeSource))</small></td>
                <td>\(entry.approval.map { "<b class=\"scan\">\(e($0))</b><br><small>\(e(entry.qr))</small><br>" } ?? "")\(e(entry.signer))<br><small>\(e(entry.signerKind))</small><br><small>issued by \(e(entry.issuer))</small></td>
                <td><b>\(e(entry.indication))</b> \(e(entry.subIndication))<br><small>\(e(entry.verdict))</small></td>
                <td><small>\(e(entry.contentHash))<br>certificate SHA-256 \(e(entry.signerFingerprint))<br>revocation: \(e(entry.revocation))</small></td></tr>

                """
        }
        var problems = ""
        for finding in findings { problems += "<li><b>\(e(finding.code.rawValue))</b>: \(e(finding.message))</li>\n" }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>Signing history of file \(e(file?.number))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #111; }
            table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
            th, td { border: 1px solid #999; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
            tr.bad td { background: #fde2e2; } tr.ok td { background: #eef8ee; }
            small { color: #444; word-break: break-all; }
            .verdict { font-size: 1.2em; padding: 0.5em; border: 2px solid \(passed ? "#2a7" : "#c33"); }
            @media print { body { margin: 0.5cm; } tr { page-break-inside: avoid; } }
            </style></head><body>
            <h1>Signing history of file \(e(file?.number))</h1>
            <p>\(e(file?.subject)) &mdash; \(e(file?.department))</p>
            <p class="verdict" id="verdict">\(e(summary))</p>
            <h2>Timeline</h2>
            <table id="timeline"><tr><th>#</th><th>Kind</th><th>Note</th><th>Signed at (proof)</th><th>Signer (as)</th><th>Verdict</th><th>Evidence</th></tr>
            \(rows)</table>
            <h2>Integrity of the history</h2>
            <p>Checkpoints signed by the service: \(checkpoints.filter(\.valid).count) of \(checkpoints.count) valid. Seal: \(e(seal)).</p>
            \(problems.isEmpty ? "<p>No problem found: no entry is missing, moved, inserted or changed.</p>" : "<ul id=\"problems\">\n\(problems)</ul>")
            <h2>What this report states, and what evidence needs</h2>
            <p>For each signature this report states the hash and algorithm of the signed content, the signer's certificate
            and its issuer, the cryptographic result, the validity and revocation status at the signing time and what proves
            that time, and the system and version that checked it. These are what the IT Act 2000 (s.3, s.3A, s.73) and the
            Bharatiya Sakshya Adhiniyam 2023 (s.63 certificate for electronic records, s.86 presumption for secure electronic
            records) ask a verification to establish. A certificate revoked after a signature was made does not undo it (s.73).
            A scan approval is a hand signature on paper, uploaded and attested by the PPS; it is not the Minister's digital
            signature.</p>
            <p><small>Checked \(e(UTCTimeText.format(validationTime))) by \(e(verifier)).</small></p>
            </body></html>

            """
    }
}
