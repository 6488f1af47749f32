import Foundation

/// The words of the reports people read, in each `ReportLanguage`. English is the reports' original wording; Hindi
/// is written for officers, nodal officers and courts in the formal register of Government of India documents, with
/// each ETSI EN 319 102-1 indication, finding code and standard's name kept in English beside it, so that a Hindi and
/// an English report of the same signature can be laid side by side.
///
/// Only what a verifier decides is translated from structured values (the indication, the sub-indication, the signer's
/// kind, a check's name and result, a finding's code); names, file numbers, hashes, URLs and the verifier's own
/// technical details stay as they are.
struct ReportWords: Sendable {
    let language: ReportLanguage

    // MARK: Verdicts

    /// The verdict in words: "VALID" / "हस्ताक्षर मान्य है".
    func verdict(_ indication: Indication) -> String {
        switch (language, indication) {
        case (.english, .totalPassed): "VALID"
        case (.english, .totalFailed): "NOT VALID"
        case (.english, .indeterminate): "CANNOT BE CONFIRMED"
        case (.hindi, .totalPassed): "हस्ताक्षर मान्य है"
        case (.hindi, .totalFailed): "हस्ताक्षर मान्य नहीं है"
        case (.hindi, .indeterminate): "हस्ताक्षर की पुष्टि नहीं की जा सकती"
        }
    }

    /// "TOTAL-FAILED / HASH_FAILURE", the ETSI words as they are in every language.
    static func etsi(_ indication: String, _ subIndication: String?) -> String {
        indication + (subIndication.map { " / \($0)" } ?? "")
    }

    /// Why a signature is not valid or cannot be confirmed, in Hindi, from its ETSI sub-indication (the English
    /// reports give the verifier's own sentence).
    static func hindiReason(_ subIndication: SubIndication) -> String {
        switch subIndication {
        case .formatFailure:
            "हस्ताक्षर की संरचना मानक (CMS/CAdES) के अनुरूप नहीं है"
        case .hashFailure:
            "दी गई सामग्री वह नहीं है जिस पर हस्ताक्षर किए गए थे: उसका हैश हस्ताक्षरित हैश से मेल नहीं खाता, अर्थात हस्ताक्षर के बाद सामग्री में परिवर्तन हुआ है"
        case .sigCryptoFailure:
            "हस्ताक्षर का मान हस्ताक्षरकर्ता की सार्वजनिक कुंजी से सत्यापित नहीं होता (हस्ताक्षर या उसके हस्ताक्षरित गुणों में परिवर्तन, अथवा किसी अन्य कुंजी से किया गया हस्ताक्षर)"
        case .revoked:
            "हस्ताक्षरकर्ता का प्रमाणपत्र हस्ताक्षर किए जाने से पहले ही प्रतिसंहृत (निरस्त) कर दिया गया था"
        case .expired:
            "हस्ताक्षर के समय हस्ताक्षरकर्ता के प्रमाणपत्र या प्रमाणन पथ के किसी प्रमाणपत्र की वैधता समाप्त हो चुकी थी"
        case .notYetValid:
            "हस्ताक्षर के समय प्रमाणपत्र अभी वैध नहीं हुआ था"
        case .noSigningCertificateFound:
            "हस्ताक्षरकर्ता का प्रमाणपत्र न तो हस्ताक्षर में है और न ही दिए गए मध्यवर्ती प्रमाणपत्रों में"
        case .noCertificateChainFound:
            "हस्ताक्षरकर्ता के प्रमाणपत्र से किसी विश्वसनीय मूल प्रमाणपत्र तक प्रमाणन पथ नहीं बन सका"
        case .chainConstraintsFailure:
            "प्रमाणन पथ की शर्तें (प्रमाणपत्र नीति, नाम या पथ-लंबाई की सीमाएँ) पूरी नहीं होतीं"
        case .certificateChainGeneralFailure:
            "प्रमाणन पथ की जाँच सफल नहीं हुई"
        case .cryptoConstraintsFailureNoPOE:
            "प्रयुक्त एल्गोरिद्म या कुंजी का आकार अब स्वीकार्य नहीं है (जैसे SHA-1), और यह सिद्ध करने का कोई प्रमाण नहीं है कि हस्ताक्षर उससे पहले किया गया था"
        case .revokedNoPOE:
            "हस्ताक्षरकर्ता का प्रमाणपत्र प्रतिसंहृत (निरस्त) है और यह सिद्ध करने का कोई प्रमाण नहीं है कि हस्ताक्षर प्रतिसंहरण से पहले किया गया था"
        case .revokedCANoPOE:
            "प्रमाणन पथ में किसी प्रमाणन प्राधिकारी (CA) का प्रमाणपत्र हस्ताक्षर के समय से पहले प्रतिसंहृत (निरस्त) कर दिया गया था"
        case .outOfBoundsNoPOE:
            "प्रमाणपत्र की वैधता समाप्त हो चुकी है और यह सिद्ध करने का कोई प्रमाण नहीं है कि हस्ताक्षर उससे पहले किया गया था"
        case .tryLater:
            "प्रमाणपत्र की प्रतिसंहरण स्थिति अभी सुनिश्चित नहीं की जा सकी (OCSP या CRL उपलब्ध नहीं); बाद में पुनः जाँच करें"
        case .sigConstraintsFailure:
            "हस्ताक्षर की समय-मुहर (टाइम-स्टैम्प) या अन्य हस्ताक्षर-शर्तें पूरी नहीं होतीं"
        case .signedDataNotFound:
            "हस्ताक्षर पृथक (detached) है और उसकी जाँच के लिए मूल सामग्री नहीं दी गई"
        }
    }

