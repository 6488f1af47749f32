import Foundation
import Testing
import TestSupport
@testable import SignKit

/// `signctl sign` against the token rig, checked by independent verifiers: `openssl cms -verify` and GnuTLS
/// `certtool --p7-verify`, with the test PKI's root as the only trust anchor.
@Suite("signctl sign (CAdES)")
struct SigningTests {
    static let root = Rig.root.appendingPathComponent("TestCerts/ca/root.crt").path
    static let chain = Rig.root.appendingPathComponent("TestCerts/ca/chain-individual.pem").path

    static func sign(_ key: String, pinFile: String, extract: URL, output: String, extra: [String] = []) throws -> Command.Result {
        try SignctlTests.run(
            [
                "sign", extract.path, "--key", key, "--file-number", "DIT-12/3/2026-IT", "--note-id", "N-7",
                "--chain", chain, "--pin-fd", "0", "-o", output,
            ] + extra,
            stdin: try SignctlTests.pinLine(pinFile))
    }

    static func opensslVerifies(_ signature: String, content: String) throws -> Bool {
        let result = try Command.run(
            Command.which("openssl") ?? "/usr/bin/openssl",
            [
                "cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", content,
                "-CAfile", root, "-out", "/dev/null",
            ])
        return result.status == 0 && result.stderr.contains("Verification successful")
    }

    static func certtoolVerifies(_ signature: String, content: String) throws -> Bool {
        let result = try Command.run(
            Command.which("certtool") ?? "/usr/bin/certtool",
            [
                "--p7-verify", "--load-ca-certificate", root, "--load-data", content,
                "--infile", signature, "--inder",
            ])
        return result.status == 0 && result.stderr.contains("Signature status: ok")  // certtool reports on stderr
    }

