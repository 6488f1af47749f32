import Foundation

/// ETSI EN 319 102-1 main indications.
public enum Indication: String, Sendable, Codable {
    case totalPassed = "TOTAL-PASSED"
    case totalFailed = "TOTAL-FAILED"
    case indeterminate = "INDETERMINATE"
}

/// ETSI EN 319 102-1 sub-indications (the ones this verifier gives).
public enum SubIndication: String, Sendable, Codable {
    // with TOTAL-FAILED
    case formatFailure = "FORMAT_FAILURE"
    case hashFailure = "HASH_FAILURE"
    case sigCryptoFailure = "SIG_CRYPTO_FAILURE"
    case revoked = "REVOKED"
    case expired = "EXPIRED"
    case notYetValid = "NOT_YET_VALID"
    // with INDETERMINATE
    case noSigningCertificateFound = "NO_SIGNING_CERTIFICATE_FOUND"
    case noCertificateChainFound = "NO_CERTIFICATE_CHAIN_FOUND"
    case chainConstraintsFailure = "CHAIN_CONSTRAINTS_FAILURE"
    case certificateChainGeneralFailure = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    case cryptoConstraintsFailureNoPOE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    case revokedNoPOE = "REVOKED_NO_POE"
    case revokedCANoPOE = "REVOKED_CA_NO_POE"
    case outOfBoundsNoPOE = "OUT_OF_BOUNDS_NO_POE"
    case tryLater = "TRY_LATER"
    case sigConstraintsFailure = "SIG_CONSTRAINTS_FAILURE"
    case signedDataNotFound = "SIGNED_DATA_NOT_FOUND"

    /// The main indication this sub-indication belongs to.
    public var indication: Indication {
        switch self {
        case .formatFailure, .hashFailure, .sigCryptoFailure, .revoked, .expired, .notYetValid: .totalFailed
        default: .indeterminate
        }
    }
}

/// What kind of signer the certificate's policy says this is (India's CCA policy OIDs, DOMAIN.md).
public enum SignerKind: String, Sendable, Codable {
    case class3TokenDSC = "class-3-dsc"
    case class2LegacyDSC = "class-2-dsc"
    case eSign = "esign"
    case documentSigner = "document-signer"
    case unknown = "unknown-policy"

    static func of(policies: [String]) -> SignerKind {
        if policies.contains("2.16.356.100.10.1") { return .documentSigner }
        if policies.contains(where: { $0.hasPrefix("2.16.356.100.2.4.") }) { return .eSign }
        if policies.contains("2.16.356.100.2.3") { return .class3TokenDSC }
        if policies.contains("2.16.356.100.2.2") { return .class2LegacyDSC }
        return .unknown
    }

    /// Plain words for reports.
    public var words: String {
        switch self {
        case .class3TokenDSC: "Class 3 DSC (a person's certificate on a crypto token)"
        case .class2LegacyDSC: "Class 2 DSC (legacy class, no longer issued since 2020)"
        case .eSign: "eSign (online Aadhaar eKYC signature through an eSign provider)"
        case .documentSigner: "document signer (an organisation's automated signature, not a person's)"
        case .unknown: "unknown certificate policy (not an Indian CCA signing class)"
        }
    }
}

/// The result of verifying one signature: a verdict, never a thrown error, with everything a report states.
public struct Verdict: Sendable, Codable {
    public var indication: Indication
    public var subIndication: SubIndication?
    /// The verdict in plain words, one sentence.
    public var summary: String
    public var signer: SignerSummary?
    public var signingTime: SigningTimeEvidence?
    public var content: ContentDigest?
    /// The path from the signer to the trust anchor, signer first.
    public var chain: [CertificateSummary]
    public var revocation: [RevocationFinding]
    public var timeStamp: TimeStampSummary?
    public var context: EOfficeContext?
    public var commitment: String?
    /// The SignService login attribute: present on a login signature (which has no e-Office context), never on a
    /// note's or an approval's.
    public var login: LoginBinding? = nil
    /// Each check in the order it was made.
    public var checks: [Check]
    public var warnings: [String]
    /// When the verification was made and by what (the evidence rules ask for the checking system).
    public var validationTime: Date
    public var verifier: String
    /// The validation policy the verdict was reached under, and the certificate policies that held.
    public var validationPolicy: ValidationPolicySummary?
    /// When the SignedData holds more than one SignerInfo: each one's own verdict, in order (the first is the one
    /// this verdict's other fields describe; the indication is the worst of them).
    public var signatures: [Verdict]?