    /// The one sentence under the verdict: the verifier's own in English; in Hindi, made from the verdict's values.
    func summary(_ verdict: Verdict) -> String {
        guard language == .hindi else { return verdict.summary }
        switch verdict.indication {
        case .totalPassed:
            let name = verdict.signer?.name ?? "अज्ञात हस्ताक्षरकर्ता"
            let kind = shortKind(verdict.signer?.kind ?? .unknown)
            let when = verdict.signingTime.map { " \(language.time($0.time)) पर" } ?? ""
            let proof = verdict.signingTime.map { " (समय \(timeSource($0.source)))" } ?? ""
            return "\(name) द्वारा, \(kind) के रूप में,\(when) हस्ताक्षरित\(proof); सामग्री ठीक वही है जिस पर हस्ताक्षर किए गए थे।"
        case .totalFailed, .indeterminate:
            let reason = verdict.subIndication.map(Self.hindiReason) ?? "कारण ज्ञात नहीं"
            return "कारण: \(reason)।"
        }
    }

    /// What stands under an entry's verdict in a history report: the verifier's sentence in English; in Hindi, why
    /// (from the sub-indication the JSON carries), or for a valid signature that the content is what was signed.
    func entryVerdict(indication: String, subIndication: String?, english: String) -> String {
        guard language == .hindi else { return english }
        guard let main = Indication(rawValue: indication) else { return english }
        if main == .totalPassed { return "सामग्री ठीक वही है जिस पर हस्ताक्षर किए गए थे" }
        return subIndication.flatMap(SubIndication.init(rawValue:)).map(Self.hindiReason) ?? "हस्ताक्षर पढ़ा नहीं जा सका"
    }

    // MARK: Signers and times

    /// The signer's kind in full ("Class 3 DSC (a person's certificate on a crypto token)").
    func kind(_ kind: SignerKind) -> String {
        switch language {
        case .english: kind.words
        case .hindi:
            switch kind {
            case .class3TokenDSC: "क्लास 3 डीएससी (क्रिप्टो टोकन पर किसी व्यक्ति का अंकीय हस्ताक्षर प्रमाणपत्र)"
            case .class2LegacyDSC: "क्लास 2 डीएससी (पुराना वर्ग, 2020 से जारी नहीं किया जाता)"
            case .eSign: "ई-साइन (ई-साइन सेवा प्रदाता के माध्यम से आधार ई-केवाईसी पर आधारित ऑनलाइन हस्ताक्षर)"
            case .documentSigner: "दस्तावेज़ हस्ताक्षरकर्ता (किसी संगठन का स्वचालित हस्ताक्षर, किसी व्यक्ति का नहीं)"
            case .unknown: "अज्ञात प्रमाणपत्र नीति (भारत के प्रमाणन प्राधिकारी नियंत्रक (CCA) का कोई हस्ताक्षर वर्ग नहीं)"
            }
        }
    }

    /// The kind without its explanation ("Class 3 DSC", "क्लास 3 डीएससी").
    func shortKind(_ kind: SignerKind) -> String {
        let full = self.kind(kind)
        var short = full.prefix { $0 != "(" }
        while short.last == " " { short = short.dropLast() }
        return String(short)
    }

    /// The kind of a history entry's signer from the words the JSON report carries.
    func kind(described description: String?) -> String? {
        guard let description else { return nil }
        guard language == .hindi, let kind = SignerKind(words: description) else { return description }
        return self.kind(kind)
    }

