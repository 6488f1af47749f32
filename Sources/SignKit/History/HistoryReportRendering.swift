import Foundation

extension HistoryReport {
    /// The timeline and summary a person reads in a terminal (English).
    public var text: String { text(in: .english) }

    /// The timeline and summary in `language`: a table in English; in Hindi one block per entry (Devanagari has no
    /// fixed width in a terminal, so columns would not line up).
    public func text(in language: ReportLanguage) -> String {
        language == .english ? englishText : localText(ReportWords(language: language))
    }

    private var englishText: String {
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
            lines.append(
                String(repeating: " ", count: max(0, 3 - number.count)) + number + "  " + padded(entry.kind, 14) + "  "
                    + padded(entry.noteID, 7) + "  " + padded(time, 21) + "  " + padded(who, 43) + "  "
                    + entry.indication + (entry.subIndication.map { " " + $0 } ?? ""))
            if let approval = entry.approval { lines.append("     " + approval) }
            if let qr = entry.qr { lines.append("     " + qr) }
        }
        lines.append("")
        let validCheckpoints = checkpoints.filter(\.valid).count
        if !checkpoints.isEmpty || log == nil {
            lines.append("Checkpoints: \(validCheckpoints) of \(checkpoints.count) signed by the service and consistent")
        }
        if let words = logWords(hindi: false) { lines.append("Department log: \(words)") }
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

    /// The department log's line: which head proves the entries, who signed and cosigned it; nil without a log.
    func logWords(hindi: Bool) -> String? {
        guard let log else { return nil }
        let unproven = findings.filter { $0.code == .notInLog }.count
        let cosigned = log.cosignatureNames.isEmpty ? "" : (hindi ? "; सह-हस्ताक्षर: " : "; cosigned by ") + log.cosignatureNames.joined(separator: ", ")
        guard log.valid else {
            return hindi ? "ट्री-हेड मान्य नहीं है" : "NOT VALID: the tree head does not hold"
        }
        let leaves = "\(log.treeSize) " + (hindi ? "पत्तियों (leaves)" : log.treeSize == 1 ? "leaf" : "leaves")
        if hindi {
            return (unproven == 0 ? "सभी प्रविष्टियाँ" : "\(entries.count - unproven) प्रविष्टियाँ")
                + " \(log.origin) के \(leaves) वाले हस्ताक्षरित ट्री-हेड में सिद्ध (हस्ताक्षरकर्ता \(log.signedBy ?? "?"))" + cosigned
        }
        return (unproven == 0 ? "every entry" : "\(entries.count - unproven) of \(entries.count) entries")
            + " proven in the signed tree head of \(leaves) of \(log.origin) (signed by \(log.signedBy ?? "?"))" + cosigned
    }

    private func localText(_ words: ReportWords) -> String {
        let language = words.language
        var lines = [String]()
        if let file { lines.append("फ़ाइल \(file.number): \(file.subject) (\(file.department))") }
        lines.append("")
        for entry in entries {
            lines.append("प्रविष्टि \(entry.sequence): \(words.entryKind(entry.kind)), टिप्पणी संख्या \(entry.noteID)")
            let kind = entry.signerKind.flatMap(SignerKind.init(words:)).map(words.shortKind) ?? Self.shortKind(entry.signerKind)
            lines.append("    हस्ताक्षरकर्ता: \(entry.signer ?? "?") (\(kind))")
            if let time = entry.signingTime {
                let source = entry.signingTimeSource.flatMap(Verdict.SigningTimeEvidence.Source.init(rawValue:)).map(words.timeSource)
                lines.append("    समय: \(language.time(time))" + (source.map { " (\($0))" } ?? ""))
            }
            let verdict = Indication(rawValue: entry.indication).map(words.verdict) ?? entry.indication
            let reason =
                entry.indication == Indication.totalPassed.rawValue
                ? "" : ": " + words.entryVerdict(indication: entry.indication, subIndication: entry.subIndication, english: entry.verdict)
            lines.append("    निर्णय: \(verdict) (\(ReportWords.etsi(entry.indication, entry.subIndication)))\(reason)")
            if let approval = words.scanApproval(entry.scan, english: entry.approval) { lines.append("    " + approval) }
            if let qr = words.scanQR(entry.scan, english: entry.qr) { lines.append("    " + qr) }
        }
        lines.append("")
        if !checkpoints.isEmpty || log == nil {
            lines.append("जाँच-बिंदु (checkpoints): \(checkpoints.count) में से \(checkpoints.filter(\.valid).count) सेवा द्वारा हस्ताक्षरित और सुसंगत")
        }
        if let words = logWords(hindi: true) { lines.append("विभाग लॉग (department log): \(words)") }
        lines.append("मुहर (seal): \(words.seal(self))")
        if !findings.isEmpty {
            lines.append("")
            lines.append("समस्याएँ:")
            for finding in findings { lines.append("  [\(finding.code.rawValue)] \(words.finding(finding))") }
        }
        lines.append("")
        lines.append(words.historySummary(self))
        lines.append(words.checkedBy(validationTime, verifier))
        return lines.joined(separator: "\n")
    }

