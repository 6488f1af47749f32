import Foundation
import Testing
import TestSupport
@testable import SignKit

/// Issue 19's validation policy as values: revocation require / soft / off, the RFC 5280 6.1.1 policy inputs, the
/// material given beside a signature, every SignerInfo, OCSP judged at the validation time, and the path cache's
/// time classes.
@Suite("Validation policy: revocation modes, certificate policies, adjunct material, several signers")
struct ValidationPolicyTests {
    init() throws { try Rig.require() }

    static var openssl: String { Command.which("openssl") ?? "/usr/bin/openssl" }

    /// TestCerts' committed CRLs (issued 2026-07-01, next update 2049), as DER.
    static func testCRLs() throws -> [[UInt8]] {
        try ["sub-ca-individual", "licensed-ca", "root"].flatMap { name in
            try AdjunctMaterial.loadCRLs(file: Fixture.folder.appendingPathComponent("crl/\(name).crl.pem").path)
        }
    }

    @Test(
        "revocation require, soft and off: a certificate naming no source is TRY_LATER, passes with a warning, is not checked; one naming a CRL is still checked in soft"
    )
    func revocationModes() throws {
        let pki = try TestPKI()
        let root = try pki.root("Throwaway Root")
        let usage = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,nonRepudiation"]
        let silent = try pki.issue("Officer Without Source", by: root, extensions: usage, crl: false)
        let named = try pki.issue("Officer With Unpublished CRL", by: root, extensions: usage)  // its CRL is never published
        func verdict(_ signer: TestPKI.Issued, _ mode: RevocationMode) throws -> Verdict {
            let at = signer.certificate.notBefore
            let signature = try Fixture.sign(certificate: signer.certificate, key: try signer.key, chain: [], time: at)
            return try Fixture.verifier(extraAnchors: [root.certificate])
                .verify(signature: signature, content: .bytes(Fixture.content), policy: VerificationPolicy(revocation: mode), at: at)
        }
        let required = try verdict(silent, .require)
        #expect(required.subIndication == .tryLater, "\(required.summary)")
        #expect(required.summary.contains("names no OCSP responder and no CRL distribution point"), "\(required.summary)")

        let soft = try verdict(silent, .soft)
        #expect(soft.indication == .totalPassed, "\(soft.summary)")
        #expect(soft.warnings.contains { $0.contains("was not checked") && $0.contains("revocation soft") }, "\(soft.warnings)")
        #expect(soft.validationPolicy?.revocation == .soft)

        let softNamed = try verdict(named, .soft)
        #expect(softNamed.subIndication == .tryLater, "a certificate that names a CRL is still checked: \(softNamed.summary)")

        let off = try verdict(named, .off)
        #expect(off.indication == .totalPassed, "\(off.summary)")
        #expect(off.revocation.isEmpty && off.validationPolicy?.revocation == .off)
        #expect(off.checks.contains { $0.name == "revocation" && $0.detail.contains("not checked") })
        #expect(off.warnings.contains { $0.contains("revocation was not checked") })
    }