    func timeSource(_ source: Verdict.SigningTimeEvidence.Source) -> String {
        switch (language, source) {
        case (.english, .timeStamp): "proven by time-stamp"
        case (.english, .claimed): "claimed"
        case (.english, .validationTime): "not stated"
        case (.hindi, .timeStamp): "समय-मुहर द्वारा प्रमाणित"
        case (.hindi, .claimed): "हस्ताक्षरकर्ता द्वारा घोषित, किसी समय-मुहर से प्रमाणित नहीं"
        case (.hindi, .validationTime): "हस्ताक्षर में समय नहीं दिया गया"
        }
    }

    /// How the signing time is known, in full.
    func timeExplanation(_ evidence: Verdict.SigningTimeEvidence, authority: String?) -> String {
        guard language == .hindi else { return evidence.explanation }
        switch evidence.source {
        case .timeStamp: return "RFC 3161 समय-मुहर (टाइम-स्टैम्प) द्वारा प्रमाणित; समय-मुहर प्राधिकारी: \(authority ?? "अज्ञात")"
        case .claimed: return "हस्ताक्षरकर्ता द्वारा घोषित समय (signingTime); किसी समय-मुहर से प्रमाणित नहीं"
        case .validationTime: return "हस्ताक्षर में समय नहीं दिया गया; सत्यापन का समय लिया गया"
        }
    }

    func commitment(_ text: String) -> String {
        guard language == .hindi else { return text }
        switch Commitment(rawValue: text) {
        case .proofOfOrigin: return "उद्भव का प्रमाण: हस्ताक्षरकर्ता ने यह टिप्पणी लिखी है (proof-of-origin)"
        case .proofOfApproval: return "अनुमोदन का प्रमाण: हस्ताक्षरकर्ता प्रस्ताव का अनुमोदन करता है (proof-of-approval)"
        case nil: return text
        }
    }

    // MARK: Checks and revocation

    func check(_ check: Verdict.Check) -> String {
        guard language == .hindi else { return "\(check.name): \(check.detail)" }
        let name: String
        switch check.name {
        case "message digest": name = "सामग्री का हैश (message digest)"
        case "signature value": name = "हस्ताक्षर का मान (signature value)"
        case "certification path": name = "प्रमाणन पथ (certification path)"
        case "signing certificate": name = "हस्ताक्षरकर्ता का प्रमाणपत्र (signing certificate)"
        case "algorithm protection": name = "एल्गोरिद्म संरक्षण (algorithm protection)"
        case "time-stamp": name = "समय-मुहर (time-stamp)"
        case "validity at signing time": name = "हस्ताक्षर के समय वैधता (validity at signing time)"
        case "key usage": name = "कुंजी का उपयोग (key usage)"
        case "revocation": name = "प्रतिसंहरण स्थिति (revocation)"
        default: name = check.name
        }
        return "\(name): " + (check.passed ? "सफल" : "विफल")
    }

    /// What a check established, in Hindi (the English reports give the verifier's own detail).
    static func hindiCheckDetail(_ check: Verdict.Check) -> String? {
        switch (check.name, check.passed) {
        case ("message digest", true): "सामग्री का हैश हस्ताक्षरित messageDigest के बराबर है"
        case ("message digest", false): "सामग्री का हैश हस्ताक्षरित messageDigest से भिन्न है"
        case ("signature value", true): "हस्ताक्षर, हस्ताक्षरकर्ता के प्रमाणपत्र की सार्वजनिक कुंजी से सत्यापित होता है"
        case ("signature value", false): "हस्ताक्षर, हस्ताक्षरकर्ता की सार्वजनिक कुंजी से सत्यापित नहीं होता"
        case ("certification path", true): "प्रमाणन पथ एक विश्वसनीय मूल प्रमाणपत्र तक पहुँचता है"
        case ("certification path", false): "प्रमाणन पथ किसी विश्वसनीय मूल प्रमाणपत्र तक नहीं पहुँचता"
        case ("signing certificate", true): "हस्ताक्षरित signingCertificate गुण हस्ताक्षरकर्ता के इसी प्रमाणपत्र को इंगित करता है"
        case ("signing certificate", false): "हस्ताक्षरित signingCertificate गुण किसी अन्य प्रमाणपत्र को इंगित करता है"
        case ("algorithm protection", true): "हस्ताक्षरित CMSAlgorithmProtection गुण प्रयुक्त एल्गोरिद्म को ही दर्शाता है"
        case ("algorithm protection", false): "हस्ताक्षरित CMSAlgorithmProtection गुण प्रयुक्त एल्गोरिद्म से मेल नहीं खाता (एल्गोरिद्म का प्रतिस्थापन)"
        case ("time-stamp", true): "समय-मुहर इसी हस्ताक्षर की है और समय-मुहर प्राधिकारी (TSA) द्वारा वैध रूप से हस्ताक्षरित है"
        case ("time-stamp", false): "समय-मुहर मान्य नहीं है"
        case ("validity at signing time", true): "प्रमाणन पथ का प्रत्येक प्रमाणपत्र हस्ताक्षर के समय वैध था"
        case ("validity at signing time", false): "प्रमाणन पथ का कोई प्रमाणपत्र हस्ताक्षर के समय वैध नहीं था"
        case ("key usage", true): "प्रमाणपत्र हस्ताक्षर के लिए है (digitalSignature या nonRepudiation)"
        case ("key usage", false): "प्रमाणपत्र हस्ताक्षर के लिए नहीं है"
        case ("revocation", true): "हस्ताक्षर के समय पथ का कोई प्रमाणपत्र प्रतिसंहृत नहीं था"
        case ("revocation", false): "प्रतिसंहरण स्थिति के निष्कर्ष देखें"
        default: nil
        }
    }

