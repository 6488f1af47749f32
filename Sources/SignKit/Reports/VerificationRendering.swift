import Foundation

/// The labels of a verification report, in each language.
struct VerificationLabels {
    let title, verdict, signature, content, insideSignature, bytes, signer, kind, certificate, validity, publicKey, signedAt,
        timeStamp, eOffice, commitment, chain, trustAnchor, revocation, checks, notes, checked, evidence, check, result: String

    init(_ language: ReportLanguage) {
        switch language {
        case .english:
            (title, verdict, signature, content, insideSignature, bytes) = (
                "Signature verification report", "Verdict", "Signature", "Content",
                "inside the signature", "bytes"
            )
            (signer, kind, certificate, validity, publicKey) = ("Signer", "as", "certificate serial", "valid", "key")
            (signedAt, timeStamp, eOffice, commitment, chain, trustAnchor) = (
                "Signed at", "Time-stamp", "e-Office", "Commitment", "Chain",
                "trust anchor"
            )
            (revocation, checks, notes, checked) = ("Revocation", "Checks", "Notes", "Checked")
            (evidence, check, result) = ("What this report states, and what evidence needs", "Check", "Result")
        case .hindi:
            (title, verdict, signature, content, insideSignature, bytes) = (
                "अंकीय हस्ताक्षर सत्यापन रिपोर्ट", "निर्णय", "हस्ताक्षर फ़ाइल",
                "हस्ताक्षरित सामग्री", "हस्ताक्षर के भीतर", "बाइट"
            )
            (signer, kind, certificate, validity, publicKey) = ("हस्ताक्षरकर्ता", "किस रूप में", "प्रमाणपत्र क्रमांक", "वैधता", "कुंजी")
            (signedAt, timeStamp, eOffice, commitment, chain, trustAnchor) = (
                "हस्ताक्षर का समय", "समय-मुहर", "ई-ऑफिस संदर्भ", "प्रतिबद्धता",
                "प्रमाणन पथ", "विश्वसनीय मूल प्रमाणपत्र (trust anchor)"
            )
            (revocation, checks, notes, checked) = ("प्रतिसंहरण स्थिति", "जाँचें", "अतिरिक्त सूचनाएँ (अंग्रेज़ी में)", "जाँच")
            (evidence, check, result) = ("यह रिपोर्ट क्या बताती है, और साक्ष्य के लिए क्या आवश्यक है", "जाँच", "परिणाम")
        }
    }
}

extension HumanReport {
    /// The report a person reads, in `language` (English is `text(_:signatureFile:contentFile:)` unchanged).
    public static func text(_ verdict: Verdict, signatureFile: String?, contentFile: String?, language: ReportLanguage) -> String {
        guard language == .hindi else { return text(verdict, signatureFile: signatureFile, contentFile: contentFile) }
        let words = ReportWords(language: language), label = VerificationLabels(language)
        var lines = [String]()
        func row(_ name: String, _ value: String) { lines.append("\(name): \(value)") }
        func more(_ value: String) { lines.append("    " + value) }

        row(label.verdict, "\(words.verdict(verdict.indication))  (\(ReportWords.etsi(verdict.indication.rawValue, verdict.subIndication?.rawValue)))")
        more(words.summary(verdict))
        lines.append("")
        if let signatureFile { row(label.signature, signatureFile) }
        if let content = verdict.content {
            row(label.content, (contentFile ?? label.insideSignature) + (content.size.map { ", \($0) \(label.bytes)" } ?? ""))
            more("\(content.algorithm) \(content.hex)")
        }
        if let signer = verdict.signer {
            row(label.signer, signer.name)
            more(signer.subject)
            more("\(label.kind): \(words.kind(signer.kind))")
            more("\(label.certificate) \(signer.serialNumber), SHA-256 \(signer.sha256Fingerprint)")
            more("\(label.publicKey): \(signer.publicKey); keyUsage \(signer.keyUsage.isEmpty ? "(any)" : signer.keyUsage.joined(separator: ", "))")
            more("\(label.validity): \(IndianDate.day(signer.notBefore)) से \(IndianDate.day(signer.notAfter)) तक")
        }
        if let time = verdict.signingTime {
            row(label.signedAt, language.time(time.time))
            more(words.timeExplanation(time, authority: verdict.timeStamp?.authority))
        }
        if let stamp = verdict.timeStamp { row(label.timeStamp, timeStampText(stamp, words)) }
        if let context = verdict.context { row(label.eOffice, contextText(context, language)) }
        if let commitment = verdict.commitment { row(label.commitment, words.commitment(commitment)) }
        for (index, certificate) in verdict.chain.enumerated() {
            let text = "\(index + 1). \(certificate.subject)" + (certificate.trustAnchor ? "  [\(label.trustAnchor)]" : "")
            index == 0 ? row(label.chain, text) : more(text)
        }
        for (index, finding) in verdict.revocation.enumerated() {
            let text = revocationText(finding, words)
            index == 0 ? row(label.revocation, text) : more(text)
        }
        for (index, check) in verdict.checks.enumerated() {
            index == 0 ? row(label.checks, words.check(check)) : more(words.check(check))
        }
        for (index, warning) in verdict.warnings.enumerated() {
            index == 0 ? row(label.notes, warning) : more(warning)
        }
        row(label.checked, words.checkedBy(verdict.validationTime, verdict.verifier))
        return lines.joined(separator: "\n")
    }