    static func shortKind(_ description: String?) -> String {
        guard let description else { return "?" }
        var short = description.prefix { $0 != "(" }
        while short.last == " " { short = short.dropLast() }
        return String(short)
    }

    /// A printable HTML timeline for a DNO or an auditor (English): self-contained, no scripts, every value escaped.
    public var html: String { html(in: .english) }

    /// The HTML timeline in `language`. Names, hashes and the ETSI indications are the same in every language.
    public func html(in language: ReportLanguage) -> String {
        let words = ReportWords(language: language)
        let hindi = language == .hindi
        let e = HTMLText.escape
        var rows = ""
        for entry in entries {
            let ok = entry.indication == Indication.totalPassed.rawValue
            let time = entry.signingTime.map { language.time($0) }
            let source = entry.signingTimeSource.map { raw in
                Verdict.SigningTimeEvidence.Source(rawValue: raw).map(words.timeSource) ?? raw
            }
            let kind = hindi ? words.kind(described: entry.signerKind) : entry.signerKind
            let scan =
                words.scanApproval(entry.scan, english: entry.approval).map { approval in
                    "<b class=\"scan\">\(e(approval))</b><br><small>\(e(words.scanQR(entry.scan, english: entry.qr)))</small><br>"
                } ?? ""
            let verdict =
                hindi
                ? "<b>\(e(Indication(rawValue: entry.indication).map(words.verdict) ?? entry.indication))</b><br>"
                    + "<span class=\"etsi\">\(e(ReportWords.etsi(entry.indication, entry.subIndication)))</span><br>"
                    + "<small>\(HTMLText.sentence(words.entryVerdict(indication: entry.indication, subIndication: entry.subIndication, english: entry.verdict)))</small>"
                : "<b class=\"nowrap\">\(e(entry.indication))</b> \(e(entry.subIndication))<br><small>\(HTMLText.sentence(entry.verdict))</small>"
            let issuedBy = hindi ? "जारीकर्ता:" : "issued by"
            let certificate = hindi ? "प्रमाणपत्र का SHA-256" : "certificate SHA-256"
            let revocation = hindi ? "प्रतिसंहरण स्थिति:" : "revocation:"
            rows += """
                <tr class="\(ok ? "ok" : "bad")"><td>\(entry.sequence)</td><td>\(e(words.entryKind(entry.kind)))</td><td>\(e(entry.noteID))</td>
                <td>\(e(time))<br><small>\(e(source))</small></td>
                <td>\(scan)\(e(entry.signer))<br><small>\(e(kind))</small><br><small>\(issuedBy) \(HTMLText.name(entry.issuer))</small></td>
                <td>\(verdict)</td>
                <td><small><span class="hex">\(e(entry.contentHash))</span><br>\(certificate) <span class="hex">\(e(entry.signerFingerprint))</span><br>\(revocation) \(e(words.revocation(entry.revocation)))</small></td></tr>

                """
        }
        var problems = ""
        for finding in findings {
            problems +=
                "<li><b>[\(e(finding.code.rawValue))]</b> \(e(words.finding(finding)))"
                + (hindi ? "<br><small lang=\"en\">\(e(finding.message))</small>" : "") + "</li>\n"
        }
        let t = HistoryHTMLText(language: language)
        let title = "\(t.title) \(e(file?.number))"
        let validCheckpoints = checkpoints.filter(\.valid).count
        // Only the statements that apply to this history.
        var statements = "<p id=\"evidence\">\(e(words.evidence))</p>\n"
        if entries.contains(where: { $0.revocation?.hasPrefix(Verdict.RevocationFinding.Status.revoked.rawValue) == true }) {
            statements += "<p id=\"revoked-after-signing\">\(e(words.revokedAfterSigning))</p>\n"
        }
        if entries.contains(where: { $0.kind == EntryKind.scanApproval.rawValue }) {
            statements += "<p id=\"scan-approval\">\(e(words.scanApprovalStatement))</p>\n"
        }
        let noProblem =
            hindi
            ? "कोई समस्या नहीं मिली: कोई प्रविष्टि हटाई, खिसकाई, जोड़ी या बदली नहीं गई है।"
            : "No problem found: no entry is missing, moved, inserted or changed."
        let checkpointWords =
            checkpoints.isEmpty && log != nil
            ? ""
            : hindi
                ? "सेवा द्वारा हस्ताक्षरित जाँच-बिंदु (checkpoints): \(checkpoints.count) में से \(validCheckpoints) मान्य। "
                : "Checkpoints signed by the service: \(validCheckpoints) of \(checkpoints.count) valid. "
        let logSentence = logWords(hindi: hindi).map { hindi ? "विभाग लॉग (department log): \(e($0))। " : "Department log: \(e($0)). " } ?? ""
        let integrity =
            hindi
            ? checkpointWords + logSentence + "मुहर (seal): \(e(words.seal(self)))।"
            : checkpointWords + logSentence + "Seal: \(e(seal))."
        return """
            <!DOCTYPE html>
            <html lang="\(language.htmlTag)"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>\(title)</title>
            <style>
            \(HTMLText.style(language))
            table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
            th, td { border: 1px solid #999; padding: 0.3em 0.5em; vertical-align: top; text-align: left; overflow-wrap: break-word; hyphens: none; }
            #timeline th:nth-child(7) { width: 24%; }
            tr.bad td { background: #fde2e2; } tr.ok td { background: #eef8ee; }
            .verdict { font-size: 1.2em; padding: 0.5em; border: 2px solid \(passed ? "#2a7" : "#c33"); }
            @media print { body { margin: 0.5cm; } tr { page-break-inside: avoid; } }
            </style></head><body>
            <h1>\(title)</h1>
            <p>\(e(file?.subject)) &mdash; \(e(file?.department))</p>
            <p class="verdict" id="verdict">\(HTMLText.sentence(words.historySummary(self)))</p>
            <h2>\(t.timeline)</h2>
            <table id="timeline"><tr>\(t.columns.map { "<th>\($0)</th>" }.joined())</tr>
            \(rows)</table>
            <h2>\(t.integrity)</h2>
            <p id="integrity">\(integrity)</p>
            \(problems.isEmpty ? "<p>\(noProblem)</p>" : "<ul id=\"problems\">\n\(problems)</ul>")
            <h2>\(t.evidence)</h2>
            \(statements)<p><small>\(e(words.checkedBy(validationTime, verifier))).</small></p>
            </body></html>

            """
    }
}

