import Foundation
import Testing
import TestSupport
@testable import SignKit

/// TestCerts: the project's test PKI, modelled on India's (TestCerts/generate.sh).
enum TestCerts {
    static func certificate(_ name: String) throws -> X509Certificate {
        let url = Rig.root.appendingPathComponent("TestCerts/\(name).der")
        return try X509Certificate(der: Array(try Data(contentsOf: url)))
    }
}

@Suite("Certificates and the signing filter")
struct CertificateTests {
    @Test("reads an officer certificate as openssl does")
    func officer() throws {
        let certificate = try TestCerts.certificate("certs/officer-rsa")
        #expect(certificate.subject.commonName == "Anita Sharma")
        #expect(certificate.subject["title"] == "Under Secretary")
        #expect(certificate.subject["O"] == "Government of Manipur")
        #expect(certificate.issuer.commonName == "Test Sub CA for Individual DSC 2026")
        #expect(certificate.serialNumberHex == "4D21F9BBB51B8E051FC3D8449DE6B8B9")  // openssl x509 -serial
        #expect(certificate.publicKeyAlgorithm == .rsa(bits: 2048))
        #expect(certificate.keyUsage == [.digitalSignature, .nonRepudiation])
        #expect(certificate.policies.contains("2.16.356.100.2.3"))
        #expect(CertificateClass(policies: certificate.policies) == .class3)
        #expect(!certificate.isCertificateAuthority)
        #expect(certificate.notBefore < TestTime.now && TestTime.now < certificate.notAfter)
        #expect(Hex.encode(certificate.sha256Fingerprint).count == 64)
    }

    @Test("EC officer key is P-256")
    func ecOfficer() throws {
        let certificate = try TestCerts.certificate("certs/officer-ec")
        #expect(certificate.publicKeyAlgorithm == .ec(curve: "prime256v1", bits: 256))
    }

    @Test(
        "classes from India's CCA policy OIDs",
        arguments: [
            ("certs/officer-rsa", CertificateClass.class3), ("certs/esign-user", .eSignOTP),
            ("certs/docsigner", .documentSigner), ("ca/root", .unknown),
        ])
    func classes(name: String, expected: CertificateClass) throws {
        #expect(CertificateClass(policies: try TestCerts.certificate(name).policies) == expected)
    }

    @Test("offered for signing: officers, PPS, Minister, the document signer")
    func offered() throws {
        for name in ["certs/officer-rsa", "certs/officer-ec", "certs/pps", "certs/minister", "certs/docsigner"] {
            let verdict = SigningFilter.evaluate(try TestCerts.certificate(name), key: .privateKey, at: TestTime.now)
            #expect(verdict == .offered, "\(name): \(verdict)")
        }
    }

    @Test(
        "hidden, each with its reason",
        arguments: [
            ("certs/officer-encryption", KeyPresence.privateKey, "encryption-only"),
            ("certs/officer-wrong-usage", .privateKey, "key usage does not allow signing"),
            ("certs/officer-expired", .privateKey, "expired on 2024-"),
            ("certs/esign-user", .privateKey, "expired on 2026-03-10"),
            ("ca/sub-ca-individual", .privateKey, "CA certificate"),
            ("certs/officer-rsa", .none, "no key with this certificate's CKA_ID"),
        ])
    func hidden(name: String, key: KeyPresence, reason: String) throws {
        let verdict = SigningFilter.evaluate(try TestCerts.certificate(name), key: key, at: TestTime.now)
        let text = try #require(verdict.reason, "\(name) should be hidden")
        #expect(text.contains(reason), "\(name): \(text)")
    }

    @Test("not yet valid before notBefore")
    func notYetValid() throws {
        let early = ISO8601DateFormatter().date(from: "2026-01-01T00:00:00Z")!
        let verdict = SigningFilter.evaluate(try TestCerts.certificate("certs/officer-rsa"), key: .privateKey, at: early)
        #expect(verdict.reason?.contains("not valid until 2026-03-01") == true)
    }

    @Test("garbage is refused, not parsed")
    func garbage() {
        #expect(throws: (any Error).self) { try X509Certificate(der: [0x30, 0x03, 0x02, 0x01]) }
        #expect(throws: (any Error).self) { try X509Certificate(der: []) }
    }

    @Test("PEM bundles read in order")
    func pemBundle() throws {
        let text = try String(contentsOf: Rig.root.appendingPathComponent("TestCerts/ca/chain-individual.pem"), encoding: .utf8)
        let chain = try X509Certificate.fromPEM(text)
        #expect(chain.count >= 2)
        #expect(chain.allSatisfy { $0.isCertificateAuthority })
    }
}

@Suite("DER encodings SignKit writes")
struct DERTests {
    @Test("ECDSA r||s becomes SEQUENCE of two positive INTEGERs")
    func ecdsa() throws {
        // r has its high bit set (needs a 0x00), s has leading zeros (dropped).
        let r: [UInt8] = [0x80] + [UInt8](repeating: 0x11, count: 31)
        let s: [UInt8] = [0x00, 0x00] + [UInt8](repeating: 0x22, count: 30)
        let der = try #require(DER.ecdsaSignature(rawRS: r + s))
        #expect(der[0] == 0x30)
        #expect(Array(der[2...4]) == [0x02, 33, 0x00])
        #expect(Array(der[5..<37]) == r)
        #expect(Array(der[37...38]) == [0x02, 30])
        #expect(Array(der[39...]) == [UInt8](repeating: 0x22, count: 30))
        #expect(Int(der[1]) == der.count - 2)
        #expect(DER.ecdsaSignature(rawRS: [1, 2, 3]) == nil)
        #expect(DER.ecdsaSignature(rawRS: []) == nil)
    }

    @Test("long lengths use the long form")
    func lengths() {
        #expect(DER.length(0x7F) == [0x7F])
        #expect(DER.length(0x80) == [0x81, 0x80])
        #expect(DER.length(0x1234) == [0x82, 0x12, 0x34])
    }

    @Test("DigestInfo for SHA-256 is the RFC 8017 prefix plus the digest")
    func digestInfo() {
        let digest = SHA256Hasher.hash(Array("abc".utf8))
        #expect(Hex.encode(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let info = DER.sha256DigestInfo(digest)
        #expect(info.count == 51)
        #expect(Hex.encode(info.prefix(19)) == "3031300d060960864801650304020105000420")
    }
}

@Suite("PKCS#11 return codes in words")
struct CKRTests {
    @Test("names, meanings and lookups")
    func lookups() {
        #expect(CKR.name(0xA0) == "CKR_PIN_INCORRECT")
        #expect(CKR.meaning(0xA4).contains("locked"))
        #expect(CKR.value(named: "CKR_PIN_LOCKED") == 0xA4)
        #expect(CKR.value(named: "pin_locked") == 0xA4)
        #expect(CKR.value(named: "0xa0") == 0xA0)
        #expect(CKR.value(named: "160") == 0xA0)
        #expect(CKR.value(named: "NOT_A_CODE") == nil)
        #expect(CKR.name(0x8000_0001) == "CKR 0x80000001")
        #expect(CKR.meaning(0x8000_0001).contains("vendor"))
    }
}