    static func timeStampText(_ stamp: Verdict.TimeStampSummary, _ words: ReportWords) -> String {
        switch words.language {
        case .english: "\(stamp.valid ? "valid" : "NOT VALID"): \(stamp.detail)"
        case .hindi: "\(stamp.valid ? "मान्य" : "मान्य नहीं"): \(stamp.authority), क्रमांक \(stamp.serialNumber), \(words.language.time(stamp.time))"
        }
    }

    static func contextText(_ context: EOfficeContext, _ language: ReportLanguage) -> String {
        switch language {
        case .english:
            var text = "file \(context.fileNumber), note \(context.noteID)"
            if let previous = context.previousEntryHash { text += ", follows history entry \(Hex.encode(previous))" }
            if let origin = context.origin { text += ", requested from \(origin)" }
            return text
        case .hindi:
            var text = "फ़ाइल \(context.fileNumber), टिप्पणी संख्या \(context.noteID)"
            if let previous = context.previousEntryHash { text += "; इतिहास की प्रविष्टि \(Hex.encode(previous)) के बाद" }
            if let origin = context.origin { text += "; \(origin) के अनुरोध पर" }
            return text
        }
    }

    static func revocationText(_ finding: Verdict.RevocationFinding, _ words: ReportWords) -> String {
        switch words.language {
        case .english:
            return "\(finding.certificate): \(finding.status.rawValue)\(finding.source.map { " from \($0)" } ?? ""); \(finding.detail)"
        case .hindi:
            var text = "\(finding.certificate): \(words.revocationStatus(finding.status.rawValue))"
            if let source = finding.source { text += ", स्रोत: \(words.revocationSource(source))" }
            if let revokedAt = finding.revokedAt { text += ", प्रतिसंहरण की तिथि: \(words.language.time(revokedAt))" }
            return text
        }
    }
}