    func passFail(_ passed: Bool) -> String {
        switch language {
        case .english: passed ? "pass" : "FAIL"
        case .hindi: passed ? "सफल" : "विफल"
        }
    }

    func revocationStatus(_ status: String) -> String {
        guard language == .hindi else { return status }
        switch status {
        case "good": return "प्रतिसंहृत नहीं (good)"
        case "revoked": return "प्रतिसंहृत (revoked)"
        case "unknown": return "अज्ञात (unknown)"
        default: return status
        }
    }

    func revocationSource(_ source: String) -> String {
        guard language == .hindi else { return source }
        return source.replacingOccurrences(of: "carried with the signature or bundle", with: "हस्ताक्षर या बंडल के साथ संलग्न")
            .replacingOccurrences(of: "(cached)", with: "(संचित प्रति)")
    }

    /// "good (OCSP http://...)" as a history entry carries it.
    func revocation(_ text: String?) -> String? {
        guard let text, language == .hindi else { return text }
        let status = text.prefix { $0 != " " }
        let rest = text.dropFirst(status.count).trimmingCharacters(in: .whitespaces)
        let source = rest.hasPrefix("(") && rest.hasSuffix(")") ? String(rest.dropFirst().dropLast()) : rest
        return revocationStatus(String(status)) + (source.isEmpty ? "" : ", स्रोत: \(revocationSource(source))")
    }

    // MARK: History entries and findings

    func entryKind(_ kind: String) -> String {
        guard language == .hindi else { return kind }
        switch kind {
        case "note": return "टिप्पणी (note)"
        case "approval": return "अनुमोदन (approval)"
        case "scan-approval": return "स्कैन किया गया अनुमोदन (scan-approval)"
        default: return kind
        }
    }

    /// A scan approval named for what it is: a hand signature attested by the PPS/PS, never the Minister's digital
    /// signature.
    func scanApproval(_ facts: HistoryReport.ScanApprovalFacts?, english: String?) -> String? {
        guard language == .hindi, let facts else { return english }
        return "\(facts.minister) द्वारा मुद्रित उद्धरण पर हाथ से अनुमोदित; स्कैन \(facts.attestedBy) द्वारा डीएससी \(facts.certificateSerial) से "
            + "अपलोड और अनुप्रमाणित किया गया (यह \(facts.minister) का अंकीय हस्ताक्षर नहीं है)"
    }

    func scanQR(_ facts: HistoryReport.ScanApprovalFacts?, english: String?) -> String? {
        guard language == .hindi, let facts else { return english }
        switch facts.qr {
        case .matched: return "स्कैन पर अंकित QR कोड अनुमोदन अनुरोध \(facts.request) से मेल खाता है"
        case .notRead:
            return "स्कैन पर कोई QR कोड पढ़ा नहीं जा सका; इसकी अनुमति देने वाली नीति के अंतर्गत स्वीकार किया गया (अनुरोध \(facts.request))"
        }
    }

