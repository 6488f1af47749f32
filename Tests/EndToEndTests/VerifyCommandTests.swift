import Foundation
import Testing
import TestSupport
@testable import SignKit

/// `signctl verify` as an auditor runs it: on signctl's own signatures, on signatures other tools make, and on
/// garbage. Exit codes: 0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE, 3 unreadable input or usage.
@Suite("signctl verify")
struct VerifyCommandTests {
    static let certs = Rig.root.appendingPathComponent("TestCerts")
    static let trust = certs.appendingPathComponent("trust").path
    static var openssl: String { Command.which("openssl") ?? "/usr/bin/openssl" }

    /// Runs signctl verify with its own revocation cache, at a time read from the signature (`TestTime.judging`);
    /// returns the result and the parsed JSON report.
    static func verify(_ signature: String, content: String?, extra: [String] = [], cache: String? = nil) throws -> (Command.Result, VerificationReport?) {
        let ownCache = try TemporaryFolder("signservice-cache")  // removed when this returns
        var arguments = ["verify", signature, "--trust", trust, "--cache", cache ?? ownCache.url.path, "--json"] + extra
        arguments += ["--at", UTCTimeText.format(try TestTime.judging(Array(try Data(contentsOf: URL(fileURLWithPath: signature)))))]
        if let content { arguments += ["--content", content] }
        let result = try withExtendedLifetime(ownCache) { try SignctlTests.run(arguments) }
        return (result, try? VerificationReport.decode(Array(result.stdoutData)))
    }

    @Test(
        "signctl's signatures (RSA and EC, SoftHSM2 and the card, with and without time-stamp) are TOTAL-PASSED, as openssl cms agrees; one changed byte fails both",
        arguments: [
            ("pkcs11:token=SignService%20Test;id=%01", "softhsm.pin", false), ("pkcs11:token=SignService%20Test;id=%02", "softhsm.pin", true),
            ("pkcs11:token=Anita%20Sharma;id=%01", "card.pin", true), ("pkcs11:token=Anita%20Sharma;id=%02", "card.pin", false),
        ])
    func ownSignatures(key: String, pinFile: String, timeStamp: Bool) async throws {
        let scratch = try TemporaryFolder()
        let extract = try scratch.file("extract.txt", Array("Extract of note 7\nApproved for purchase.\n".utf8))
        let output = scratch.path("extract.txt.p7s")
        let tsa = ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_TSA"] ?? "http://127.0.0.1:18792/"
        try await Rig.exclusive {
            let signed = try SigningTests.sign(key, pinFile: pinFile, extract: extract, output: output, extra: timeStamp ? ["--tsa", tsa] : [])
            #expect(signed.status == 0, "\(signed.stderr)")
        }
        let (result, report) = try Self.verify(output, content: extract.path)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let verdict = try #require(report?.verdict)
        #expect(verdict.indication == .totalPassed)
        #expect(verdict.signingTime?.source == (timeStamp ? .timeStamp : .claimed))
        #expect(verdict.context?.noteID == "N-7")
        #expect(try SigningTests.opensslVerifies(output, content: extract.path))

        let changed = try scratch.file("changed.txt", Array("Extract of note 7\nApproved for purchase!\n".utf8))
        let (failed, failedReport) = try Self.verify(output, content: changed.path)
        #expect(failed.status == 1)
        #expect(failedReport?.verdict.subIndication == .hashFailure)
        #expect(try !SigningTests.opensslVerifies(output, content: changed.path))
    }

    @Test("the human report names the signer, the kind, the time and its proof, the chain, revocation and the verdict")
    func humanReport() async throws {
        let scratch = try TemporaryFolder()
        let extract = try scratch.file("extract.txt", Array("Note 12\n".utf8))
        let output = scratch.path("extract.txt.p7s")
        try await Rig.exclusive {
            let tsa = ProcessInfo.processInfo.environment["SIGNSERVICE_TEST_TSA"] ?? "http://127.0.0.1:18792/"
            let signed = try SigningTests.sign(
                "pkcs11:token=SignService%20Test;id=%01", pinFile: "softhsm.pin", extract: extract,
                output: output, extra: ["--tsa", tsa])
            #expect(signed.status == 0, "\(signed.stderr)")
        }
        let cache = try TemporaryFolder("signservice-cache")
        let at = UTCTimeText.format(try TestTime.judging(Array(try Data(contentsOf: URL(fileURLWithPath: output)))))
        let result = try SignctlTests.run(["verify", output, "--content", extract.path, "--trust", Self.trust, "--cache", cache.url.path, "--at", at])
        #expect(result.status == 0)
        for expected in [
            "VALID  (TOTAL-PASSED)", "Signer      Anita Sharma", "Class 3 DSC", "proven by an RFC 3161 time-stamp from Test TSA 2026",
            "SHA-256 " + Hex.encode(SHA256Hasher.hash(Array("Note 12\n".utf8))), "[trust anchor]",
            "Anita Sharma: good from OCSP http://127.0.0.1:18791", "e-Office    file DIT-12/3/2026-IT, note N-7", "Checked ",
        ] {
            #expect(result.stdout.contains(expected), "missing \(expected) in:\n\(result.stdout)")
        }
    }