extension VerificationReport {
    /// A printable HTML report of one verification, in `language`: self-contained (no scripts, a strict
    /// Content-Security-Policy), every value escaped. The ETSI indication stands beside the verdict in every language.
    public func html(in language: ReportLanguage) -> String {
        let words = ReportWords(language: language), label = VerificationLabels(language)
        let e = HTMLText.escape
        var rows = ""
        func row(_ name: String, _ value: String, id: String) {
            rows += "<tr id=\"\(id)\"><th>\(e(name))</th><td>\(value)</td></tr>\n"
        }
        if let signatureFile { row(label.signature, e(signatureFile), id: "signature") }
        if let content = verdict.content {
            row(
                label.content,
                e((contentFile ?? label.insideSignature) + (content.size.map { ", \($0) \(label.bytes)" } ?? ""))
                    + "<br><small>\(e(content.algorithm)) <span class=\"hex\">\(e(content.hex))</span></small>", id: "content")
        }
        if let signer = verdict.signer {
            let validity =
                language == .hindi
                ? "\(label.validity): \(IndianDate.day(signer.notBefore)) से \(IndianDate.day(signer.notAfter)) तक"
                : "\(label.validity) \(UTCTimeText.format(signer.notBefore)) to \(UTCTimeText.format(signer.notAfter))"
            row(
                label.signer,
                "<b>\(e(signer.name))</b><br><span id=\"signer-kind\">\(e(words.kind(signer.kind)))</span><br><small>\(HTMLText.name(signer.subject))<br>"
                    + "\(e(label.certificate)) \(e(signer.serialNumber)), SHA-256 <span class=\"hex\">\(e(signer.sha256Fingerprint))</span><br>"
                    + "\(e(signer.publicKey)); keyUsage \(e(signer.keyUsage.isEmpty ? "(any)" : signer.keyUsage.joined(separator: ", ")))<br>\(e(validity))</small>",
                id: "signer")
        }
        if let time = verdict.signingTime {
            row(
                label.signedAt, "\(e(language.time(time.time)))<br><small>\(e(words.timeExplanation(time, authority: verdict.timeStamp?.authority)))</small>",
                id: "signing-time")
        }
        if let stamp = verdict.timeStamp { row(label.timeStamp, e(HumanReport.timeStampText(stamp, words)), id: "time-stamp") }
        if let context = verdict.context { row(label.eOffice, e(HumanReport.contextText(context, language)), id: "context") }
        if let commitment = verdict.commitment { row(label.commitment, e(words.commitment(commitment)), id: "commitment") }
        if !verdict.chain.isEmpty {
            let items = verdict.chain.map { "<li>\(HTMLText.name($0.subject))\($0.trustAnchor ? " <b>[\(e(label.trustAnchor))]</b>" : "")</li>" }.joined()
            row(label.chain, "<ol>\(items)</ol>", id: "chain")
        }
        if !verdict.revocation.isEmpty {
            row(
                label.revocation, "<ul>" + verdict.revocation.map { "<li>\(e(HumanReport.revocationText($0, words)))</li>" }.joined() + "</ul>",
                id: "revocation")
        }
        if !verdict.warnings.isEmpty {
            row(label.notes, "<ul>" + verdict.warnings.map { "<li lang=\"en\">\(e($0))</li>" }.joined() + "</ul>", id: "notes")
        }
        var checks = ""
        for check in verdict.checks {
            let name = language == .english ? check.name : String(words.check(check).prefix { $0 != ":" })
            let detail = language == .english ? check.detail : ReportWords.hindiCheckDetail(check)
            checks +=
                "<tr class=\"\(check.passed ? "ok" : "bad")\"><td>\(e(name))</td><td><b>\(e(words.passFail(check.passed)))</b>"
                + (detail.map { "<br><small>\(e($0))</small>" } ?? "") + "</td></tr>\n"
        }
        let passed = verdict.indication == .totalPassed
        let colour = passed ? "#2a7" : verdict.indication == .totalFailed ? "#c33" : "#c80"
        var statements = "<p id=\"evidence\">\(e(words.evidence))</p>\n"
        if verdict.revocation.contains(where: { $0.status == .revoked }) && verdict.indication == .totalPassed {
            statements += "<p id=\"revoked-after-signing\">\(e(words.revokedAfterSigning))</p>\n"
        }
        let etsi = ReportWords.etsi(verdict.indication.rawValue, verdict.subIndication?.rawValue)
        return """
            <!DOCTYPE html>
            <html lang="\(language.htmlTag)"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>\(e(label.title))</title>
            <style>
            \(HTMLText.style(language))
            table { border-collapse: collapse; width: 100%; font-size: 0.95em; margin-bottom: 1em; }
            th, td { border: 1px solid #999; padding: 0.3em 0.5em; vertical-align: top; text-align: left; overflow-wrap: break-word; hyphens: none; }
            #facts, #checks { table-layout: fixed; }
            #facts th { width: 12em; background: #f3f3f3; } #checks th:first-child { width: 40%; }
            tr.bad td { background: #fde2e2; } tr.ok td { background: #eef8ee; }
            ol, ul { margin: 0; padding-left: 1.4em; }
            .verdict { font-size: 1.2em; padding: 0.5em; border: 2px solid \(colour); }
            @media print { body { margin: 0.5cm; } tr { page-break-inside: avoid; } }
            </style></head><body>
            <h1>\(e(label.title))</h1>
            <p class="verdict" id="verdict"><b>\(e(words.verdict(verdict.indication)))</b> <span class="etsi" id="etsi">(\(e(etsi)))</span><br>\(HTMLText.sentence(words.summary(verdict)))</p>
            <table id="facts">
            \(rows)</table>
            <h2>\(e(label.checks))</h2>
            <table id="checks"><tr><th>\(e(label.check))</th><th>\(e(label.result))</th></tr>
            \(checks)</table>
            <h2>\(e(label.evidence))</h2>
            \(statements)<p><small>\(e(words.checkedBy(verdict.validationTime, verdict.verifier))).</small></p>
            </body></html>

            """
    }
}
