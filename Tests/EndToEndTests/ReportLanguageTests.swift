import Foundation
import Testing
import TestSupport
@testable import SignKit

/// Reports in English and Hindi: `--lang hi` and `Accept-Language: hi` give the verification report (text and HTML)
/// and the history report in Devanagari, the ETSI indications in English beside them, dates in Indian Standard Time;
/// the JSON is the same in both. Headless Chromium renders the HTML (its DOM, and its PDF read back by poppler,
/// with the Devanagari font it drew with); the English reports keep their words and lose mid-word breaks,
/// "1 entries" and paragraphs that do not apply.
///
/// `SIGNSERVICE_KEEP_SCREENSHOTS=DIR` keeps the screenshots (docs/ holds them).
@Suite("Reports in English and Hindi", .serialized)
struct ReportLanguageTests {
    static let trust = Rig.root.appendingPathComponent("TestCerts/trust").path
    static func testCert(_ path: String) -> String { Rig.root.appendingPathComponent("TestCerts/" + path).path }

    /// A fixed signing time and validation time: 10:00 UTC is 15:30 in India.
    static let signedAt = UTCTimeText.parse("2026-06-01T10:00:00Z")!
    static let checkedAt = "2026-06-02T04:30:00Z"

    static func keep(_ png: Data, as name: String) throws {
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "\(name) is a real screenshot")
        if let folder = ProcessInfo.processInfo.environment["SIGNSERVICE_KEEP_SCREENSHOTS"] {
            try png.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
        }
    }

    /// A CAdES signature made here with the officer's key at `signedAt`, independent of the clock.
    static func signature(over content: [UInt8]) throws -> [UInt8] {
        let key = try SoftwareKey(pemFile: testCert("keys/officer-rsa.key"))
        let certificate = try X509Certificate(der: Array(try Data(contentsOf: URL(fileURLWithPath: testCert("certs/officer-rsa.der")))))
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "N-7"), commitment: .proofOfOrigin,
            signingTime: signedAt, chain: try CertificateFolder.load(file: testCert("ca/chain-individual.pem")))
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: certificate, parameters: parameters) { try key.sign($0) }
    }

    @Test(
        "a failed verification in Hindi: the verdict, its reason, the signer's kind, the evidence statement in Devanagari, TOTAL-FAILED / HASH_FAILURE beside them, times in IST; rendered by Chromium; the JSON unchanged"
    )
    func failedVerification() throws {
        let folder = try TemporaryFolder("signservice-hindi-verify")
        let content = Array("File DIT-12/3/2026-IT, note N-7\nForty laptops are proposed for purchase.\n".utf8)
        let signature = try folder.file("note.txt.p7s", try Self.signature(over: content)).path
        let changed = try folder.file("note.txt", Array("File DIT-12/3/2026-IT, note N-7\nFifty laptops are proposed for purchase.\n".utf8)).path
        try FileManager.default.createDirectory(atPath: folder.path("cache"), withIntermediateDirectories: true)
        let common = ["verify", signature, "--content", changed, "--trust", Self.trust, "--at", Self.checkedAt, "--offline", "--cache", folder.path("cache")]

        let hindi = try Command.run(Rig.signctl, common + ["--lang", "hi", "--html", folder.path("hi.html")])
        #expect(hindi.status == 1, "TOTAL-FAILED exits 1: \(hindi.stderr)")
        for words in [
            "निर्णय: हस्ताक्षर मान्य नहीं है  (TOTAL-FAILED / HASH_FAILURE)",
            "कारण: दी गई सामग्री वह नहीं है जिस पर हस्ताक्षर किए गए थे",
            "किस रूप में: क्लास 3 डीएससी (क्रिप्टो टोकन पर किसी व्यक्ति का अंकीय हस्ताक्षर प्रमाणपत्र)",
            "हस्ताक्षर का समय: 1 जून 2026, 15:30:00 भारतीय मानक समय", "वैधता: 1 मार्च 2026 से ",
            "सामग्री का हैश (message digest): विफल", "ई-ऑफिस संदर्भ: फ़ाइल DIT-12/3/2026-IT, टिप्पणी संख्या N-7",
            "प्रतिबद्धता: उद्भव का प्रमाण", "जाँच: 2 जून 2026, 10:00:00 भारतीय मानक समय पर",
        ] {
            #expect(hindi.stdout.contains(words), "\(words) in:\n\(hindi.stdout)")
        }
        // The English report as it always was.
        let english = try Command.run(Rig.signctl, common + ["--html", folder.path("en.html")])
        #expect(english.status == 1)
        for words in [
            "Verdict     NOT VALID  (TOTAL-FAILED / HASH_FAILURE)", "Signed at   2026-06-01T10:00:00Z", "as: Class 3 DSC",
            "Checked     2026-06-02T04:30:00Z by",
        ] {
            #expect(english.stdout.contains(words), "\(words) in:\n\(english.stdout)")
        }
        #expect(!english.stdout.contains("हस्ताक्षर"))
        // The JSON does not change with the language.
        let jsonEnglish = try Command.run(Rig.signctl, common + ["--json"])
        let jsonHindi = try Command.run(Rig.signctl, common + ["--json", "--lang", "hi"])
        #expect(jsonEnglish.stdout == jsonHindi.stdout && jsonEnglish.stdout.contains("\"subIndication\" : \"HASH_FAILURE\""))
        let badLanguage = try Command.run(Rig.signctl, common + ["--lang", "fr"])
        #expect(badLanguage.status == 3 && badLanguage.stderr.contains("--lang must be en (English) or hi (Hindi)"))

        // Chromium reads the Hindi page: its DOM, and what it printed (text and the Devanagari font drawn).
        let browser = try Browser()
        let dom = try browser.dom(folder.path("hi.html"))
        #expect(dom.contains("<html lang=\"hi\">"))
        #expect(dom.contains("<p class=\"verdict\" id=\"verdict\"><b>हस्ताक्षर मान्य नहीं है</b> <span class=\"etsi\" id=\"etsi\">(TOTAL-FAILED / HASH_FAILURE)</span>"))
        #expect(dom.contains("<span id=\"signer-kind\">क्लास 3 डीएससी (क्रिप्टो टोकन पर किसी व्यक्ति का अंकीय हस्ताक्षर प्रमाणपत्र)</span>"))
        #expect(dom.contains("<tr class=\"bad\"><td>सामग्री का हैश (message digest)</td><td><b>विफल</b>"))
        #expect(dom.contains("भारतीय साक्ष्य अधिनियम, 2023") && dom.contains("सूचना प्रौद्योगिकी अधिनियम, 2000"))
        let printed = try browser.printed(folder.path("hi.html"))
        for words in ["अंकीय हस्ताक्षर सत्यापन रिपोर्ट", "हस्ताक्षर मान्य नहीं है", "TOTAL-FAILED / HASH_FAILURE", "1 जून 2026, 15:30:00 भारतीय मानक समय"] {
            #expect(Browser.flat(printed.text).contains(words), "\(words) in the printed page:\n\(printed.text)")
        }
        #expect(printed.fonts.contains { $0.contains("Devanagari") }, "a Devanagari font drew the page (fonts-lohit-deva or fonts-noto): \(printed.fonts)")
        try Self.keep(try browser.screenshot(folder.path("hi.html"), width: 1200, height: 1500), as: "verification-report-hi.png")
        // The English page.
        let englishDOM = try browser.dom(folder.path("en.html"))
        #expect(
            englishDOM.contains("<html lang=\"en\">")
                && englishDOM.contains("<b>NOT VALID</b> <span class=\"etsi\" id=\"etsi\">(TOTAL-FAILED / HASH_FAILURE)</span>"))
        #expect(englishDOM.contains("Bharatiya Sakshya Adhiniyam 2023") && !englishDOM.contains("हस्ताक्षर"))
        try Self.keep(try browser.screenshot(folder.path("en.html"), width: 1200, height: 1500), as: "verification-report.png")
    }

    @Test(
        "a file's history with a scan approval, in Hindi and English: signctl --lang hi, the daemon's report endpoint and /v1/verify with Accept-Language: hi; one entry says 1 entry; the scan paragraph only where there is a scan; no word broken"
    )
    func historyWithScanApproval() async throws {
        try await Rig.exclusive {
            let folder = try TemporaryFolder("signservice-hindi-history")
            let daemon = try DaemonTests.Daemon(role: "records", scans: ["rolesFile": try ScanUploadTests.rolesFile(in: folder)])
            defer { _ = daemon.stop() }
            let agent = try DaemonTests.Daemon()
            defer { _ = agent.stop() }
            let number = ScanUploadTests.number
            let softPIN = try Rig.secretStrings()[1]
            let created = try DaemonTests.signctl(daemon, ["history", "create", number, "--subject", "Data centre upgrade", "--department", "IT"])
            #expect(created.status == 0, "\(created.stderr)")

            // A note signed by the officer and appended.
            let head = try DaemonTests.signctl(daemon, ["history", "show", number, "--head"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(head == String(repeating: "0", count: 64), "the head of an empty file: \(head)")
            let note = try folder.file("N-1.txt", Array("File \(number), note N-1: the upgrade is proposed.\n".utf8)).path
            let signed = try DaemonTests.signctl(
                agent,
                [
                    "sign", note, "--key", DaemonTests.softKey, "--file-number", number, "--note-id", "N-1",
                    "--previous-hash", head,
                ], pin: softPIN)
            #expect(signed.status == 0, "\(signed.stderr)")
            let appended = try DaemonTests.signctl(daemon, ["history", "append", number, "--note-id", "N-1", "--extract", note, "--signature", note + ".p7s"])
            #expect(appended.status == 0, "\(appended.stderr)")

            // One entry: singular words, and no paragraph about scan approvals.
            let one = try DaemonTests.signctl(daemon, ["history", "export", number, "-o", folder.path("one.zip")])
            #expect(one.status == 0, "\(one.stderr)")
            let oneChecked = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("one.zip"), "--trust", Self.trust, "--html", folder.path("one.html")])
            #expect(oneChecked.status == 0, "\(oneChecked.stdout)")
            #expect(
                oneChecked.stdout.contains(
                    "Valid history: 1 entry of file \(number), its signature TOTAL-PASSED, the hash chain, its entry's inclusion in the department log under its signed tree head of 1 leaf and the seal hold."
                ),
                "\(oneChecked.stdout)")
            let shown = try DaemonTests.signctl(daemon, ["history", "show", number])
            #expect(shown.stdout.contains("1 entry, 1 in the department log; head"), "\(shown.stdout)")
            let oneHTML = try String(contentsOfFile: folder.path("one.html"), encoding: .utf8)
            #expect(!oneHTML.contains("id=\"scan-approval\"") && !oneHTML.contains("PPS") && oneHTML.contains("id=\"evidence\""))
            #expect(!oneHTML.contains("1 entries") && !oneHTML.contains("1 leaves") && oneHTML.contains("Department log: every entry proven"))

            // A scan approval: the Minister's hand signature on the printed extract, uploaded and attested by the PPS.
            let issued = try ScanUploadTests.issue(daemon, note: "N-2", folder: folder)
            let uploaded = try DaemonTests.signctl(
                daemon,
                [
                    "scan", "upload", number, "--request", issued.id, "--scan", issued.pdf,
                    "--key", ScanUploadTests.ppsKey,
                ], pin: softPIN)
            #expect(uploaded.status == 0, "\(uploaded.stdout)\(uploaded.stderr)")
            let exported = try DaemonTests.signctl(daemon, ["history", "export", number, "-o", folder.path("bundle.zip")])
            #expect(exported.status == 0, "\(exported.stderr)")

            let hindi = try Command.run(
                Rig.signctl,
                [
                    "history", "verify", folder.path("bundle.zip"), "--trust", Self.trust, "--lang", "hi",
                    "--html", folder.path("hi.html"),
                ])
            #expect(hindi.status == 0, "\(hindi.stdout)\(hindi.stderr)")
            let minister = ScanUploadTests.minister
            let handApproval = "\(minister) द्वारा मुद्रित उद्धरण पर हाथ से अनुमोदित; स्कैन Thoudam Ibomcha Singh द्वारा डीएससी "
            for words in [
                "मान्य इतिहास: फ़ाइल \(number) की 2 प्रविष्टियाँ; प्रत्येक हस्ताक्षर TOTAL-PASSED है",
                "प्रविष्टि 2: स्कैन किया गया अनुमोदन (scan-approval), टिप्पणी संख्या N-2", handApproval,
                "(यह \(minister) का अंकीय हस्ताक्षर नहीं है)", "स्कैन पर अंकित QR कोड अनुमोदन अनुरोध \(issued.id) से मेल खाता है",
                "हस्ताक्षरकर्ता: Anita Sharma (क्लास 3 डीएससी)", "निर्णय: हस्ताक्षर मान्य है (TOTAL-PASSED)", "भारतीय मानक समय",
            ] {
                #expect(hindi.stdout.contains(words), "\(words) in:\n\(hindi.stdout)")
            }
            let english = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("bundle.zip"), "--trust", Self.trust, "--html", folder.path("en.html")])
            #expect(
                english.status == 0
                    && english.stdout.contains(
                        "Valid history: 2 entries of file \(number), every signature TOTAL-PASSED, the hash chain, every entry's inclusion in the department log"
                    ),
                "\(english.stdout)")
            let jsonEnglish = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("bundle.zip"), "--trust", Self.trust, "--json", "--at", "2030-01-01"])
            let jsonHindi = try Command.run(
                Rig.signctl, ["history", "verify", folder.path("bundle.zip"), "--trust", Self.trust, "--json", "--at", "2030-01-01", "--lang", "hi"])
            #expect(jsonEnglish.stdout == jsonHindi.stdout && jsonEnglish.stdout.contains("\"qr\" : \"matched\""), "the JSON is the same in both languages")

            // Chromium: the Hindi page.
            let browser = try Browser()
            let dom = try browser.dom(folder.path("hi.html"))
            #expect(dom.contains("<html lang=\"hi\">"))
            #expect(dom.contains("<p class=\"verdict\" id=\"verdict\">मान्य इतिहास: फ़ाइल \(number) की 2 प्रविष्टियाँ"))
            #expect(dom.components(separatedBy: "<tr class=\"ok\">").count - 1 == 2)
            #expect(dom.contains("<b class=\"scan\">\(handApproval)"))
            #expect(dom.contains("<span class=\"etsi\">TOTAL-PASSED</span>") && dom.contains("<b>हस्ताक्षर मान्य है</b>"))
            #expect(dom.contains("<p id=\"scan-approval\">स्कैन किया गया अनुमोदन कागज़ पर किया गया हस्तलिखित हस्ताक्षर है"))
            #expect(dom.contains("भारतीय साक्ष्य अधिनियम, 2023"))
            #expect(
                dom.range(
                    of: #"\d{1,2} (जनवरी|फ़रवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|अक्तूबर|नवंबर|दिसंबर) \d{4}, \d{2}:\d{2}:\d{2} भारतीय मानक समय"#,
                    options: .regularExpression) != nil, "dates in Indian style")
            let printed = try browser.printed(folder.path("hi.html"))
            // Phrases outside the timeline: pdftotext reads a table's columns interleaved and may split a syllable there.
            for words in ["फ़ाइल का हस्ताक्षर इतिहास", "मान्य इतिहास", "अंकीय हस्ताक्षर नहीं है", "TOTAL-PASSED"] {
                #expect(Browser.flat(printed.text).contains(words), "\(words) in the printed page:\n\(printed.text)")
            }
            #expect(printed.fonts.contains { $0.contains("Devanagari") }, "\(printed.fonts)")
            try Self.keep(try browser.screenshot(folder.path("hi.html")), as: "history-report-hi.png")

            // The English page: as before, with the scan paragraph because there is a scan, and no word broken.
            let englishDOM = try browser.dom(folder.path("en.html"))
            #expect(englishDOM.contains("<p class=\"verdict\" id=\"verdict\">Valid history: 2 entries"))
            #expect(englishDOM.contains("<p id=\"scan-approval\">A scan approval is a hand signature on paper"))
            #expect(englishDOM.contains("Bharatiya Sakshya Adhiniyam") && englishDOM.contains("matched approval request \(issued.id)"))
            let englishPrinted = try browser.printed(folder.path("en.html"), layout: true)
            // Every word of the issuers' names is drawn whole: "Individual" never ends a line as "Individ".
            let words = englishPrinted.text.split(whereSeparator: { !$0.isLetter })
            #expect(words.filter { $0 == "Individual" }.count >= 2, "\(englishPrinted.text)")
            #expect(!words.contains { "Individual".hasPrefix($0) && $0.count >= 3 && $0 != "Individual" }, "a word broken: \(englishPrinted.text)")
            try Self.keep(try browser.screenshot(folder.path("en.html")), as: "history-report.png")

            // The daemon: the history report and a verification report, in the language Accept-Language asks for.
            let path = ScanUploadTests.path + "/report"
            let auth = ["Authorization: Bearer \(daemon.adminToken)"]
            let htmlHindi = try DaemonTests.request(daemon, "GET", path, headers: auth + ["Accept: text/html", "Accept-Language: hi-IN, en;q=0.5"])
            #expect(htmlHindi.status == 200 && htmlHindi.headers.lowercased().contains("content-language: hi"), "\(htmlHindi.status) \(htmlHindi.headers)")
            #expect(htmlHindi.text.contains("<html lang=\"hi\">") && htmlHindi.text.contains("मान्य इतिहास: फ़ाइल \(number) की 2 प्रविष्टियाँ"), "\(htmlHindi.text)")
            let textHindi = try DaemonTests.request(daemon, "GET", path, headers: auth + ["Accept: text/plain", "Accept-Language: hi"])
            #expect(textHindi.status == 200 && textHindi.text.contains("स्कैन किया गया अनुमोदन (scan-approval)"))
            let jsonAnswer = try DaemonTests.request(daemon, "GET", path, headers: auth + ["Accept-Language: hi"])
            #expect(jsonAnswer.status == 200 && jsonAnswer.json["schema"] as? String == "signservice.history-report/1")
            #expect((jsonAnswer.json["summary"] as? String)?.hasPrefix("Valid history: 2 entries") == true, "the JSON stays language-neutral")
            let englishFirst = try DaemonTests.request(daemon, "GET", path, headers: auth + ["Accept: text/html", "Accept-Language: en, hi;q=0.8"])
            #expect(englishFirst.text.contains("<html lang=\"en\">"))
            let verifyBody = VerifyRequestBody(
                signature: Array(try Data(contentsOf: URL(fileURLWithPath: note + ".p7s"))), content: Array(try Data(contentsOf: URL(fileURLWithPath: note))))
            let verified = try DaemonTests.request(
                daemon, "POST", "/v1/verify", headers: auth + ["Accept: text/html", "Accept-Language: hi"], body: verifyBody)
            #expect(
                verified.status == 200 && verified.text.contains("<b>हस्ताक्षर मान्य है</b> <span class=\"etsi\" id=\"etsi\">(TOTAL-PASSED)</span>"),
                "\(verified.text)")
            let verifiedJSON = try DaemonTests.request(daemon, "POST", "/v1/verify", headers: auth + ["Accept-Language: hi"], body: verifyBody)
            #expect(((verifiedJSON.json["verdict"] as? [String: Any])?["summary"] as? String)?.hasPrefix("Valid: signed by Anita Sharma") == true)
            let openapi = try DaemonTests.checkOpenAPI(daemon)
            #expect(openapi.status == 0, "every answer as docs/openapi.yaml describes it: \(openapi.stdout)\(openapi.stderr)")
        }
    }

    @Test("Accept-Language and language tags: q-values, regions, English when nothing fits; Indian dates in IST")
    func negotiation() {
        #expect(ReportLanguage.negotiate(acceptLanguage: nil) == .english)
        #expect(ReportLanguage.negotiate(acceptLanguage: "hi") == .hindi)
        #expect(ReportLanguage.negotiate(acceptLanguage: "hi-IN,hi;q=0.9,en-US;q=0.8") == .hindi)
        #expect(ReportLanguage.negotiate(acceptLanguage: "en-IN, hi;q=0.9") == .english)
        #expect(ReportLanguage.negotiate(acceptLanguage: "fr, hi;q=0.3") == .hindi)
        #expect(ReportLanguage.negotiate(acceptLanguage: "fr, de") == .english)
        #expect(ReportLanguage.negotiate(acceptLanguage: "hi;q=0") == .english)
        #expect(IndianDate.format(UTCTimeText.parse("2026-12-31T20:00:00Z")!) == "1 जनवरी 2027, 01:30:00 भारतीय मानक समय")
        #expect(IndianDate.format(UTCTimeText.parse("2026-10-02T04:30:05Z")!) == "2 अक्तूबर 2026, 10:00:05 भारतीय मानक समय")
    }
}
