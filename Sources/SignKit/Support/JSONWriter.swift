import Foundation

/// A JSON value built by hand, written as `JSONOutput.encoder(pretty: false)` writes the same Codable value: keys
/// sorted, absent optionals left out, "/" not escaped, times as 2026-11-23T07:01:49Z. For answers made many times
/// a second: Foundation's JSONEncoder took ~250 µs for one verification report on this project's machines, four
/// times the verification itself. `JSONWriterTests` checks the bytes are the encoder's.
public indirect enum JSONValue: Sendable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case array([JSONValue])
    /// Fields in any order; nil values are left out.
    case object([(String, JSONValue?)])

    public static func time(_ date: Date) -> JSONValue { .string(UTCTimeText.format(date)) }
    public static func string(_ text: String?) -> JSONValue? { text.map { .string($0) } }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(4096)
        write(to: &out)
        return out
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case .string(let text): Self.write(text, to: &out)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in fields.sorted(by: { $0.0 < $1.0 }) {
                guard let value else { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.write(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func write(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Runs that need no escape are copied whole.
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension VerificationReport {
    /// The report as `JSONOutput.encoder(pretty: false).encode(self)` writes it, several times faster.
    public var compactJSON: [UInt8] {
        JSONValue.object([
            ("schema", .string(schema)), ("signatureFile", JSONValue.string(signatureFile)), ("contentFile", JSONValue.string(contentFile)),
            ("trustFolder", JSONValue.string(trustFolder)), ("offline", .bool(offline)), ("verdict", verdict.json),
        ]).bytes
    }
}

extension Verdict {
    var json: JSONValue {
        var fields: [(String, JSONValue?)] = [
            ("indication", .string(indication.rawValue)), ("subIndication", JSONValue.string(subIndication?.rawValue)),
            ("summary", .string(summary)), ("commitment", JSONValue.string(commitment)),
            ("validationTime", .time(validationTime)), ("verifier", .string(verifier)),
            ("warnings", .array(warnings.map { .string($0) })),
        ]
        fields.append(("signer", signer.map(Self.json)))
        fields.append(("signingTime", signingTime.map(Self.json)))
        fields.append(("content", content.map(Self.json)))
        fields.append(("chain", .array(chain.map(Self.json))))
        fields.append(("revocation", .array(revocation.map(Self.json))))
        fields.append(("timeStamp", timeStamp.map(Self.json)))
        fields.append(("context", context.map(Self.json)))
        fields.append(("checks", .array(checks.map(Self.json))))
        fields.append(("validationPolicy", validationPolicy.map(Self.json)))
        fields.append(("signatures", signatures.map { .array($0.map(\.json)) }))
        return .object(fields)
    }

    static func json(_ policy: ValidationPolicySummary) -> JSONValue {
        let fields: [(String, JSONValue?)] = [
            ("revocation", .string(policy.revocation.rawValue)), ("initialPolicySet", .array(policy.initialPolicySet.map { .string($0) })),
            ("explicitPolicy", .bool(policy.explicitPolicy)), ("inhibitPolicyMapping", .bool(policy.inhibitPolicyMapping)),
            ("inhibitAnyPolicy", .bool(policy.inhibitAnyPolicy)), ("policiesHeld", policy.policiesHeld.map { .array($0.map { .string($0) }) }),
        ]
        return .object(fields)
    }

    static func json(_ signer: SignerSummary) -> JSONValue {
        let fields: [(String, JSONValue?)] = [
            ("name", .string(signer.name)), ("subject", .string(signer.subject)), ("issuer", .string(signer.issuer)),
            ("serialNumber", .string(signer.serialNumber)), ("sha256Fingerprint", .string(signer.sha256Fingerprint)),
            ("kind", .string(signer.kind.rawValue)), ("kindDescription", .string(signer.kindDescription)),
            ("policies", .array(signer.policies.map { .string($0) })), ("keyUsage", .array(signer.keyUsage.map { .string($0) })),
            ("publicKey", .string(signer.publicKey)), ("notBefore", .time(signer.notBefore)), ("notAfter", .time(signer.notAfter)),
        ]
        return .object(fields)
    }

    static func json(_ time: SigningTimeEvidence) -> JSONValue {
        .object([("time", .time(time.time)), ("source", .string(time.source.rawValue)), ("explanation", .string(time.explanation))])
    }

    static func json(_ content: ContentDigest) -> JSONValue {
        let size: JSONValue? = content.size.map { .integer(Int64($0)) }
        return .object([("algorithm", .string(content.algorithm)), ("hex", .string(content.hex)), ("size", size)])
    }

    static func json(_ certificate: CertificateSummary) -> JSONValue {
        let fields: [(String, JSONValue?)] = [
            ("subject", .string(certificate.subject)), ("issuer", .string(certificate.issuer)), ("serialNumber", .string(certificate.serialNumber)),
            ("sha256Fingerprint", .string(certificate.sha256Fingerprint)), ("notBefore", .time(certificate.notBefore)),
            ("notAfter", .time(certificate.notAfter)), ("trustAnchor", .bool(certificate.trustAnchor)),
        ]
        return .object(fields)
    }

    static func json(_ finding: RevocationFinding) -> JSONValue {
        let producedAt: JSONValue? = finding.producedAt.map { .time($0) }, revokedAt: JSONValue? = finding.revokedAt.map { .time($0) }
        let fields: [(String, JSONValue?)] = [
            ("certificate", .string(finding.certificate)), ("status", .string(finding.status.rawValue)), ("source", JSONValue.string(finding.source)),
            ("producedAt", producedAt), ("revokedAt", revokedAt), ("reason", JSONValue.string(finding.reason)), ("detail", .string(finding.detail)),
        ]
        return .object(fields)
    }

    static func json(_ stamp: TimeStampSummary) -> JSONValue {
        let fields: [(String, JSONValue?)] = [
            ("time", .time(stamp.time)), ("authority", .string(stamp.authority)), ("serialNumber", .string(stamp.serialNumber)),
            ("policy", JSONValue.string(stamp.policy)), ("valid", .bool(stamp.valid)), ("detail", .string(stamp.detail)),
            ("certificateStatus", JSONValue.string(stamp.certificateStatus?.rawValue)),
        ]
        return .object(fields)
    }

    static func json(_ context: EOfficeContext) -> JSONValue {
        let previous: JSONValue? = context.previousEntryHash.map { .string(Hex.encode($0)) }
        let fields: [(String, JSONValue?)] = [
            ("fileNumber", .string(context.fileNumber)), ("noteID", .string(context.noteID)), ("previousEntryHash", previous),
            ("origin", JSONValue.string(context.origin)),
        ]
        return .object(fields)
    }

    static func json(_ check: Check) -> JSONValue {
        .object([("name", .string(check.name)), ("passed", .bool(check.passed)), ("detail", .string(check.detail))])
    }
}