    @Test("the initial policy set and explicit policy: the report names the policies that held; a policy the path lacks fails only when explicit")
    func certificatePolicies() throws {
        let signature = try Fixture.sign(as: "officer-rsa")
        let verifier = try Fixture.verifier()
        func verdict(_ policy: VerificationPolicy) throws -> Verdict {
            try verifier.verify(signature: signature, content: .bytes(Fixture.content), policy: policy, at: TestTime.now)
        }
        let any = try verdict(VerificationPolicy())
        #expect(any.indication == .totalPassed, "\(any.summary)")
        #expect(any.validationPolicy?.initialPolicySet == [VerificationPolicy.anyPolicy])
        #expect(any.validationPolicy?.policiesHeld?.contains("2.16.356.100.2.3") == true, "\(String(describing: any.validationPolicy))")

        let class3 = try verdict(VerificationPolicy(initialPolicySet: ["2.16.356.100.2.3"], explicitPolicy: true))
        #expect(class3.indication == .totalPassed, "\(class3.summary)")
        #expect(class3.validationPolicy?.policiesHeld == ["2.16.356.100.2.3"])

        let eSign = VerificationPolicy(initialPolicySet: ["2.16.356.100.2.4.1"])
        let notRequired = try verdict(eSign)
        #expect(notRequired.indication == .totalPassed, "\(notRequired.summary)")
        #expect(notRequired.validationPolicy?.policiesHeld == [])

        var explicit = eSign
        explicit.explicitPolicy = true
        let required = try verdict(explicit)
        #expect(required.indication == .indeterminate && required.subIndication == .chainConstraintsFailure)
        #expect(required.summary.contains("certificate policies"), "\(required.summary)")

        #expect(throws: VerificationInputError.self) {
            try verdict(VerificationPolicy(initialPolicySet: ["class-3"]))
        }
    }

    @Test("adjunct certificates and CRLs: a signature without its chain verifies offline with them, its status from the CRLs given")
    func adjunctMaterial() throws {
        let verifier = try Fixture.verifier(online: false)
        let bare = try Fixture.sign(as: "officer-ec", chain: false)
        #expect(try verifier.verify(signature: bare, content: .bytes(Fixture.content), at: TestTime.now).subIndication == .noCertificateChainFound)

        let given = AdjunctMaterial(certificates: try Fixture.individualChain, revocationData: try Self.testCRLs())
        let verdict = try verifier.verify(signature: bare, content: .bytes(Fixture.content), at: TestTime.now, adjunct: given)
        #expect(verdict.indication == .totalPassed, "\(verdict.summary)")
        #expect(verdict.chain.count == 4)
        #expect(verdict.revocation.count == 3, "\(verdict.revocation)")
        #expect(verdict.revocation.allSatisfy { $0.status == .good && $0.source == "CRL given beside the signature" }, "\(verdict.revocation)")

        // The sub-CA's CRL lists officer-revoked (key compromise on 2026-06-15): the entry OpenSSL found is reported.
        let revoked = try verifier.verify(
            signature: try Fixture.sign(as: "officer-revoked", chain: false), content: .bytes(Fixture.content),
            at: TestTime.now, adjunct: given)
        #expect(revoked.indication == .totalFailed && revoked.subIndication == .revoked, "\(revoked.summary)")
        let finding = try #require(revoked.revocation.first { $0.certificate == "Suresh Meitei" })
        #expect(finding.revokedAt == TestTime.date("2026-06-15T10:30:00Z") && finding.reason == "keyCompromise")
    }

    @Test("every SignerInfo is judged: two officers pass together; an expired second signer makes the whole TOTAL-FAILED, named")
    func severalSigners() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("extract.txt", Fixture.content)
        func signed(_ names: [String]) throws -> [UInt8] {
            let output = scratch.path(names.joined(separator: "+") + ".p7s")
            var arguments = [
                "cms", "-sign", "-binary", "-in", content.path, "-outform", "DER", "-md", "sha256", "-out", output,
                "-certfile", Fixture.folder.appendingPathComponent("ca/chain-individual.pem").path,
            ]
            for name in names {
                arguments += [
                    "-signer", Fixture.folder.appendingPathComponent("certs/\(name).crt").path,
                    "-inkey", Fixture.folder.appendingPathComponent("keys/\(name).key").path,
                ]
            }
            let made = try Command.run(Self.openssl, arguments)
            try #require(made.status == 0, "\(made.stderr)")
            return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
        }
        let verifier = try Fixture.verifier()
        let both = try signed(["officer-rsa", "officer-ec"])
        let passed = try verifier.verify(signature: both, content: .bytes(Fixture.content), at: try TestTime.judging(both))
        #expect(passed.indication == .totalPassed, "\(passed.summary)")
        // A SignedData's signerInfos are a DER SET OF: sorted by their encoding, not in the order they were added.
        #expect(Set(passed.signatures?.compactMap { $0.signer?.name } ?? []) == ["Anita Sharma", "Rajesh Kumar Singh"])
        #expect(passed.signatures?.allSatisfy(\.passed) == true)

        let withExpired = try signed(["officer-rsa", "officer-expired"])
        let failed = try verifier.verify(signature: withExpired, content: .bytes(Fixture.content), at: try TestTime.judging(withExpired))
        #expect(failed.indication == .totalFailed && failed.subIndication == .expired, "\(failed.summary)")
        let signatures = try #require(failed.signatures)
        #expect(signatures.count == 2 && signatures.filter(\.passed).map { $0.signer?.name } == ["Anita Sharma"])
        let expiredIndex = try #require(signatures.firstIndex { !$0.passed })
        #expect(signatures[expiredIndex].subIndication == .expired)
        if expiredIndex == 1 {  // the verdict describes the first SignerInfo and names the one that failed
            #expect(failed.summary.hasPrefix("Signature 2 of 2 ("), "\(failed.summary)")
            #expect(failed.signer?.name == "Anita Sharma")
        } else {
            #expect(failed.summary == signatures[0].summary)
        }
    }

    /// A PKI of 2020 made under faketime: an OCSP responder certificate valid for January 2020 only, and its answer.
    @Test("an OCSP responder's certificate is judged at the validation time: in January 2020 its answer counts, in February it does not")
    func ocspAtValidationTime() throws {
        let faketime = try #require(Command.which("faketime"), "faketime is needed (scripts/setup.sh installs it)")
        let folder = try TemporaryFolder("signservice-ocsp-2020")
        func run(_ at: String, _ arguments: [String]) throws {
            let result = try Command.run(faketime, [at, Self.openssl] + arguments)
            try #require(result.status == 0, "openssl \(arguments.prefix(2).joined(separator: " ")): \(result.stderr)")
        }
        func issue(_ name: String, days: Int, serial: String, _ extensions: [String]) throws {
            let extfile = try folder.file(
                "\(name).ext",
                Array(
                    (extensions + ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"])
                        .joined(separator: "\n").utf8)
            ).path
            try run(
                "2020-01-01 00:00:00",
                [
                    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", folder.path("\(name).key"), "-out", folder.path("\(name).csr"), "-subj", "/CN=\(name)",
                ])
            try run(
                "2020-01-01 00:00:00",
                [
                    "x509", "-req", "-in", folder.path("\(name).csr"), "-CA", folder.path("root.crt"),
                    "-CAkey", folder.path("root.key"), "-set_serial", serial, "-days", String(days), "-sha256",
                    "-extfile", extfile, "-out", folder.path("\(name).crt"),
                ])
        }
        try run(
            "2020-01-01 00:00:00",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                "-keyout", folder.path("root.key"), "-out", folder.path("root.crt"), "-subj", "/CN=OCSP 2020 Root",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try issue(
            "Responder 2020", days: 30, serial: "0x1001",
            [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
                "extendedKeyUsage=OCSPSigning",
            ])
        try issue(
            "Officer 2020", days: 365, serial: "0x1002",
            [
                "basicConstraints=critical,CA:FALSE", "keyUsage=critical,nonRepudiation",
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/",
            ])
        _ = try folder.file("index.txt", Array("V\t301231000000Z\t\t1002\tunknown\t/CN=Officer 2020\n".utf8))
        try run(
            "2020-01-05 00:00:00",
            [
                "ocsp", "-issuer", folder.path("root.crt"), "-cert", folder.path("Officer 2020.crt"), "-no_nonce",
                "-reqout", folder.path("request.der"),
            ])
        try run(
            "2020-01-05 00:00:00",
            [
                "ocsp", "-index", folder.path("index.txt"), "-CA", folder.path("root.crt"),
                "-rsigner", folder.path("Responder 2020.crt"), "-rkey", folder.path("Responder 2020.key"),
                "-reqin", folder.path("request.der"), "-respout", folder.path("response.der"), "-ndays", "60",
            ])

        let root = try CertificateFolder.load(file: folder.path("root.crt"))[0]
        let officer = try CertificateFolder.load(file: folder.path("Officer 2020.crt"))[0]
        let signature = try Fixture.sign(
            certificate: officer, key: try SoftwareKey(pemFile: folder.path("Officer 2020.key")), chain: [],
            time: TestTime.date("2020-01-10T10:00:00Z"))
        let response = Array(try Data(contentsOf: URL(fileURLWithPath: folder.path("response.der"))))
        func verdict(at: String) throws -> Verdict {
            try Verifier(
                trust: try TrustStore(anchors: [root]),
                revocation: RevocationChecker(options: RevocationOptions(online: false, cacheDirectory: nil))
            )
            .verify(
                signature: signature, content: .bytes(Fixture.content), at: TestTime.date(at),
                adjunct: AdjunctMaterial(revocationData: [response]))
        }
        let january = try verdict(at: "2020-01-20T00:00:00Z")
        #expect(january.indication == .totalPassed, "\(january.summary)")
        #expect(january.revocation.first?.source?.hasPrefix("OCSP response") == true, "\(january.revocation)")
        let february = try verdict(at: "2020-02-20T00:00:00Z")  // the answer is current, its responder's certificate is not
        #expect(february.subIndication == .tryLater, "\(february.summary)")
        #expect(february.summary.contains("certificate has expired"), "\(february.summary)")
    }

    @Test("path results are shared by signing times in one class, not across a certificate's or a CRL's date")
    func pathKeyTimeClasses() throws {
        let leaf = try Fixture.certificate("officer-rsa")
        let chain = try Fixture.individualChain
        let crl = try CertificateRevocationList(der: try Self.testCRLs()[0])
        func key(_ time: Date, validation: Date = TestTime.now) -> PathKey {
            PathKey(
                leaf: leaf, untrusted: chain, crls: [crl], anchors: [try! Fixture.testRoot], settings: X509StoreContext.Settings(), at: time,
                validationTime: validation)
        }
        #expect(key(TestTime.now) == key(TestTime.now.addingTimeInterval(3600)))
        #expect(key(crl.thisUpdate.addingTimeInterval(-1)) != key(crl.thisUpdate.addingTimeInterval(1)))
        #expect(key(crl.thisUpdate) != key(crl.thisUpdate.addingTimeInterval(1)))
        #expect(key(leaf.notBefore.addingTimeInterval(-1)) != key(leaf.notBefore))
        #expect(key(TestTime.now, validation: crl.thisUpdate.addingTimeInterval(-400)) != key(TestTime.now))
        var policy = X509StoreContext.Settings()
        policy.explicitPolicy = true
        #expect(
            PathKey(leaf: leaf, untrusted: chain, crls: [crl], anchors: [], settings: policy, at: TestTime.now, validationTime: TestTime.now)
                != PathKey(
                    leaf: leaf, untrusted: chain, crls: [crl], anchors: [], settings: X509StoreContext.Settings(), at: TestTime.now,
                    validationTime: TestTime.now))
    }
}
