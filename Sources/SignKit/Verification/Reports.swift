import Foundation

/// The JSON report of one verification (schema "signservice.verification/1", docs/verification.md).
public struct VerificationReport: Codable, Sendable {
    public var schema = "signservice.verification/1"
    public var signatureFile: String?
    public var contentFile: String?
    public var trustFolder: String?
    public var offline: Bool
    public var verdict: Verdict

    public init(signatureFile: String?, contentFile: String?, trustFolder: String?, offline: Bool, verdict: Verdict) {
        self.signatureFile = signatureFile
        self.contentFile = contentFile
        self.trustFolder = trustFolder
        self.offline = offline
        self.verdict = verdict
    }

    public func json() throws -> String { try JSONOutput.string(self) }

    public static func decode(_ json: [UInt8]) throws -> VerificationReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(VerificationReport.self, from: Data(json))
    }
}

/// The report a person reads: who signed, as what, when and how that is known, what was signed, the path, the
/// revocation status and its source, the verdict in plain words and in ETSI terms.
public enum HumanReport {
    public static func text(_ verdict: Verdict, signatureFile: String?, contentFile: String?) -> String {
        var lines = [String]()
        func row(_ label: String, _ value: String) {
            lines.append(label.padding(toLength: 12, withPad: " ", startingAt: 0) + value)
        }
        func more(_ value: String) { lines.append(String(repeating: " ", count: 12) + value) }

        let word =
            switch verdict.indication {
            case .totalPassed: "VALID"
            case .totalFailed: "NOT VALID"
            case .indeterminate: "CANNOT BE CONFIRMED"
            }
        let etsi = verdict.indication.rawValue + (verdict.subIndication.map { " / \($0.rawValue)" } ?? "")
        row("Verdict", "\(word)  (\(etsi))")
        more(verdict.summary)
        lines.append("")
        if let signatureFile { row("Signature", signatureFile) }
        if let content = verdict.content {
            row("Content", (contentFile ?? "inside the signature") + (content.size.map { ", \($0) bytes" } ?? ""))
            more("\(content.algorithm) \(content.hex)")
        }
        if let signer = verdict.signer {
            row("Signer", signer.name)
            more(signer.subject)
            more("as: \(signer.kindDescription)")
            more("certificate serial \(signer.serialNumber), SHA-256 \(signer.sha256Fingerprint)")
            more("\(signer.publicKey); keyUsage \(signer.keyUsage.isEmpty ? "(any)" : signer.keyUsage.joined(separator: ", "))")
            more("valid \(UTCTimeText.format(signer.notBefore)) to \(UTCTimeText.format(signer.notAfter))")
        }
        if let time = verdict.signingTime {
            row("Signed at", UTCTimeText.format(time.time))
            more(time.explanation)
        }
        if let stamp = verdict.timeStamp {
            row("Time-stamp", "\(stamp.valid ? "valid" : "NOT VALID"): \(stamp.detail)")
        }
        if let context = verdict.context {
            var text = "file \(context.fileNumber), note \(context.noteID)"
            if let previous = context.previousEntryHash { text += ", follows history entry \(Hex.encode(previous))" }
            if let origin = context.origin { text += ", requested from \(origin)" }
            row("e-Office", text)
        }
        if let commitment = verdict.commitment { row("Commitment", commitment) }
        if let policy = verdict.validationPolicy {
            var settings = ["revocation \(policy.revocation.rawValue)"]
            if policy.initialPolicySet != [VerificationPolicy.anyPolicy] {
                settings.append("initial policies \(policy.initialPolicySet.joined(separator: ", "))")
            }
            if policy.explicitPolicy { settings.append("explicit policy") }
            if policy.inhibitPolicyMapping { settings.append("policy mapping inhibited") }
            if policy.inhibitAnyPolicy { settings.append("anyPolicy inhibited") }
            if let held = policy.policiesHeld { settings.append("policies held: " + (held.isEmpty ? "none" : held.joined(separator: ", "))) }
            row("Policy", settings.joined(separator: "; "))
        }
        if !verdict.chain.isEmpty {
            for (index, certificate) in verdict.chain.enumerated() {
                let name = certificate.subject
                let anchor = certificate.trustAnchor ? "  [trust anchor]" : ""
                (index == 0 ? row("Chain", "1. \(name)\(anchor)") : more("\(index + 1). \(name)\(anchor)"))
            }
        }
        for (index, finding) in verdict.revocation.enumerated() {
            let source = finding.source.map { " from \($0)" } ?? ""
            let text = "\(finding.certificate): \(finding.status.rawValue)\(source); \(finding.detail)"
            index == 0 ? row("Revocation", text) : more(text)
        }
        for (index, signature) in (verdict.signatures ?? []).enumerated() {
            let etsi = signature.indication.rawValue + (signature.subIndication.map { " / \($0.rawValue)" } ?? "")
            let text = "\(index + 1). \(signature.signer?.name ?? "an unidentified signer"): \(etsi); \(signature.summary)"
            index == 0 ? row("Signatures", text) : more(text)
        }
        if !verdict.checks.isEmpty {
            for (index, check) in verdict.checks.enumerated() {
                let text = "\(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)"
                index == 0 ? row("Checks", text) : more(text)
            }
        }
        for (index, warning) in verdict.warnings.enumerated() {
            index == 0 ? row("Notes", warning) : more(warning)
        }
        row("Checked", "\(UTCTimeText.format(verdict.validationTime)) by \(verdict.verifier)")
        return lines.joined(separator: "\n")
    }
}
