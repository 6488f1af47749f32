import Foundation
import Testing
import TestSupport
@testable import SignKit

/// Signatures made for verification cases: TestCerts' subscriber keys (or a throwaway PKI's) signing through
/// `CAdES.signDetached`, the same code path as a token.
enum Fixture {
    static let folder = Rig.root.appendingPathComponent("TestCerts")

    static func certificate(_ name: String) throws -> X509Certificate {
        try CertificateFolder.load(file: folder.appendingPathComponent("certs/\(name).crt").path)[0]
    }

    static func key(_ name: String) throws -> SoftwareKey {
        try SoftwareKey(pemFile: folder.appendingPathComponent("keys/\(name).key").path)
    }

    static var individualChain: [X509Certificate] {
        get throws { try CertificateFolder.load(file: folder.appendingPathComponent("ca/chain-individual.pem").path) }
    }

    static var testRoot: X509Certificate {
        get throws { try CertificateFolder.load(file: folder.appendingPathComponent("ca/root.crt").path)[0] }
    }

    static var tsa: TimeStampAuthority {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_TSA"].flatMap(URL.init(string:)) else {
                throw RigError("SIGNSERVICE_TEST_TSA is not set: source .rig/env.sh")
            }
            return TimeStampAuthority(url: url)
        }
    }

    static let content = Array("Extract of note 7, file DIT-12/3/2026-IT\nProposal: approve the purchase of 20 laptops.\n".utf8)

    static func sign(
        _ content: [UInt8] = content, certificate: X509Certificate, key: SoftwareKey, chain: [X509Certificate],
        time: Date = TestTime.now, timeStamp: Bool = false, commitment: Commitment = .proofOfOrigin
    ) throws -> [UInt8] {
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "7"), commitment: commitment,
            signingTime: time, chain: chain, timeStampAuthority: timeStamp ? try tsa : nil)
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: certificate, parameters: parameters) {
            try key.sign($0)
        }
    }

    /// A TestCerts subscriber's signature (its chain embedded unless `chain` is false).
    static func sign(as name: String, _ content: [UInt8] = content, time: Date = TestTime.now, timeStamp: Bool = false, chain: Bool = true) throws -> [UInt8] {
        try sign(
            content, certificate: try certificate(name), key: try key(name), chain: chain ? try individualChain : [], time: time,
            timeStamp: timeStamp)
    }

    /// A verifier trusting TestCerts' root and `extraAnchors`, with the disk cache `cache` (none when nil: nothing
    /// from earlier runs is reused).
    static func verifier(online: Bool = true, extraAnchors: [X509Certificate] = [], cache: String? = nil) throws -> Verifier {
        Verifier(
            trust: try TrustStore(anchors: [try testRoot] + extraAnchors),
            revocation: RevocationChecker(options: RevocationOptions(online: online, cacheDirectory: cache, timeout: 3)))
    }

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}

@Suite("Verification: every case with its expected verdict")
struct VerificationTests {
    init() throws { try Rig.require() }

    /// The verdict at `at`: TestTime.now for TestCerts' signatures, a time read from the signature for those a live
    /// TSA stamped or a throwaway PKI's certificate signed (both made at the clock's time).
    func verify(_ signature: [UInt8], content: [UInt8] = Fixture.content, verifier: Verifier? = nil, at: Date = TestTime.now) throws -> Verdict {
        try (verifier ?? Fixture.verifier()).verify(signature: signature, content: .bytes(content), at: at)
    }

    // MARK: Passing

