import Foundation

/// The kind of certificate, from its certificate policies (India's CCA OIDs, DOMAIN.md).
public enum CertificateClass: String, Sendable, Codable, Hashable, CustomStringConvertible {
    /// 2.16.356.100.2.3: Class 3, the class of token DSCs issued today (may also carry Class 2).
    case class3 = "class-3"
    /// 2.16.356.100.2.2 alone: Class 2, no longer issued after 2020-12-31.
    case class2 = "class-2"
    /// 2.16.356.100.2.4.1: eSign, Aadhaar eKYC OTP.
    case eSignOTP = "esign-otp"
    /// 2.16.356.100.2.4.2: eSign, eKYC biometric.
    case eSignBiometric = "esign-biometric"
    /// 2.16.356.100.2.4.x other: eSign of another eKYC kind.
    case eSignOther = "esign"
    /// 2.16.356.100.10.1: organisational document signer (automated signing, not a person).
    case documentSigner = "document-signer"
    case unknown = "unknown-policy"

    public init(policies: [String]) {
        if policies.contains("2.16.356.100.10.1") {
            self = .documentSigner
        } else if policies.contains("2.16.356.100.2.4.1") {
            self = .eSignOTP
        } else if policies.contains("2.16.356.100.2.4.2") {
            self = .eSignBiometric
        } else if policies.contains(where: { $0.hasPrefix("2.16.356.100.2.4.") }) {
            self = .eSignOther
        } else if policies.contains("2.16.356.100.2.3") {
            self = .class3
        } else if policies.contains("2.16.356.100.2.2") {
            self = .class2
        } else {
            self = .unknown
        }
    }

    public var description: String {
        switch self {
        case .class3: return "Class 3 DSC"
        case .class2: return "Class 2 DSC (legacy)"
        case .eSignOTP: return "eSign (Aadhaar eKYC OTP)"
        case .eSignBiometric: return "eSign (eKYC biometric)"
        case .eSignOther: return "eSign"
        case .documentSigner: return "Document Signer (organisation)"
        case .unknown: return "unknown policy"
        }
    }
}

/// Whether a certificate on a token is offered for signing, and if not, why.
public enum SigningEligibility: Sendable, Hashable {
    case offered
    case hidden(reason: String)

    public var isOffered: Bool { if case .offered = self { return true } else { return false } }
    public var reason: String? { if case .hidden(let reason) = self { return reason } else { return nil } }
}

/// What the token shows of the key that belongs to a certificate (same CKA_ID).
public enum KeyPresence: String, Sendable, Codable, Hashable {
    /// A private key object is visible.
    case privateKey = "private-key"
    /// Only the public key is visible; tokens hide private key objects until login. Confirmed at signing.
    case publicKeyOnly = "public-key-only"
    case none
}

/// The rules that decide which certificates an officer is offered for signing (DESIGN.md "Tokens").
public enum SigningFilter {
    /// Extended key usages compatible with signing documents; an EKU extension without any of them keeps the
    /// certificate off the list.
    public static let signingEKUs: Set<String> = [
        "1.3.6.1.5.5.7.3.4",  // emailProtection
        "1.2.840.113583.1.1.5",  // Adobe authentic documents trust
        "1.3.6.1.4.1.311.10.3.12",  // Microsoft document signing
        "1.3.6.1.5.5.7.3.36",  // id-kp-documentSigning (RFC 9336)
        "2.5.29.37.0",  // anyExtendedKeyUsage
    ]

    public static func evaluate(_ certificate: X509Certificate, key: KeyPresence, at time: Date) -> SigningEligibility {
        if key == .none {
            return .hidden(reason: "no key with this certificate's CKA_ID on the token (a CA certificate or another person's)")
        }
        if certificate.isCertificateAuthority {
            return .hidden(reason: "a CA certificate, not a signer's")
        }
        if let usage = certificate.keyUsage, !usage.contains(.digitalSignature), !usage.contains(.nonRepudiation) {
            let names = usage.names.joined(separator: ", ")
            if usage.contains(.keyEncipherment) || usage.contains(.dataEncipherment) {
                return .hidden(reason: "encryption-only certificate (keyUsage: \(names)): it cannot make signatures")
            }
            return .hidden(reason: "key usage does not allow signing (keyUsage: \(names))")
        }
        let ekus = certificate.extendedKeyUsage
        if !ekus.isEmpty, signingEKUs.isDisjoint(with: ekus) {
            return .hidden(reason: "extended key usage does not allow document signing (\(ekus.joined(separator: ", ")))")
        }
        if time > certificate.notAfter {
            return .hidden(reason: "expired on \(Self.day(certificate.notAfter))")
        }
        if time < certificate.notBefore {
            return .hidden(reason: "not valid until \(Self.day(certificate.notBefore))")
        }
        return .offered
    }

    static func day(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash))
    }
}