    @Test(
        "RSA and EC, SoftHSM2 and the card: openssl cms and certtool accept; one changed byte fails both",
        arguments: [
            ("pkcs11:token=SignService%20Test;id=%01", "softhsm.pin"), ("pkcs11:token=SignService%20Test;id=%02", "softhsm.pin"),
            ("pkcs11:token=Anita%20Sharma;id=%01", "card.pin"), ("pkcs11:token=Anita%20Sharma;id=%02", "card.pin"),
        ])
    func independentVerifiers(key: String, pinFile: String) async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            var bytes = Array("Extract of note N-7, file DIT-12/3/2026-IT\nProposal: approve the purchase.\n".utf8)
            let extract = try scratch.file("extract.txt", bytes)
            let signature = scratch.path("extract.p7s")
            let result = try Self.sign(key, pinFile: pinFile, extract: extract, output: signature)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.opensslVerifies(signature, content: extract.path))
            #expect(try Self.certtoolVerifies(signature, content: extract.path))

            bytes[10] ^= 0x01
            let changed = try scratch.file("changed.txt", bytes)
            #expect(try !Self.opensslVerifies(signature, content: changed.path))
            #expect(try !Self.certtoolVerifies(signature, content: changed.path))
        }
    }

    @Test("every signed attribute is there with the right value")
    func signedAttributes() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let content = Array("Approved. Kh. Ratan Kumar, Minister (IT)\n".utf8)
            let extract = try scratch.file("approval.txt", content)
            let output = scratch.path("approval.p7s")
            let previous = [UInt8](repeating: 0xAB, count: 32)
            let before = Date().addingTimeInterval(-2)
            let result = try Self.sign(
                "pkcs11:token=SignService%20Test;id=%07", pinFile: "softhsm.pin", extract: extract,
                output: output,
                extra: [
                    "--approval", "--previous-hash", Hex.encode(previous),
                    "--origin", "https://eoffice.manipur.gov.in",
                ])
            #expect(result.status == 0, "\(result.stderr)")
            let cms = try CMSSignedData(der: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
            #expect(cms.isDetached)
            #expect(cms.signerCount == 1)
            let minister = try X509Certificate(der: Array(try Data(contentsOf: Rig.root.appendingPathComponent("TestCerts/certs/minister.der"))))
            #expect(cms.certificates.contains { $0.der == minister.der })
            #expect(cms.certificates.count == 3, "signer + sub-CA + licensed CA")

            let attributes = try cms.signedAttributes()
            func value(_ oid: String) throws -> [UInt8] {
                let found = attributes.filter { $0.oid == oid }
                try #require(found.count == 1, "\(oid) present once")
                try #require(found[0].values.count == 1, "\(oid) has one value")
                return found[0].values[0]
            }
            #expect(try value(AttributeOID.contentType) == (try DER.objectIdentifier("1.2.840.113549.1.7.1")))
            #expect(try value(AttributeOID.messageDigest) == DER.tlv(0x04, SHA256Hasher.hash(content)))

            var time = DERScanner(try value(AttributeOID.signingTime), what: "signingTime")
            let utc = try time.expect(0x17, "signingTime UTCTime").content
            let formatter = DateFormatter()
            formatter.dateFormat = "yyMMddHHmmss'Z'"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let signed = try #require(formatter.date(from: String(decoding: utc, as: UTF8.self)))
            #expect(signed >= before && signed <= Date().addingTimeInterval(2))

            // ESSCertIDv2 with the default hash (SHA-256) of the signer's certificate.
            let essCert = try value(AttributeOID.signingCertificateV2)
            #expect(Hex.encode(essCert).contains(Hex.encode(DER.tlv(0x04, minister.sha256Fingerprint))))

            // CMSAlgorithmProtection: sha256, and [1] sha256WithRSA's or rsaEncryption's identifier.
            var protection = DERScanner(try value(AttributeOID.cmsAlgorithmProtection), what: "CMSAlgorithmProtection")
            var inner = try protection.expect(0x30, "CMSAlgorithmProtection").children("CMSAlgorithmProtection")
            let digestAlgorithm = Array(try inner.expect(0x30, "digestAlgorithm").content)
            #expect(Array(digestAlgorithm.prefix(11)) == (try DER.objectIdentifier("2.16.840.1.101.3.4.2.1")))
            let signatureAlgorithm = Array(try inner.expect(0xA1, "signatureAlgorithm").content)
            #expect(Array(signatureAlgorithm.prefix(11)) == (try DER.objectIdentifier("1.2.840.113549.1.1.1")))

            var commitment = DERScanner(try value(AttributeOID.commitmentTypeIndication), what: "CommitmentTypeIndication")
            let commitmentContent = Array(try commitment.expect(0x30, "CommitmentTypeIndication").content)
            #expect(commitmentContent == (try DER.objectIdentifier(Commitment.proofOfApproval.oid)))

            let context = try #require(EOfficeContext(der: try value(AttributeOID.eOfficeContext)))
            #expect(
                context
                    == EOfficeContext(
                        fileNumber: "DIT-12/3/2026-IT", noteID: "N-7", previousEntryHash: previous,
                        origin: "https://eoffice.manipur.gov.in"))
            #expect(attributes.count == 7, "\(attributes.map(\.oid))")
        }
    }

    @Test("a note without --approval carries proof of origin")
    func proofOfOrigin() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let extract = try scratch.file("note.txt", Array("Note.\n".utf8))
            let output = scratch.path("note.p7s")
            let result = try Self.sign("pkcs11:token=SignService%20Test;id=%01", pinFile: "softhsm.pin", extract: extract, output: output)
            #expect(result.status == 0, "\(result.stderr)")
            let cms = try CMSSignedData(der: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
            let commitment = try #require(try cms.signedAttributes().first { $0.oid == AttributeOID.commitmentTypeIndication })
            #expect(commitment.values == [DER.tlv(0x30, try DER.objectIdentifier(Commitment.proofOfOrigin.oid))])
        }
    }

    @Test("refusals write nothing: missing extract, bad chain, wrong PIN")
    func refusals() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let extract = try scratch.file("note.txt", Array("Note.\n".utf8))
            let output = scratch.path("note.p7s")
            let missing = try SignctlTests.run(
                [
                    "sign", scratch.path("absent.txt"), "--key", "pkcs11:token=SignService%20Test;id=%01",
                    "--file-number", "F", "--note-id", "1", "-o", output, "--pin-fd", "0",
                ], stdin: "x\n")
            #expect(missing.status == 3)
            #expect(missing.stderr.contains("absent.txt"))
            let badChain = try scratch.file("chain.pem", Array("not a certificate".utf8))
            let chain = try SignctlTests.run(
                [
                    "sign", extract.path, "--key", "pkcs11:token=SignService%20Test;id=%01",
                    "--file-number", "F", "--note-id", "1", "--chain", badChain.path, "-o", output,
                    "--pin-fd", "0",
                ], stdin: "x\n")
            #expect(chain.status == 3)
            let wrong = try SignctlTests.run(
                [
                    "sign", extract.path, "--key", "pkcs11:token=SignService%20Test;id=%01",
                    "--file-number", "F", "--note-id", "1", "-o", output, "--pin-fd", "0",
                ], stdin: "Wrong999\n")
            #expect(wrong.status == 4)
            #expect(wrong.stderr.contains("wrong PIN"))
            let badHash = try SignctlTests.run([
                "sign", extract.path, "--key", "pkcs11:token=SignService%20Test;id=%01",
                "--file-number", "F", "--note-id", "1", "--previous-hash", "abcd",
            ])
            #expect(badHash.status == 3)
            #expect(!FileManager.default.fileExists(atPath: output))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.hasPrefix(".tmp-") }
            #expect(leftovers.isEmpty)
        }
    }
}