    @Test(
        "RSA and EC signatures, with and without a time-stamp, are TOTAL-PASSED with every report field filled",
        arguments: [("officer-rsa", false), ("officer-rsa", true), ("officer-ec", false), ("officer-ec", true)])
    func passes(signer: String, timeStamp: Bool) throws {
        let signature = try Fixture.sign(as: signer, timeStamp: timeStamp)
        // A time-stamped signature is judged a minute after the time the rig's TSA proved.
        let verdict = try verify(signature, at: timeStamp ? try TestTime.timeStamp(of: signature).addingTimeInterval(60) : TestTime.now)
        #expect(verdict.indication == .totalPassed, "\(verdict.summary)")
        #expect(verdict.subIndication == nil)
        #expect(verdict.signer?.kind == .class3TokenDSC)
        #expect(verdict.signingTime?.source == (timeStamp ? .timeStamp : .claimed))
        #expect(verdict.timeStamp?.valid == (timeStamp ? true : nil))
        #expect(verdict.timeStamp?.certificateStatus == (timeStamp ? .good : nil), "the TSA's own certificate status is in the verdict")
        #expect(verdict.context?.fileNumber == "DIT-12/3/2026-IT")
        #expect(verdict.context?.noteID == "7")
        #expect(verdict.commitment == "proof-of-origin")
        #expect(verdict.chain.count == 4)
        #expect(verdict.chain.last?.trustAnchor == true)
        #expect(verdict.content?.hex == Hex.encode(SHA256Hasher.hash(Fixture.content)))
        let signerRevocation = verdict.revocation.first { $0.certificate == verdict.signer?.name }
        #expect(signerRevocation?.status == .good)
        #expect(signerRevocation?.source?.hasPrefix("OCSP http://127.0.0.1:18791") == true)
        #expect(!verdict.checks.isEmpty && verdict.checks.filter { !$0.passed }.isEmpty)
    }

    // MARK: Content and signature