/// The history report's headings in each language.
struct HistoryHTMLText {
    let title: String
    let timeline: String
    let columns: [String]
    let integrity: String
    let evidence: String

    init(language: ReportLanguage) {
        switch language {
        case .english:
            title = "Signing history of file"
            timeline = "Timeline"
            columns = ["#", "Kind", "Note", "Signed at (proof)", "Signer (as)", "Verdict", "Evidence"]
            integrity = "Integrity of the history"
            evidence = "What this report states, and what evidence needs"
        case .hindi:
            title = "फ़ाइल का हस्ताक्षर इतिहास:"
            timeline = "समय-क्रम"
            columns = ["क्रम", "प्रकार", "टिप्पणी सं.", "हस्ताक्षर का समय (प्रमाण)", "हस्ताक्षरकर्ता (किस रूप में)", "निर्णय", "साक्ष्य"]
            integrity = "इतिहास की अखंडता"
            evidence = "यह रिपोर्ट क्या बताती है, और साक्ष्य के लिए क्या आवश्यक है"
        }
    }
}

/// What every HTML report shares: escaping, and the page's type faces for its language.
enum HTMLText {
    static func escape(_ text: String?) -> String {
        (text ?? "").replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A sentence escaped, its ETSI indications kept on one line (a browser would otherwise break "TOTAL-PASSED"
    /// at its hyphen).
    static func sentence(_ text: String?) -> String {
        var html = escape(text)
        for word in [Indication.totalPassed.rawValue, Indication.totalFailed.rawValue] {
            html = html.replacingOccurrences(of: word, with: "<span class=\"nowrap\">\(word)</span>")
        }
        return html
    }

    /// A distinguished name ("CN=Anita Sharma,O=...,C=IN") escaped, with a line-break opportunity after each comma:
    /// a long name wraps between its parts, never inside a word.
    static func name(_ text: String?) -> String {
        escape(text).replacingOccurrences(of: ",", with: ",<wbr>")
    }

    /// The body's faces (Devanagari from Debian's fonts-lohit-deva or fonts-noto), and hashes that may break
    /// anywhere while words never break inside.
    static func style(_ language: ReportLanguage) -> String {
        // Latin letters and digits from the Latin face, Devanagari from the first Devanagari face installed.
        let faces = language == .hindi ? "\"Noto Sans\", \"DejaVu Sans\", \"Noto Sans Devanagari\", \"Lohit Devanagari\", sans-serif" : "sans-serif"
        return """
            body { font-family: \(faces); margin: 2em; color: #111; line-height: \(language == .hindi ? "1.6" : "1.35"); }
            small { color: #444; }
            .hex { font-family: monospace; overflow-wrap: anywhere; word-break: normal; }
            .etsi { font-family: sans-serif; font-size: 0.85em; color: #333; white-space: nowrap; }
            .nowrap { white-space: nowrap; }
            """
    }
}