    // MARK: Signatures from other tools

    @Test("openssl cms -sign with signed attributes, without (-noattr), BER (-stream), and via the libp11 engine: TOTAL-PASSED")
    func otherTools() async throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("extract.txt", Array("A note signed by another tool\n".utf8))
        let common = ["cms", "-sign", "-binary", "-in", content.path, "-outform", "DER", "-md", "sha256"]
        let rsa = [
            "-signer", Self.certs.appendingPathComponent("certs/officer-rsa.crt").path,
            "-inkey", Self.certs.appendingPathComponent("keys/officer-rsa.key").path,
        ]
        let chain = ["-certfile", Self.certs.appendingPathComponent("ca/chain-individual.pem").path]
        let cases: [(String, [String], String?)] = [
            ("attributes", common + rsa + chain, "not CAdES"),
            ("noattr", common + rsa + chain + ["-noattr"], "no signed attributes"),
            ("stream", common + rsa + chain + ["-stream"], "BER"),
        ]
        for (name, arguments, warning) in cases {
            let output = scratch.path("\(name).p7s")
            let made = try Command.run(Self.openssl, arguments + ["-out", output])
            #expect(made.status == 0, "\(made.stderr)")
            let (result, report) = try Self.verify(output, content: content.path)
            #expect(result.status == 0, "\(name): \(result.stdout)")
            #expect(report?.verdict.indication == .totalPassed, "\(name)")
            if let warning { #expect(report?.verdict.warnings.contains { $0.contains(warning) } == true, "\(name): \(report?.verdict.warnings ?? [])") }
        }
        // The libp11 engine signing with the SoftHSM2 key (no chain embedded: fetched through authorityInfoAccess).
        let output = scratch.path("libp11.p7s")
        try await Rig.exclusive {
            let pin = try String(contentsOfFile: Rig.folder.appendingPathComponent("softhsm.pin").path, encoding: .utf8)
            let made = try Command.run(
                Self.openssl,
                common + [
                    "-engine", "pkcs11", "-keyform", "engine",
                    "-inkey", "pkcs11:token=SignService%20Test;id=%01;type=private;pin-value=\(pin)",
                    "-signer", Self.certs.appendingPathComponent("certs/officer-rsa.crt").path, "-out", output,
                ], environment: ["PKCS11_MODULE_PATH": "/usr/lib/softhsm/libsofthsm2.so"])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let (result, report) = try Self.verify(output, content: content.path)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(report?.verdict.signer?.name == "Anita Sharma")
        #expect(report?.verdict.chain.count == 4)
    }

    @Test("RSASSA-PSS and SHA-3 signatures from openssl cms: TOTAL-PASSED with the algorithm named; a changed byte of the value fails")
    func pssAndSHA3() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("extract.txt", Array("A note signed with RSASSA-PSS or SHA-3\n".utf8))
        let signer = [
            "cms", "-sign", "-binary", "-in", content.path, "-outform", "DER",
            "-signer", Self.certs.appendingPathComponent("certs/officer-rsa.crt").path,
            "-inkey", Self.certs.appendingPathComponent("keys/officer-rsa.key").path,
            "-certfile", Self.certs.appendingPathComponent("ca/chain-individual.pem").path,
        ]
        let cases: [(String, [String], String, String)] = [
            ("pss", ["-md", "sha256", "-keyopt", "rsa_padding_mode:pss"], "SHA-256", "RSASSA-PSS (MGF1 SHA-256, salt 222 bytes)"),  // the most
            (
                "pss-salt20-sha512", ["-md", "sha512", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:20"], "SHA-512",
                "RSASSA-PSS (MGF1 SHA-512, salt 20 bytes)"
            ),
            ("sha3", ["-md", "sha3-256"], "SHA3-256", "RSA PKCS#1 v1.5 over SHA3-256"),
        ]
        for (name, options, digest, words) in cases {
            let output = scratch.path("\(name).p7s")
            let made = try Command.run(Self.openssl, signer + options + ["-out", output])
            try #require(made.status == 0, "\(name): \(made.stderr)")
            let (result, report) = try Self.verify(output, content: content.path)
            #expect(result.status == 0 && report?.verdict.indication == .totalPassed, "\(name): \(report?.verdict.summary ?? result.stderr)")
            #expect(report?.verdict.content?.algorithm == digest, "\(name)")
            #expect(
                report?.verdict.checks.contains { $0.name == "signature value" && $0.passed && $0.detail.contains(words) } == true,
                "\(name): \(report?.verdict.checks.map(\.detail) ?? [])")
            // The last byte of the file is the signature value's: changed, the signature fails.
            var bytes = try Data(contentsOf: URL(fileURLWithPath: output))
            bytes[bytes.count - 1] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: output))
            let (changed, changedReport) = try Self.verify(output, content: content.path)
            #expect(changed.status == 1 && changedReport?.verdict.subIndication == .sigCryptoFailure, "\(name) changed: \(changed.stdout)")
        }
    }

    @Test("--certs and --crls stand in for the chain and revocation offline; --revocation off says so; a malformed --policy or CRL file is exit 3")
    func validationOptions() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("extract.txt", Array("A note verified with material given beside it\n".utf8))
        let output = scratch.path("bare.p7s")  // the signer's certificate only, no chain
        let made = try Command.run(
            Self.openssl,
            [
                "cms", "-sign", "-binary", "-in", content.path, "-outform", "DER", "-md", "sha256", "-out", output,
                "-signer", Self.certs.appendingPathComponent("certs/officer-rsa.crt").path,
                "-inkey", Self.certs.appendingPathComponent("keys/officer-rsa.key").path,
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let chain = Self.certs.appendingPathComponent("ca/chain-individual.pem").path
        let crls = ["sub-ca-individual.crl.pem", "licensed-ca.crl", "root.crl"].flatMap { ["--crls", Self.certs.appendingPathComponent("crl/\($0)").path] }

        let (bare, bareReport) = try Self.verify(output, content: content.path, extra: ["--offline"])
        #expect(bare.status == 2 && bareReport?.verdict.subIndication == .noCertificateChainFound, "\(bare.stdout)")

        let (given, report) = try Self.verify(output, content: content.path, extra: ["--offline", "--certs", chain] + crls)
        #expect(given.status == 0, "\(given.stdout)")
        #expect(report?.verdict.chain.count == 4)
        #expect(report?.verdict.revocation.map(\.source) == Array(repeating: "CRL given beside the signature", count: 3), "\(given.stdout)")

        let (off, offReport) = try Self.verify(output, content: content.path, extra: ["--offline", "--certs", chain, "--revocation", "off"])
        #expect(off.status == 0 && offReport?.verdict.validationPolicy?.revocation == .off, "\(off.stdout)")
        #expect(offReport?.verdict.warnings.contains { $0.contains("revocation was not checked") } == true)

        let badPolicy = try SignctlTests.run(["verify", output, "--content", content.path, "--trust", Self.trust, "--policy", "class-3"])
        #expect(badPolicy.status == 3 && badPolicy.stderr.contains("--policy"), "\(badPolicy.stderr)")
        let notCRL = try SignctlTests.run(["verify", output, "--content", content.path, "--trust", Self.trust, "--crls", content.path])
        #expect(notCRL.status == 3 && notCRL.stderr.contains("CRL"), "\(notCRL.stderr)")
    }

    @Test("an eSign-style PKCS#7 (signer certificate only, a 30-minute certificate) is judged at its signing time and named eSign")
    func eSignStyle() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("document.pdf.txt", Array("Document hashed by an eSign ASP\n".utf8))
        let output = scratch.path("esign.p7s")
        let made = try Command.run(
            Self.openssl,
            [
                "cms", "-sign", "-binary", "-nosmimecap", "-in", content.path, "-outform", "DER", "-md", "sha256",
                "-signer", Self.certs.appendingPathComponent("certs/esign-user.crt").path,
                "-inkey", Self.certs.appendingPathComponent("keys/esign-user.key").path, "-out", output,
            ])
        #expect(made.status == 0, "\(made.stderr)")
        // The eSign certificate lived 10:00-10:30 on 2026-03-10: the signing time is set inside that window.
        var surgery = try CMSSurgery(Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        let index = try #require(surgery.signedAttributes.firstIndex { CMSSurgery.oid(of: $0) == OID(AttributeOID.signingTime).bytes })
        surgery.signedAttributes[index].children[1] = .constructed(tag: 0x31, children: [.primitive(tag: 0x17, content: Array("260310101200Z".utf8))])
        try surgery.resign(with: try SoftwareKey(pemFile: Self.certs.appendingPathComponent("keys/esign-user.key").path))
        try Data(surgery.bytes).write(to: URL(fileURLWithPath: output))

        let intermediates = try TemporaryFolder("signservice-intermediates")
        _ = try intermediates.file("chain.pem", try Data(contentsOf: Self.certs.appendingPathComponent("ca/chain-esign.pem")))
        let (result, report) = try Self.verify(output, content: content.path, extra: ["--intermediates", intermediates.url.path])
        #expect(result.status == 0, "\(result.stdout)")
        let verdict = try #require(report?.verdict)
        #expect(verdict.signer?.kind == .eSign)
        #expect(verdict.signingTime?.source == .claimed)
        #expect(verdict.signingTime?.time == ISO8601DateFormatter().date(from: "2026-03-10T10:12:00Z"))
    }

    @Test("a SHA-1 legacy signature is INDETERMINATE CRYPTO_CONSTRAINTS_FAILURE_NO_POE (exit 2); --accept-sha1 passes it")
    func sha1Legacy() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("old.txt", Array("An old note\n".utf8))
        let output = scratch.path("old.p7s")
        let made = try Command.run(
            Self.openssl,
            [
                "cms", "-sign", "-binary", "-in", content.path, "-outform", "DER", "-md", "sha1",
                "-signer", Self.certs.appendingPathComponent("certs/officer-rsa.crt").path,
                "-inkey", Self.certs.appendingPathComponent("keys/officer-rsa.key").path,
                "-certfile", Self.certs.appendingPathComponent("ca/chain-individual.pem").path, "-out", output,
            ])
        #expect(made.status == 0, "\(made.stderr)")
        let (weak, report) = try Self.verify(output, content: content.path)
        #expect(weak.status == 2)
        #expect(report?.verdict.subIndication == .cryptoConstraintsFailureNoPOE)
        #expect(report?.verdict.summary.contains("SHA-1") == true)
        let (accepted, _) = try Self.verify(output, content: content.path, extra: ["--accept-sha1"])
        #expect(accepted.status == 0)
    }

    // MARK: Unreadable input

    @Test("malformed input: exit 3 and one line naming the problem, never a crash")
    func malformed() throws {
        let scratch = try TemporaryFolder()
        let content = try scratch.file("extract.txt", Array("x\n".utf8))
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: try Self.makeSignature(scratch, content: content.path))))
        let certificate = Array(try Data(contentsOf: Self.certs.appendingPathComponent("certs/officer-rsa.der")))
        var nested = good
        nested.replaceSubrange(19..<60, with: (0..<41).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        var huge = good
        huge.replaceSubrange(1..<4, with: [0x84, 0x7F, 0xFF, 0xFF, 0xFF])
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "empty"),
            ("random", (0..<512).map { _ in UInt8.random(in: 0...255) }, ""),
            ("truncated", Array(good.prefix(good.count / 2)), "cut short"),
            ("certificate", certificate, ""),
            ("data-type", [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01, 0xA0, 0x00], "not a signature"),
            ("nested-garbage", nested, ""),
            ("huge-length", huge, ""),
            ("pem-garbage", Array("-----BEGIN PKCS7-----\n!!!notbase64!!!\n-----END PKCS7-----\n".utf8), "base64"),
        ]
        for (name, bytes, words) in cases {
            let file = try scratch.file("\(name).p7s", bytes)
            let result = try SignctlTests.run(["verify", file.path, "--content", content.path, "--trust", Self.trust, "--offline"])
            #expect(result.status == 3, "\(name): status \(result.status), \(result.stdout) \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("signctl: error: "), "\(name): \(result.stderr)")
            #expect(words.isEmpty || result.stderr.contains(words), "\(name): \(result.stderr)")
        }
        // Usage: no trust store anywhere, a content file that is missing.
        let noTrust = try SignctlTests.run(["verify", scratch.path("random.p7s")], environment: ["SIGNSERVICE_TRUST": ""])
        #expect(noTrust.status == 3)
        #expect(noTrust.stderr.contains("--trust"))
        let missing = try SignctlTests.run(["verify", scratch.path("random.p7s"), "--content", scratch.path("nope"), "--trust", Self.trust])
        #expect(missing.status == 3)
    }

    @Test("--help documents the exit codes and the JSON schema")
    func help() throws {
        let result = try SignctlTests.run(["verify", "--help"])
        #expect(result.status == 0)
        for words in ["0 TOTAL-PASSED", "1 TOTAL-FAILED", "2 INDETERMINATE", "3 usage error", "docs/verification.md", "--offline"] {
            #expect(result.stdout.contains(words), "\(words)")
        }
    }

    static func makeSignature(_ scratch: TemporaryFolder, content: String) throws -> String {
        let output = scratch.path("good.p7s")
        let made = try Command.run(
            openssl,
            [
                "cms", "-sign", "-binary", "-in", content, "-outform", "DER",
                "-signer", certs.appendingPathComponent("certs/officer-ec.crt").path,
                "-inkey", certs.appendingPathComponent("keys/officer-ec.key").path, "-out", output,
            ])
        guard made.status == 0 else { throw RigError(made.stderr) }
        return output
    }
}