    @Test("tampered content: TOTAL-FAILED HASH_FAILURE")
    func tamperedContent() throws {
        var changed = Fixture.content
        changed[10] ^= 0x01
        let verdict = try verify(try Fixture.sign(as: "officer-rsa"), content: changed)
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .hashFailure)
    }

    @Test("a wrong signature value: TOTAL-FAILED SIG_CRYPTO_FAILURE", arguments: ["officer-rsa", "officer-ec"])
    func wrongSignatureValue(signer: String) throws {
        var surgery = try CMSSurgery(try Fixture.sign(as: signer))
        var value = surgery.signatureValue
        value[value.count / 2] ^= 0x40
        surgery.signatureValue = value
        let verdict = try verify(surgery.bytes)
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .sigCryptoFailure)
    }

    @Test("a required signed attribute missing: TOTAL-FAILED FORMAT_FAILURE", arguments: [AttributeOID.messageDigest, AttributeOID.contentType])
    func missingAttribute(oid: String) throws {
        var surgery = try CMSSurgery(try Fixture.sign(as: "officer-rsa"))
        let before = surgery.signedAttributes.count
        surgery.signedAttributes.removeAll { CMSSurgery.oid(of: $0) == OID(oid).bytes }
        #expect(surgery.signedAttributes.count == before - 1)
        try surgery.resign(with: try Fixture.key("officer-rsa"))
        let verdict = try verify(surgery.bytes)
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .formatFailure)
        #expect(verdict.summary.contains("missing"))
    }

    @Test("a duplicated signed attribute: TOTAL-FAILED FORMAT_FAILURE", arguments: [AttributeOID.signingTime, AttributeOID.messageDigest])
    func duplicatedAttribute(oid: String) throws {
        var surgery = try CMSSurgery(try Fixture.sign(as: "officer-rsa"))
        let attribute = try #require(surgery.signedAttributes.first { CMSSurgery.oid(of: $0) == OID(oid).bytes })
        surgery.signedAttributes.append(attribute)
        try surgery.resign(with: try Fixture.key("officer-rsa"))
        let verdict = try verify(surgery.bytes)
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .formatFailure)
        #expect(verdict.summary.contains("more than once"))
    }

    @Test("signingCertificateV2 naming another certificate: INDETERMINATE NO_SIGNING_CERTIFICATE_FOUND")
    func wrongSigningCertificate() throws {
        var surgery = try CMSSurgery(try Fixture.sign(as: "officer-rsa"))
        let other = try Fixture.certificate("officer-ec")
        let index = try #require(surgery.signedAttributes.firstIndex { CMSSurgery.oid(of: $0) == OID(AttributeOID.signingCertificateV2).bytes })
        let value = try DERTree.parse(try other.signingCertificateV2)
        surgery.signedAttributes[index] = .constructed(
            tag: 0x30,
            children: [
                surgery.signedAttributes[index].children[0],
                .constructed(tag: 0x31, children: [value]),
            ])
        try surgery.resign(with: try Fixture.key("officer-rsa"))
        let verdict = try verify(surgery.bytes)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .noSigningCertificateFound)
    }

    @Test("CMSAlgorithmProtection naming other algorithms: TOTAL-FAILED FORMAT_FAILURE")
    func algorithmProtectionMismatch() throws {
        var surgery = try CMSSurgery(try Fixture.sign(as: "officer-rsa"))
        let index = try #require(surgery.signedAttributes.firstIndex { CMSSurgery.oid(of: $0) == OID(AttributeOID.cmsAlgorithmProtection).bytes })
        var attribute = surgery.signedAttributes[index]
        var protection = attribute.children[1].children[0]
        // digestAlgorithm becomes SHA-512 while the SignerInfo says SHA-256.
        protection.children[0] = .constructed(tag: 0x30, children: [.primitive(tag: 0x06, content: OID("2.16.840.1.101.3.4.2.3").bytes)])
        attribute.children[1].children[0] = protection
        surgery.signedAttributes[index] = attribute
        try surgery.resign(with: try Fixture.key("officer-rsa"))
        let verdict = try verify(surgery.bytes)
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .formatFailure)
        #expect(verdict.summary.contains("CMSAlgorithmProtection"))
    }

    // MARK: Time and validity

    @Test("signed with an expired certificate: TOTAL-FAILED EXPIRED")
    func expired() throws {
        let verdict = try verify(try Fixture.sign(as: "officer-expired"))
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .expired)
    }

    @Test("a signing time before the certificate's validity: TOTAL-FAILED NOT_YET_VALID")
    func notYetValid() throws {
        let verdict = try verify(try Fixture.sign(as: "officer-rsa", time: Fixture.date("2026-01-15T10:00:00Z")))
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .notYetValid)
    }

    // MARK: Revocation

    @Test("revoked before the signing time (OCSP says keyCompromise on 2026-06-15): TOTAL-FAILED REVOKED")
    func revokedBefore() throws {
        let verdict = try verify(try Fixture.sign(as: "officer-revoked"))
        #expect(verdict.indication == .totalFailed)
        #expect(verdict.subIndication == .revoked)
        let finding = try #require(verdict.revocation.first { $0.certificate == "Suresh Meitei" })
        #expect(finding.status == .revoked)
        #expect(finding.reason == "keyCompromise")
        #expect(finding.revokedAt == Fixture.date("2026-06-15T10:30:00Z"))
    }

    @Test("revoked for key compromise after a merely claimed signing time: INDETERMINATE REVOKED_NO_POE")
    func revokedAfterClaimedTime() throws {
        let verdict = try verify(try Fixture.sign(as: "officer-revoked", time: Fixture.date("2026-05-01T10:00:00Z")))
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .revokedNoPOE)
    }

    @Test("revoked after a time-stamped signature: TOTAL-PASSED, the revocation noted (IT Act s.73)")
    func revokedAfterProvenTime() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let signer = try pki.issue(
            "Officer Later Revoked", by: root,
            extensions: [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation",
            ])
        let signature = try Fixture.sign(
            certificate: signer.certificate, key: try signer.key, chain: [], time: signer.certificate.notBefore,
            timeStamp: true)
        let stamped = try TestTime.timeStamp(of: signature), judged = stamped.addingTimeInterval(60)
        Thread.sleep(forTimeInterval: 2)  // the CRL is issued after the revocation it lists
        try pki.publishCRL(issuer: root, revoked: [(signer, stamped.addingTimeInterval(2), "key_compromise")])
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: judged)
        #expect(verdict.indication == .totalPassed, "\(verdict.summary)")
        #expect(verdict.signingTime?.source == .timeStamp)
        let finding = try #require(verdict.revocation.first { $0.certificate == "Officer Later Revoked" })
        #expect(finding.status == .revoked)
        #expect(finding.detail.contains("IT Act s.73"))
        #expect(verdict.warnings.contains { $0.contains("revoked") })

        // The same certificate revoked before the time-stamp: TOTAL-FAILED REVOKED.
        try pki.publishCRL(issuer: root, revoked: [(signer, stamped.addingTimeInterval(-3600), "key_compromise")])
        let before = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: judged)
        #expect(before.indication == .totalFailed)
        #expect(before.subIndication == .revoked)
    }

    @Test("revoked as superseded after the claimed signing time: TOTAL-PASSED with the revocation noted")
    func supersededAfterClaimedTime() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let signer = try pki.issue(
            "Officer Superseded", by: root,
            extensions: [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation",
            ])
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: signedAt)
        Thread.sleep(forTimeInterval: 2)  // the CRL is issued after the revocation it lists
        try pki.publishCRL(issuer: root, revoked: [(signer, signedAt.addingTimeInterval(2), "superseded")])
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .totalPassed, "\(verdict.summary)")
        #expect(verdict.revocation.first { $0.certificate == "Officer Superseded" }?.status == .revoked)
        #expect(verdict.warnings.contains { $0.contains("revoked") }, "the revocation is noted")
    }

    @Test("the OCSP responder unreachable and no CRL: INDETERMINATE TRY_LATER, never passed")
    func ocspUnreachable() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let signer = try pki.issue(
            "Officer Unreachable", by: root,
            extensions: [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation",
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/",
            ], crl: false)
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: signedAt)
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .tryLater)
        #expect(verdict.summary.contains("OCSP responder"))
    }

    @Test("a CRL whose signature does not verify is not used: INDETERMINATE TRY_LATER")
    func forgedCRL() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let impostor = try pki.root("Impostor")
        let signer = try pki.issue(
            "Officer Forged CRL", by: root,
            extensions: [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation",
            ])
        try pki.publishCRL(issuer: root, signedBy: impostor)
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: signedAt)
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .tryLater)
        #expect(verdict.summary.contains("signature does not verify"))
    }

    @Test("offline: the cache filled by an online run is enough; an empty cache is TRY_LATER")
    func offlineCache() throws {
        let cache = try TemporaryFolder("signservice-cache")
        let signature = try Fixture.sign(as: "officer-ec")
        #expect(try verify(signature, verifier: try Fixture.verifier(online: true, cache: cache.url.path)).indication == .totalPassed)
        let offline = try verify(signature, verifier: try Fixture.verifier(online: false, cache: cache.url.path))
        #expect(offline.indication == .totalPassed, "\(offline.summary)")
        #expect(!offline.revocation.isEmpty && offline.revocation.allSatisfy { $0.source?.contains("cached") == true })
        let empty = try verify(signature, verifier: try Fixture.verifier(online: false))
        #expect(empty.subIndication == .tryLater)
    }

    // MARK: Paths

    @Test("a root not in the trust store: INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND")
    func unknownRoot() throws {
        let pki = try TestPKI()
        let root = try pki.root("Unknown Root")
        let signer = try pki.issue("Officer Unknown Root", by: root, extensions: ["keyUsage=critical,nonRepudiation"])
        let signedAt = signer.certificate.notBefore
        let verdict = try verify(try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: signedAt), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .noCertificateChainFound)
    }

    @Test("a missing intermediate: NO_CERTIFICATE_CHAIN_FOUND offline; fetched through authorityInfoAccess online")
    func missingIntermediate() throws {
        let signature = try Fixture.sign(as: "officer-rsa", chain: false)
        let offline = try verify(signature, verifier: try Fixture.verifier(online: false))
        #expect(offline.indication == .indeterminate)
        #expect(offline.subIndication == .noCertificateChainFound)
        let online = try verify(signature, verifier: try Fixture.verifier(online: true))
        #expect(online.indication == .totalPassed, "\(online.summary)")
        #expect(online.chain.count == 4)
    }

    @Test(
        "keyUsage without signing bits: INDETERMINATE CHAIN_CONSTRAINTS_FAILURE",
        arguments: [("officer-wrong-usage", "key agreement only (keyUsage keyAgreement)"), ("officer-encryption", "encryption")])
    func wrongKeyUsage(signer: String, words: String) throws {
        let verdict = try verify(try Fixture.sign(as: signer))
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .chainConstraintsFailure)
        #expect(verdict.summary.contains(words), "\(verdict.summary)")
    }

    @Test("keyUsage with neither signing nor encryption bits: INDETERMINATE CHAIN_CONSTRAINTS_FAILURE, said so")
    func neitherKeyUsage() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let signer = try pki.issue("Officer CRL Signer", by: root, extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,cRLSign"])
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: signedAt)
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .chainConstraintsFailure)
        #expect(verdict.summary.contains("allows neither digitalSignature nor nonRepudiation"), "\(verdict.summary)")
    }

    @Test("pathLen exceeded: INDETERMINATE CHAIN_CONSTRAINTS_FAILURE")
    func pathLength() throws {
        let pki = try TestPKI()
        let root = try pki.root("Root")
        let first = try pki.issue(
            "CA pathlen 0", by: root, extensions: ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign"])
        let second = try pki.issue("CA below it", by: first, extensions: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"])
        let signer = try pki.issue("Officer Too Deep", by: second, extensions: ["keyUsage=critical,nonRepudiation"])
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [second.certificate, first.certificate], time: signedAt)
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .chainConstraintsFailure)
        #expect(verdict.summary.contains("path length"))
    }

    @Test("an issuer that is not a CA (basicConstraints cA false): INDETERMINATE CHAIN_CONSTRAINTS_FAILURE")
    func notACA() throws {
        let pki = try TestPKI()
        let root = try pki.root("Root")
        let fake = try pki.issue("Not a CA", by: root, extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,keyCertSign,digitalSignature"])
        let signer = try pki.issue("Officer Under A Non CA", by: fake, extensions: ["keyUsage=critical,nonRepudiation"])
        let signedAt = signer.certificate.notBefore
        let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [fake.certificate], time: signedAt)
        let verdict = try verify(signature, verifier: try Fixture.verifier(extraAnchors: [root.certificate]), at: signedAt)
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .chainConstraintsFailure)
    }

    // MARK: Time-stamps

    @Test("a time-stamp over another signature: INDETERMINATE SIG_CONSTRAINTS_FAILURE, the time not taken as proven")
    func mismatchedTimeStamp() throws {
        let first = try CMSSurgery(try Fixture.sign(as: "officer-rsa", timeStamp: true))
        var second = try CMSSurgery(try Fixture.sign(as: "officer-rsa", Array("another extract".utf8), timeStamp: true))
        second.unsignedAttributes = first.unsignedAttributes
        let verdict = try verify(second.bytes, content: Array("another extract".utf8))
        #expect(verdict.indication == .indeterminate)
        #expect(verdict.subIndication == .sigConstraintsFailure)
        #expect(verdict.summary.contains("imprint"))
        #expect(verdict.signingTime?.source == .claimed)
    }

    // MARK: Malformed input

    @Test("1,000 mutated signatures: each is an input error with a one-line reason or a verdict; none with a changed signed byte passes")
    func mutations() throws {
        let original = try Fixture.sign(as: "officer-rsa")
        let verifier = try Fixture.verifier(online: false)
        let signedRange = try Self.signedBytesRange(original)
        var generator = SystemRandomNumberGenerator()
        var inputErrors = 0, verdicts = 0
        for round in 0..<1_000 {
            var mutated = original
            var touchesSignedBytes = false
            switch round % 5 {
            case 0:  // truncation
                mutated = Array(original.prefix(Int.random(in: 0..<original.count, using: &generator)))
            case 1:  // one byte flipped in what the signature covers
                let index = Int.random(in: signedRange, using: &generator)
                mutated[index] ^= UInt8.random(in: 1...255, using: &generator)
                touchesSignedBytes = true
            case 2:  // a byte anywhere
                let index = Int.random(in: 0..<original.count, using: &generator)
                mutated[index] ^= UInt8.random(in: 1...255, using: &generator)
            case 3:  // garbage inserted
                let index = Int.random(in: 0..<original.count, using: &generator)
                mutated.insert(contentsOf: (0..<Int.random(in: 1...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: index)
            default:  // random bytes, or a huge length
                if round % 10 == 4 {
                    mutated = (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                } else {
                    mutated.replaceSubrange(1..<4, with: [0x84, 0x7F, 0xFF, 0xFF, 0xFF])
                }
            }
            do {
                let verdict = try verifier.verify(signature: mutated, content: .bytes(Fixture.content), at: TestTime.now)
                verdicts += 1
                if touchesSignedBytes { #expect(verdict.indication != .totalPassed, "round \(round) passed with a changed signed byte") }
            } catch {
                inputErrors += 1
                #expect(!error.description.isEmpty && !error.description.contains("\n"), "round \(round): \(error.description)")
            }
        }
        #expect(inputErrors + verdicts == 1_000)
        #expect(inputErrors > 300)
    }

    /// The byte range of the first SignerInfo's signed attributes and signature value in `p7s`.
    static func signedBytesRange(_ p7s: [UInt8]) throws -> ClosedRange<Int> {
        let surgery = try CMSSurgery(p7s)
        let attributes = surgery.signerInfo.children[3].encoded
        let signature = surgery.signerInfo.children[5].encoded
        let start = try #require(p7s.firstRange(of: attributes)).lowerBound
        let end = try #require(p7s.firstRange(of: signature)).upperBound - 1
        return start...end
    }
}

@Suite("India's real PKI")
struct IndiaPKITests {
    static let fixtures = Rig.root.appendingPathComponent("Tests/Fixtures/india-pki")

    @Test("the shipped CCA India 2022 root loads as a trust store with the fingerprint CCA publishes")
    func ccaRoot() throws {
        let store = try TrustStore.load(directory: Rig.root.appendingPathComponent("trust/india").path)
        #expect(store.anchors.count == 1)
        #expect(
            Hex.encode(store.anchors[0].sha256Fingerprint, separator: ":", uppercase: true)
                == "9A:3F:D3:17:67:98:E8:42:DD:CB:12:C2:62:F1:1C:FA:CC:A7:0A:8B:84:C6:EA:6F:DA:30:84:2A:95:A9:4C:D8")
    }

    @Test("Capricorn's individual-DSC sub-CA builds a path to CCA India 2022; with the test root only, it does not")
    func capricornPath() throws {
        let subCA = try CertificateFolder.load(file: Self.fixtures.appendingPathComponent("capricorn-sub-ca-for-individual-dsc-2022.pem").path)[0]
        let licensed = try CertificateFolder.load(file: Self.fixtures.appendingPathComponent("capricorn-ca-2022.pem").path)
        let other = try CertificateFolder.load(file: Self.fixtures.appendingPathComponent("safescrypt-ca-2022.pem").path)
        let india = Verifier(
            trust: try TrustStore.load(directory: Rig.root.appendingPathComponent("trust/india").path),
            revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        var problems = [String]()
        // The path alone (no CRLs), at a time all three certificates are valid.
        let policy = VerificationPolicy(revocation: .off), time = subCA.notBefore.addingTimeInterval(86_400)
        let path = india.validatePath(
            leaf: subCA, untrusted: other + licensed, crls: [], at: time, validationTime: time, policy: policy,
            problems: &problems)
        #expect(path.failure == nil, "\(path.failure?.reason ?? "")")
        #expect(path.chain.map { $0.subject.commonName ?? "" } == ["Capricorn Sub CA for Individual DSC 2022", "Capricorn CA 2022", "CCA India 2022"])
        let test = Verifier(
            trust: try TrustStore(anchors: [try Fixture.testRoot]),
            revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil)))
        let failure = try #require(
            test.validatePath(
                leaf: subCA, untrusted: licensed, crls: [], at: time, validationTime: time, policy: policy,
                problems: &problems
            ).failure, "a path to the test root was built")
        #expect(failure.subIndication == .noCertificateChainFound)
    }
}