    public var passed: Bool { indication == .totalPassed }

    /// The validation policy (RFC 5280 6.1.1's inputs and the revocation mode) and what came of it.
    public struct ValidationPolicySummary: Sendable, Codable {
        public var revocation: RevocationMode
        /// user-initial-policy-set; ["2.5.29.32.0"] (anyPolicy) by default.
        public var initialPolicySet: [String]
        public var explicitPolicy: Bool
        public var inhibitPolicyMapping: Bool
        public var inhibitAnyPolicy: Bool
        /// The certificate policies that held on the path (RFC 5280 6.1.6, within the initial set); absent when no
        /// path was validated.
        public var policiesHeld: [String]?
    }

    /// One verdict for several SignerInfos of one SignedData: the first's, with the indication of the worst and
    /// every one in `signatures`.
    static func combining(_ verdicts: [Verdict]) -> Verdict {
        guard var combined = verdicts.first, verdicts.count > 1 else { return verdicts[0] }
        func rank(_ indication: Indication) -> Int {
            switch indication {
            case .totalPassed: 0
            case .indeterminate: 1
            case .totalFailed: 2
            }
        }
        combined.signatures = verdicts
        combined.warnings.insert(
            "the SignedData holds \(verdicts.count) signatures; each is judged on its own (signatures), the first is described here",
            at: 0)
        if let (index, worst) = verdicts.enumerated().dropFirst().max(by: { rank($0.element.indication) < rank($1.element.indication) }),
            rank(worst.indication) > rank(combined.indication)
        {
            combined.indication = worst.indication
            combined.subIndication = worst.subIndication
            combined.summary = "Signature \(index + 1) of \(verdicts.count) (\(worst.signer?.name ?? "an unidentified signer")): \(worst.summary)"
        }
        return combined
    }

    public struct SignerSummary: Sendable, Codable {
        public var name: String
        public var subject: String
        public var issuer: String
        public var serialNumber: String
        public var sha256Fingerprint: String
        public var kind: SignerKind
        public var kindDescription: String
        public var policies: [String]
        public var keyUsage: [String]
        public var publicKey: String
        public var notBefore: Date
        public var notAfter: Date
    }

    public struct SigningTimeEvidence: Sendable, Codable {
        public enum Source: String, Sendable, Codable {
            case timeStamp = "time-stamp"
            case claimed = "claimed"
            case validationTime = "validation-time"
        }
        public var time: Date
        public var source: Source
        /// How the time is known, in plain words.
        public var explanation: String
    }

    public struct ContentDigest: Sendable, Codable {
        public var algorithm: String
        public var hex: String
        public var size: UInt64?
    }

    public struct CertificateSummary: Sendable, Codable {
        public var subject: String
        public var issuer: String
        public var serialNumber: String
        public var sha256Fingerprint: String
        public var notBefore: Date
        public var notAfter: Date
        public var trustAnchor: Bool
    }

    public struct RevocationFinding: Sendable, Codable {
        public enum Status: String, Sendable, Codable { case good, revoked, unknown }
        public var certificate: String
        public var status: Status
        /// "OCSP http://...", "CRL http://...", "CRL in the signature", "cache: ...".
        public var source: String?
        public var producedAt: Date?
        public var revokedAt: Date?
        public var reason: String?
        public var detail: String
    }

    public struct TimeStampSummary: Sendable, Codable {
        public var time: Date
        public var authority: String
        public var serialNumber: String
        public var policy: String?
        public var valid: Bool
        public var detail: String
        /// The revocation status of the time-stamping authority's own certificate, judged like a signer's (its path's
        /// other certificates are among `revocation`, prefixed "TSA: "); absent when revocation was not checked.
        public var certificateStatus: RevocationFinding.Status?
    }

    public struct Check: Sendable, Codable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }
}