    func finding(_ finding: HistoryReport.Finding) -> String {
        guard language == .hindi else { return finding.message }
        let entry = finding.entry.map { "प्रविष्टि \($0)" } ?? "एक प्रविष्टि"
        switch finding.code {
        case .missingEntry: return "\(entry) अनुपस्थित है: उसे इतिहास के बीच से हटाया गया है"
        case .outOfOrder: return "\(entry) क्रम से बाहर है: प्रविष्टियाँ जोड़ी गईं या आपस में बदली गईं"
        case .brokenChain: return "\(entry) अपने से पहले की प्रविष्टि से नहीं जुड़ती (हैश शृंखला टूटी है): कोई प्रविष्टि जोड़ी, हटाई या खिसकाई गई है"
        case .alteredEntry: return "\(entry) के अभिलिखित विवरण उसके हैश से मेल नहीं खाते: प्रविष्टि में परिवर्तन किया गया है"
        case .contentChanged: return "\(entry) की सामग्री (उद्धरण या स्कैन) अभिलिखित सामग्री से भिन्न है: उसमें परिवर्तन किया गया है"
        case .signatureReplaced: return "\(entry) का हस्ताक्षर अभिलिखित हस्ताक्षर नहीं है: उसे बदला गया है"
        case .signatureNotValid: return "\(entry) का हस्ताक्षर मान्य नहीं है"
        case .contextMismatch: return "\(entry) का हस्ताक्षर किसी अन्य फ़ाइल, टिप्पणी या इतिहास की किसी अन्य स्थिति के लिए किया गया था"
        case .checkpointForged: return "एक जाँच-बिंदु (checkpoint) सेवा द्वारा हस्ताक्षरित नहीं है"
        case .checkpointMismatch: return "जाँच-बिंदु \(finding.entry.map(String.init) ?? "") किसी भिन्न प्रविष्टि को दर्शाता है: उसके बाद इतिहास फिर से लिखा गया"
        case .cutShort: return "इतिहास को छोटा कर दिया गया है: सेवा ने इससे अधिक प्रविष्टियाँ अभिलिखित की थीं"
        case .unsealed: return "बंडल पर सेवा की मुहर नहीं है: यह सिद्ध करने के लिए कुछ नहीं है कि यह वही इतिहास है जिसे सेवा ने निर्यात किया था"
        case .sealNotValid: return "बंडल की मुहर इस मैनिफ़ेस्ट पर लागू नहीं होती: निर्यात के बाद बंडल में परिवर्तन किया गया है"
        case .missingMember: return "बंडल से कोई अंश (उद्धरण, हस्ताक्षर, स्कैन या जाँच-बिंदु का हस्ताक्षर) अनुपस्थित है"
        case .notInLog: return "\(entry) विभाग के लॉग (department log) में सिद्ध नहीं होती: उसका समावेश-प्रमाण हस्ताक्षरित ट्री-हेड तक नहीं पहुँचता"
        case .logHeadNotValid: return "बंडल का लॉग ट्री-हेड सेवा द्वारा मान्य रूप से हस्ताक्षरित नहीं है"
        case .logInconsistent: return "बंडल का लॉग ट्री-हेड पहले सत्यापित ट्री-हेड से मेल नहीं खाता: लॉग फिर से लिखा गया या उसकी शाखा बनी (fork)"
        case .rewritten: return "\(entry) पहले सत्यापित प्रविष्टि से भिन्न है: इतिहास फिर से लिखा गया है"
        case .witnessMissing: return "बंडल का लॉग ट्री-हेड किसी अपेक्षित साक्षी (witness) द्वारा सह-हस्ताक्षरित नहीं है"
        }
    }

    /// What held besides the signatures and the seal, in Hindi (as `HistoryBundle.verify`'s summary says it).
    private func held(_ report: HistoryReport) -> [String] {
        var held = ["हैश शृंखला"]
        if !report.checkpoints.isEmpty || report.log == nil { held.append("\(report.checkpoints.count) जाँच-बिंदु") }
        if let log = report.log { held.append("विभाग लॉग के \(log.treeSize) पत्तियों वाले हस्ताक्षरित ट्री-हेड में प्रत्येक प्रविष्टि का समावेश") }
        return held
    }

    /// The history's verdict in one sentence.
    func historySummary(_ report: HistoryReport) -> String {
        guard language == .hindi else { return report.summary }
        if report.passed {
            let entries = report.entries.count == 1 ? "1 प्रविष्टि" : "\(report.entries.count) प्रविष्टियाँ"
            return "मान्य इतिहास: फ़ाइल \(report.file?.number ?? "") की \(entries); "
                + (report.entries.count == 1 ? "उसका हस्ताक्षर" : "प्रत्येक हस्ताक्षर") + " TOTAL-PASSED है, तथा "
                + held(report).joined(separator: ", ") + " और सेवा की मुहर सही हैं।"
        }
        let count = report.findings.count
        return "इतिहास मान्य नहीं है: " + (count == 1 ? "1 समस्या पाई गई।" : "\(count) समस्याएँ पाई गईं।")
    }