@Suite("DER time reading")
struct DERTimeTests {
    @Test("the calendar arithmetic agrees with timegm over 10,000 random times from 1950 to 2100")
    func civil() {
        for _ in 0..<10_000 {
            var parts = tm()
            parts.tm_year = Int32.random(in: 50...200)
            parts.tm_mon = Int32.random(in: 0...11)
            parts.tm_mday = Int32.random(in: 1...28)
            parts.tm_hour = Int32.random(in: 0...23)
            parts.tm_min = Int32.random(in: 0...59)
            parts.tm_sec = Int32.random(in: 0...59)
            var copy = parts
            #expect(CivilTime.secondsSinceEpoch(parts) == Int(timegm(&copy)))
        }
    }

    @Test("UTCTime and GeneralizedTime read; malformed ones do not")
    func forms() throws {
        func read(_ tag: UInt8, _ text: String) throws -> Date? {
            var scanner = DERScanner([tag, UInt8(text.utf8.count)] + Array(text.utf8), what: "time")
            return DERTime.date(try #require(try scanner.next()))
        }
        #expect(try read(0x17, "260310101200Z") == ISO8601DateFormatter().date(from: "2026-03-10T10:12:00Z"))
        #expect(try read(0x17, "491231235959Z") == ISO8601DateFormatter().date(from: "2049-12-31T23:59:59Z"))
        #expect(try read(0x17, "500101000000Z") == ISO8601DateFormatter().date(from: "1950-01-01T00:00:00Z"))
        #expect(
            try read(0x18, "20261123071352.5Z")?.timeIntervalSince1970 == ISO8601DateFormatter().date(from: "2026-11-23T07:13:52Z")!.timeIntervalSince1970 + 0.5
        )
        for bad in ["2611230713Z", "261323071352Z", "26112307135xZ", "261123071352"] {
            #expect(try read(0x17, bad) == nil, "\(bad)")
        }
    }
}