/// CAdES-T: the rig's TSA (`openssl ts -reply` with the TestCerts TSA key) time-stamps the signature value.
@Suite("signctl sign --tsa (CAdES-T)")
struct TimeStampTests {
    static var tsa: String {
        get throws {
            try Rig.require()
            return try #require(ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_TSA"], "the rig's TSA (scripts/rig.sh up)")
        }
    }

    static func tokenVerifies(token: String, digest: [UInt8]) throws -> Command.Result {
        try Command.run(
            Command.which("openssl") ?? "/usr/bin/openssl",
            [
                "ts", "-verify", "-in", token, "-token_in", "-digest", Hex.encode(digest),
                "-CAfile", SigningTests.root, "-untrusted", Rig.root.appendingPathComponent("TestCerts/ca/licensed-ca.crt").path,
            ])
    }

    @Test(
        "time-stamped signatures: openssl cms, certtool and openssl ts -verify accept; a changed byte fails",
        arguments: [
            ("pkcs11:token=SignService%20Test;id=%01", "softhsm.pin"), ("pkcs11:token=SignService%20Test;id=%02", "softhsm.pin"),
            ("pkcs11:token=Anita%20Sharma;id=%01", "card.pin"), ("pkcs11:token=Anita%20Sharma;id=%02", "card.pin"),
        ])
    func timeStamped(key: String, pinFile: String) async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            var bytes = Array("Extract of note N-9\nApproved for payment.\n".utf8)
            let extract = try scratch.file("extract.txt", bytes)
            let output = scratch.path("extract.p7s")
            let result = try SigningTests.sign(key, pinFile: pinFile, extract: extract, output: output, extra: ["--tsa", try Self.tsa])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try SigningTests.opensslVerifies(output, content: extract.path))
            #expect(try SigningTests.certtoolVerifies(output, content: extract.path))

            let cms = try CMSSignedData(der: Array(try Data(contentsOf: URL(fileURLWithPath: output))))
            let unsigned = try cms.unsignedAttributes()
            #expect(unsigned.map(\.oid) == [AttributeOID.signatureTimeStampToken])
            let token = try #require(unsigned.first?.values.first)
            let tokenFile = try scratch.file("token.der", token)
            let signatureValue = try cms.signatureValue()
            let verified = try Self.tokenVerifies(token: tokenFile.path, digest: SHA256Hasher.hash(signatureValue))
            #expect(verified.status == 0 && verified.stdout.contains("Verification: OK"), "\(verified.stdout) \(verified.stderr)")
            // The token covers this signature value and no other.
            var otherValue = signatureValue
            otherValue[0] ^= 0x01
            let wrong = try Self.tokenVerifies(token: tokenFile.path, digest: SHA256Hasher.hash(otherValue))
            #expect(wrong.status != 0)
            // It is the rig TSA's token, under its policy.
            let text = try Command.run(Command.which("openssl") ?? "/usr/bin/openssl", ["ts", "-reply", "-in", tokenFile.path, "-token_in", "-text"])
            #expect(text.stdout.contains("Policy OID: 2.25.4185439844061794791.2"))

            bytes[3] ^= 0x20
            let changed = try scratch.file("changed.txt", bytes)
            #expect(try !SigningTests.opensslVerifies(output, content: changed.path))
            #expect(try !SigningTests.certtoolVerifies(output, content: changed.path))
        }
    }

    @Test("an unreachable TSA is a clear error and no file is written")
    func unreachableTSA() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let extract = try scratch.file("extract.txt", Array("x".utf8))
            let output = scratch.path("extract.p7s")
            // A loopback port with nothing listening.
            let result = try SigningTests.sign(
                "pkcs11:token=SignService%20Test;id=%01", pinFile: "softhsm.pin", extract: extract,
                output: output, extra: ["--tsa", "http://127.0.0.1:9/", "--tsa-timeout", "3"])
            #expect(result.status == 4)
            #expect(result.stderr.contains("time-stamping authority"))
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    @Test("a TSA that does not speak the protocol is refused")
    func notATimeStamp() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let extract = try scratch.file("extract.txt", Array("x".utf8))
            let output = scratch.path("extract.p7s")
            // TLS to the rig TSA's plain-HTTP port: the exchange fails and nothing is written.
            let result = try SigningTests.sign(
                "pkcs11:token=SignService%20Test;id=%01", pinFile: "softhsm.pin", extract: extract,
                output: output, extra: ["--tsa", "https://127.0.0.1:18792/"])
            #expect(result.status == 4, "\(result.stderr)")
            #expect(result.stderr.contains("time-stamping authority"))
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }
}