    /// The seal in words.
    func seal(_ report: HistoryReport) -> String {
        guard language == .hindi else { return report.seal }
        if let by = report.sealedBy, let at = report.sealedAt {
            let entries = report.entries.count == 1 ? "1 प्रविष्टि" : "\(report.entries.count) प्रविष्टियों"
            return "मान्य: \(by) द्वारा \(language.time(at)) पर \(entries) पर मुहर लगाई गई"
        }
        if report.findings.contains(where: { $0.code == .unsealed }) { return "अनुपस्थित" }
        return "मान्य नहीं"
    }

    func checkedBy(_ time: Date, _ verifier: String) -> String {
        switch language {
        case .english: "Checked \(UTCTimeText.format(time)) by \(verifier)"
        case .hindi: "\(language.time(time)) पर \(verifier) द्वारा जाँचा गया"
        }
    }

    // MARK: The evidence statement

    /// What a verification report states and why: the items the IT Act 2000 and the Bharatiya Sakshya Adhiniyam 2023
    /// ask a verification to establish.
    var evidence: String {
        switch language {
        case .english:
            """
            For each signature this report states the hash and algorithm of the signed content, the signer's certificate
            and its issuer, the cryptographic result, the validity and revocation status at the signing time and what proves
            that time, and the system and version that checked it. These are what the IT Act 2000 (s.3, s.3A, s.73) and the
            Bharatiya Sakshya Adhiniyam 2023 (s.63 certificate for electronic records, s.86 presumption for secure electronic
            records) ask a verification to establish.
            """
        case .hindi:
            """
            यह रिपोर्ट प्रत्येक हस्ताक्षर के लिए हस्ताक्षरित सामग्री का हैश और उसका एल्गोरिद्म, हस्ताक्षरकर्ता का प्रमाणपत्र और
            उसका जारीकर्ता, क्रिप्टोग्राफ़िक परिणाम, हस्ताक्षर के समय प्रमाणपत्र की वैधता और प्रतिसंहरण स्थिति, उस समय का प्रमाण,
            तथा जाँच करने वाली प्रणाली और उसका संस्करण बताती है। सूचना प्रौद्योगिकी अधिनियम, 2000 (धारा 3, 3क और 73) तथा
            भारतीय साक्ष्य अधिनियम, 2023 (इलेक्ट्रॉनिक अभिलेखों के लिए धारा 63 के अंतर्गत प्रमाणपत्र, सुरक्षित इलेक्ट्रॉनिक
            अभिलेखों के लिए धारा 86 के अंतर्गत उपधारणा) किसी सत्यापन से इन्हीं बातों को स्थापित करने की अपेक्षा करते हैं।
            """
        }
    }

    /// Said only where a certificate on a path was revoked after its signature was made.
    var revokedAfterSigning: String {
        switch language {
        case .english: "A certificate revoked after a signature was made does not undo it (s.73)."
        case .hindi: "हस्ताक्षर किए जाने के बाद प्रतिसंहृत (निरस्त) किया गया प्रमाणपत्र उस हस्ताक्षर को अमान्य नहीं करता (धारा 73)।"
        }
    }

    /// Said only where the history holds a scan approval.
    var scanApprovalStatement: String {
        switch language {
        case .english:
            "A scan approval is a hand signature on paper, uploaded and attested by the PPS; it is not the Minister's digital signature."
        case .hindi:
            "स्कैन किया गया अनुमोदन कागज़ पर किया गया हस्तलिखित हस्ताक्षर है, जिसे प्रधान निजी सचिव (PPS) ने अपलोड किया है और अपने डीएससी से "
                + "अनुप्रमाणित किया है; यह मंत्री का अंकीय हस्ताक्षर नहीं है।"
        }
    }
}

extension SignerKind: CaseIterable {
    public static let allCases: [SignerKind] = [.class3TokenDSC, .class2LegacyDSC, .eSign, .documentSigner, .unknown]

    /// The kind whose `words` these are (a history report carries the words).
    public init?(words: String) {
        guard let kind = Self.allCases.first(where: { $0.words == words }) else { return nil }
        self = kind
    }
}