extension DERTimeTests {
    @Test("PEM with CRLF lines decodes as with LF; a block without its END line gives nothing; a bad body is an error")
    func pemLineEndings() throws {
        let der = try Fixture.sign(as: "officer-ec")
        let unix = PEM.encode(der, label: "CMS")
        #expect(PEM.decode(unix) == [der])
        #expect(PEM.decode(unix.replacingOccurrences(of: "\n", with: "\r\n")) == [der])
        #expect(PEM.decode(unix, label: "CERTIFICATE") == [])
        #expect(PEM.decode(String(unix.prefix(unix.count - 20))) == [])
        #expect(PEM.decode(unix.replacingOccurrences(of: "-----\n", with: "-----\n*")) == nil)
    }

    @Test("UTCTimeText.parse reads what format writes, and nothing else")
    func textRoundTrip() {
        for _ in 0..<1_000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: -600_000_000...4_000_000_000)))
            #expect(UTCTimeText.parse(UTCTimeText.format(date)) == date)
        }
        for bad in ["2026-11-23T07:01:49", "2026-13-23T07:01:49Z", "2026-11-23 07:01:49Z", "2026-11-23T07:01:4xZ", ""] {
            #expect(UTCTimeText.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite("The hand-written JSON of a verification report")
struct JSONWriterTests {
    init() throws { try Rig.require() }

    /// Byte for byte what JSONEncoder writes, for verdicts that fill every kind of field: passed with a time-stamp
    /// and a bound history entry, failed, indeterminate without a chain.
    @Test("compactJSON is the JSONEncoder's bytes for passed, failed and indeterminate verdicts")
    func sameBytes() throws {
        let verifier = try Fixture.verifier()
        let parameters = SignatureParameters(
            context: EOfficeContext(
                fileNumber: "DIT-12/3/2026-IT", noteID: "N-\"7\"\n/ünïcode\u{1}", previousEntryHash: Array(repeating: 0xAB, count: 32),
                origin: "https://eoffice.test"),
            commitment: .proofOfApproval, signingTime: TestTime.now, chain: try Fixture.individualChain, timeStampAuthority: try Fixture.tsa)
        let key = try Fixture.key("officer-rsa")
        let stamped = try CAdES.signDetached(
            contentDigest: SHA256Hasher.hash(Fixture.content), certificate: try Fixture.certificate("officer-rsa"),
            parameters: parameters
        ) { try key.sign($0) }
        var changed = Fixture.content
        changed[0] ^= 1
        let judged = try TestTime.timeStamp(of: stamped).addingTimeInterval(60)  // a minute after the rig's TSA stamped it
        let verdicts = [
            try verifier.verify(signature: stamped, content: .bytes(Fixture.content), at: judged),
            try verifier.verify(signature: stamped, content: .bytes(changed), at: judged),
            try verifier.verify(signature: try Fixture.sign(as: "officer-revoked"), content: .bytes(Fixture.content), at: TestTime.now),
            try Fixture.verifier(online: false).verify(
                signature: try Fixture.sign(as: "officer-ec", chain: false), content: .bytes(Fixture.content), at: TestTime.now),
        ]
        #expect(verdicts.map(\.indication) == [.totalPassed, .totalFailed, .totalFailed, .indeterminate], "\(verdicts.map(\.summary))")
        #expect(verdicts[0].timeStamp != nil && verdicts[0].context?.previousEntryHash != nil && !verdicts[2].revocation.isEmpty)
        for verdict in verdicts {
            for report in [
                VerificationReport(signatureFile: nil, contentFile: nil, trustFolder: nil, offline: false, verdict: verdict),
                VerificationReport(signatureFile: "a/b.p7s", contentFile: "c\\d.txt", trustFolder: "/trust", offline: true, verdict: verdict),
            ] {
                let expected = Array(try JSONOutput.encoder(pretty: false).encode(report))
                #expect(report.compactJSON == expected, "\(String(decoding: report.compactJSON, as: UTF8.self))\n\(String(decoding: expected, as: UTF8.self))")
            }
        }
        // The hash is hex in JSON and reads back.
        let decoded = try VerificationReport.decode(
            VerificationReport(signatureFile: nil, contentFile: nil, trustFolder: nil, offline: false, verdict: verdicts[0]).compactJSON)
        #expect(decoded.verdict.context?.previousEntryHash == Array(repeating: 0xAB, count: 32))
    }
}
