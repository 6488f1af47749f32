import ArgumentParser
import Foundation
import SignKit

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a detached CMS/CAdES signature over its content, as an auditor or a court would.",
        discussion: """
            The verdict uses ETSI EN 319 102-1 terms: TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE with a \
            sub-indication. Each signature is judged at its signing time: the time-stamp's time where there is one, \
            else the time the signer claims (the report says which). The path must reach a certificate in the trust \
            folder; intermediates come from the signature, --intermediates, or the issuer URLs in the certificates \
            (online). Revocation is checked through OCSP and CRLs, fetched with short timeouts and cached; \
            --offline uses only the cache and what the signature carries. A certificate revoked after the signing \
            time still gives a valid signature (IT Act s.73) when the time is proven or the reason is not a \
            compromise; the report notes it. OpenSSL validates the path (RFC 5280: CRLs with their distribution \
            points, indirect and delta CRLs; certificate policies with the validation policy options below).

            Exit codes: 0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE, 3 usage error or unreadable input \
            (not a CMS signature, unreadable content or trust folder).
            The --json report's schema is in docs/verification.md.
            """
    )

    @Argument(help: ArgumentHelp("The signature (.p7s, DER or PEM).", valueName: "signature"))
    var signature: String

    @Option(help: ArgumentHelp("The signed content (for detached signatures).", valueName: "file"))
    var content: String?

    @Option(help: ArgumentHelp("Folder of trusted root certificates (default: $SIGNSERVICE_TRUST, else /etc/signservice/trust).", valueName: "dir"))
    var trust: String?

    @Option(help: ArgumentHelp("Folder of intermediate CA certificates to build paths with.", valueName: "dir"))
    var intermediates: String?

    @Option(help: ArgumentHelp("Validation time (RFC 3339, e.g. 2026-11-23T10:00:00Z, or a date); default now.", valueName: "time"))
    var at: String?

    @Flag(help: "Fetch nothing: use only cached revocation data and what the signature carries.")
    var offline = false

    @Option(help: ArgumentHelp("Revocation cache folder (default: $SIGNSERVICE_CACHE, else ~/.cache/signservice).", valueName: "dir"))
    var cache: String?

    @Option(help: ArgumentHelp("Seconds each OCSP, CRL or certificate fetch may take.", valueName: "seconds"))
    var timeout: Double = 5

    @Flag(name: .customLong("accept-sha1"), help: "Accept SHA-1 legacy signatures instead of reporting them INDETERMINATE.")
    var acceptSHA1 = false

    @Flag(help: "Print the report as JSON (schema: docs/verification.md).")
    var json = false

    @Option(help: ArgumentHelp("Also write a printable HTML report here.", valueName: "file"))
    var html: String?

    @OptionGroup var language: LanguageOption

    @OptionGroup(title: "Validation policy") var validation: ValidationOptions

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if daemon.service != nil {
            if content == nil { throw ValidationError("with --service give the signed content (--content): the daemon verifies detached signatures") }
            if trust != nil || intermediates != nil || offline || cache != nil || acceptSHA1 {
                throw ValidationError(
                    "with --service the daemon's trust store and revocation settings apply; drop --trust, --intermediates, --offline, --cache and --accept-sha1"
                )
            }
        }
        if timeout <= 0 || timeout > 60 { throw ValidationError("--timeout must be between 0 and 60 seconds") }
        if let at, VerifyTime.parse(at) == nil { throw ValidationError("--at must be an RFC 3339 time or a date (YYYY-MM-DD), not \(at)") }
    }

    func run() throws {
        if let client = try daemon.client() { return try verifyThroughDaemon(client) }
        let trustFolder = try Self.trustFolder(trust)
        let store: TrustStore
        let extra: [X509Certificate]
        do {
            store = try TrustStore.load(directory: trustFolder)
            extra = try intermediates.map { try CertificateFolder.load(directory: $0, what: "intermediates folder") } ?? []
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        let bytes = try Self.readSignature(signature)
        if let content { try Self.checkContent(content) }
        let options = RevocationOptions(online: !offline, cacheDirectory: cache ?? RevocationOptions.defaultCacheDirectory, timeout: timeout)
        let verifier = Verifier(trust: store, intermediates: extra, revocation: RevocationChecker(options: options))
        let time = at.flatMap(VerifyTime.parse) ?? Date()
        let adjunct = try validation.adjunct()
        let verdict: Verdict
        do {
            verdict = try verifier.verify(
                signature: bytes, content: content.map { .file($0) } ?? .embedded,
                policy: validation.policy(acceptSHA1: acceptSHA1), at: time, adjunct: adjunct)
        } catch {
            throw Self.unreadable(signature, error)
        }
        try present(VerificationReport(signatureFile: signature, contentFile: content, trustFolder: trustFolder, offline: offline, verdict: verdict))
    }

    /// Prints the report and exits by its indication (0, 1, 2).
    func present(_ report: VerificationReport) throws {
        if let html {
            do { try AtomicFile.write(Array(report.html(in: language.value).utf8), to: html) } catch {
                throw CommandFailure(status: .usage, message: "cannot write \(html): \(error)")
            }
        }
        if json {
            print(try report.json())
        } else {
            print(HumanReport.text(report.verdict, signatureFile: signature, contentFile: content, language: language.value))
        }
        switch report.verdict.indication {
        case .totalPassed: return
        case .totalFailed: throw ExitCode(1)
        case .indeterminate: throw ExitCode(2)
        }
    }

    /// The daemon verifies with its own trust store and revocation settings; the report is the same.
    func verifyThroughDaemon(_ client: DaemonClient) throws {
        let bytes = try Self.readSignature(signature)
        try Self.checkContent(content!)  // required in validate()
        let extract: Data
        do {
            extract = try Data(contentsOf: URL(fileURLWithPath: content!))
        } catch {
            throw CommandFailure(status: .usage, message: "cannot read \(content!): \(error.localizedDescription)")
        }
        let request = VerifyRequestBody(
            signature: bytes, content: Array(extract), at: at.flatMap(VerifyTime.parse),
            policy: validation.policy(), adjunct: try validation.adjunct())
        var report = try client.call("POST", "/v1/verify", body: request, as: VerificationReport.self)
        report.signatureFile = signature
        report.contentFile = content
        try present(report)
    }

    static func trustFolder(_ given: String?) throws -> String {
        if let given { return given }
        if let environment = ProcessInfo.processInfo.environment["SIGNSERVICE_TRUST"], !environment.isEmpty { return environment }
        if FileManager.default.fileExists(atPath: "/etc/signservice/trust") { return "/etc/signservice/trust" }
        throw CommandFailure(
            status: .usage,
            message: "no trust store: pass --trust DIR (a folder of root certificates, e.g. CCA India 2022; "
                + "see README \"Trusting India's root\"), set SIGNSERVICE_TRUST, or install roots in /etc/signservice/trust")
    }

    /// The signature's bytes: DER as is, PEM ("-----BEGIN PKCS7-----" or "CMS") decoded. Size-capped. A file of
    /// another kind is refused in one line that says what it is ("README.md is not a signature file (.p7s): it
    /// starts with text"); one that cannot be read, with the operating system's reason.
    static func readSignature(_ path: String) throws -> [UInt8] {
        let limit = 32 << 20
        let data: [UInt8]
        do {
            data = try InputFile.read(path, is: .signature, limit: limit)
        } catch {
            throw CommandFailure(error)
        }
        if data.starts(with: Array("-----BEGIN ".utf8)) || InputKind.pemLabel(data) != nil {
            guard let decoded = PEM.decode(String(decoding: data, as: UTF8.self))?.first else {
                throw CommandFailure(
                    status: .usage, message: "\(path) is not a readable signature file (.p7s): its PEM text is not valid base64 (or its END line is missing)",
                    code: InputFileError.Code.wrongKind.name)
            }
            return decoded
        }
        return data
    }

    /// The content file: any bytes, but it must be a readable file (the operating system's reason otherwise).
    static func checkContent(_ path: String) throws {
        do {
            try InputFile.check(path, is: .content)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// A signature that looked like one but does not read, in plain words (the verifier's own words name DER
    /// elements).
    static func unreadable(_ path: String, _ error: VerificationInputError) -> CommandFailure {
        let text = error.description
        let what: String
        if text.hasPrefix("cannot read the content") {
            what = text
        } else if text.contains("no SignerInfo") {
            what = "\(path) is a signature container that holds no signature (certificates only?)"
        } else {
            what = "\(path) is not a readable signature file (.p7s): it is damaged or cut short"
        }
        return CommandFailure(status: .usage, message: what, code: InputFileError.Code.wrongKind.name)
    }
}

/// `--lang`: the language of the reports people read (text and HTML); JSON is the same in every language.
struct LanguageOption: ParsableArguments {
    @Option(name: .customLong("lang"), help: ArgumentHelp("Language of the text and HTML reports: en (English) or hi (Hindi, Devanagari).", valueName: "code"))
    var tag = "en"

    var value: ReportLanguage { ReportLanguage(tag: tag) ?? .english }

    func validate() throws {
        if ReportLanguage(tag: tag) == nil { throw ValidationError("--lang must be en (English) or hi (Hindi), not \(tag)") }
    }
}

enum VerifyTime {
    static func parse(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }
}
