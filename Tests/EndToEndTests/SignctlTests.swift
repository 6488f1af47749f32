import Foundation
import Testing
import TestSupport
@testable import SignKit

/// The built signctl binary against the real token stack, as an officer or a script would run it.
@Suite("signctl")
struct SignctlTests {
    /// signctl next to the test bundle (swift build puts every product in one folder).
    static var signctl: String { Rig.signctl }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Command.Result {
        try Rig.require()
        #expect(FileManager.default.isExecutableFile(atPath: signctl), "build signctl first: swift build")
        return try Command.run(signctl, arguments, stdin: stdin.map { Data($0.utf8) }, environment: environment)
    }

    static func pinLine(_ file: String) throws -> String {
        try String(contentsOf: Rig.folder.appendingPathComponent(file), encoding: .utf8)
    }

    @Test("tokens: the card in Virtual PCD 00 00 with ATR and model, SoftHSM2, encryption-only not offered")
    func tokens() async throws {
        try await Rig.exclusive {
            let result = try Self.run(["tokens"])
            #expect(result.status == 0, "\(result.stderr)")
            let text = result.stdout
            #expect(text.contains("\(Rig.cardReader): card present"))
            #expect(text.contains("ATR:   \(Rig.cardATR)"))
            #expect(text.contains("Emulated PIV card"))
            #expect(text.contains("Token \"\(Rig.cardToken)\""))
            #expect(text.contains("Token \"\(Rig.softToken)\""))
            #expect(text.contains("Class 3 DSC, RSA-2048"))
            #expect(text.contains("Class 3 DSC, EC prime256v1"))
            #expect(!text.contains("encryption-only"))
            #expect(text.contains("not offered for signing (--all shows why)"))
            #expect(!text.contains(";id=%03;"), "the encryption key's URI is not offered")

            let all = try Self.run(["tokens", "--all"])
            #expect(all.status == 0)
            #expect(all.stdout.contains("not offered: encryption-only certificate (keyUsage: keyEncipherment)"))
            #expect(all.stdout.contains("not offered: key usage does not allow signing (keyUsage: keyAgreement)"))
            #expect(all.stdout.contains("not offered: expired on 2024-"))
        }
    }

    @Test("tokens --json decodes, with readers, ATR, model, URIs and reasons")
    func tokensJSON() async throws {
        try await Rig.exclusive {
            let result = try Self.run(["tokens", "--json", "--all"])
            #expect(result.status == 0)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let report = try decoder.decode(InventoryReport.self, from: result.stdoutData)
            let reader = try #require(report.readers.first { $0.name == Rig.cardReader })
            #expect(reader.atr == Rig.cardATR)
            #expect(reader.model?.contains("Emulated PIV") == true)
            #expect(reader.tokens == [Rig.cardToken])
            let card = try #require(report.tokens.first { $0.label == Rig.cardToken })
            #expect(card.reader == Rig.cardReader)
            #expect(card.pinState == "ok")
            let encryption = try #require(card.certificates.first { $0.uri.contains("id=%03") })
            #expect(!encryption.offered)
            #expect(encryption.hiddenReason?.contains("encryption-only") == true)
            #expect(card.certificates.filter { $0.offered }.count == 2)
            #expect(card.certificates.allSatisfy { (try? PKCS11URI($0.uri)) != nil })
            #expect(report.tokens.contains { $0.label == Rig.softToken && $0.reader == nil })
        }
    }

    @Test(
        "sign-raw on the card and SoftHSM2, PIN on a descriptor; openssl verifies",
        arguments: [
            ("pkcs11:token=Anita%20Sharma;id=%01", "card.pin"), ("pkcs11:token=Anita%20Sharma;id=%02", "card.pin"),
            ("pkcs11:token=SignService%20Test;id=%01", "softhsm.pin"), ("pkcs11:token=SignService%20Test;id=%02", "softhsm.pin"),
        ])
    func signRaw(key: String, pinFile: String) async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let message = Array("extract of note #\(UInt32.random(in: 0...UInt32.max))".utf8)
            let input = try scratch.file("extract.txt", message)
            let signatureFile = scratch.path("extract.sig")
            let certificateFile = scratch.path("signer.pem")
            let result = try Self.run(
                [
                    "sign-raw", "--key", key, "--in", input.path, "--out", signatureFile,
                    "--cert-out", certificateFile, "--pin-fd", "0",
                ], stdin: try Self.pinLine(pinFile))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("signed \(message.count) bytes"))
            let certificate = try #require(try X509Certificate.fromPEM(String(contentsOfFile: certificateFile, encoding: .utf8)).first)
            let signature = Array(try Data(contentsOf: URL(fileURLWithPath: signatureFile)))
            #expect(try OpenSSLCLI.verify(message: message, signature: signature, certificate: certificate))
            #expect(try !OpenSSLCLI.verify(message: message.reversed(), signature: signature, certificate: certificate))
        }
    }

    @Test("exit codes: wrong PIN 4, final try refused 4, bad URI 3, missing file 3, unknown token 4")
    func exitCodes() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            defer { try? Rig.control("card-reset") }
            let scratch = try TemporaryFolder()
            let input = try scratch.file("extract.txt", Array("x".utf8))
            let card = "pkcs11:token=Anita%20Sharma;id=%01"

            let wrong = try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"], stdin: "Wrong123\n")
            #expect(wrong.status == 4)
            #expect(wrong.stderr.contains("wrong PIN"))
            #expect(wrong.stderr.contains("token PIN state"))
            _ = try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"], stdin: "Wrong456\n")
            let before = Rig.pinVerifications()
            let finalTry = try Self.run(
                ["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"],
                stdin: try Self.pinLine("card.pin"))
            #expect(finalTry.status == 4)
            #expect(finalTry.stderr.contains("--last-try"))
            #expect(Rig.pinVerifications() == before)
            let consented = try Self.run(
                ["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0", "--last-try"],
                stdin: try Self.pinLine("card.pin"))
            #expect(consented.status == 0, "\(consented.stderr)")

            let badURI = try Self.run(["sign-raw", "--key", "pkcs11:token=A?pin-value=1234", "--in", input.path])
            #expect(badURI.status == 3)
            #expect(badURI.stderr.contains("PIN"))
            let missing = try Self.run(["sign-raw", "--key", card, "--in", "/nonexistent/extract.txt", "--pin-fd", "0"], stdin: "x\n")
            #expect(missing.status == 3)
            #expect(missing.stderr.contains("/nonexistent/extract.txt"))
            let unknown = try Self.run(["sign-raw", "--key", "pkcs11:token=No%20Such%20Token", "--in", input.path, "--pin-fd", "0"], stdin: "x\n")
            #expect(unknown.status == 4)
            #expect(unknown.stderr.contains("no token matches"))
            let usage = try Self.run(["sign-raw", "--in", input.path])
            #expect(usage.status == 3)
        }
    }

    @Test("doctor reports pcscd, the reader, the modules and explains CKR codes")
    func doctor() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            let result = try Self.run(["doctor"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[ok] pcscd: reachable"))
            #expect(result.stdout.contains("[ok] reader \"\(Rig.cardReader)\": ATR \(Rig.cardATR)"))
            #expect(result.stdout.contains("opensc-pkcs11.so"))
            #expect(result.stdout.contains("libsofthsm2.so"))
            let ckr = try Self.run(["doctor", "--ckr", "0xa4"])
            #expect(ckr.stdout.contains("CKR_PIN_LOCKED"))
            #expect(ckr.stdout.contains("unblock"))
            let bad = try Self.run(["doctor", "--ckr", "NOPE"])
            #expect(bad.status == 3)
        }
    }

    @Test("doctor exits 5 and says what to do when pcscd is unreachable")
    func doctorWithoutPCSC() async throws {
        let result = try Self.run(["doctor", "--no-p11-kit"], environment: ["PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"])
        #expect(result.status == 5)
        #expect(result.stdout.contains("[FAIL] pcscd"))
        #expect(result.stdout.contains("systemctl start pcscd"))
    }

    @Test("no PIN in anything signctl prints, at trace log level, through success and failure")
    func pinNeverPrinted() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            defer { try? Rig.control("card-reset") }
            let scratch = try TemporaryFolder()
            let input = try scratch.file("extract.txt", Array("x".utf8))
            let trace = ["SIGNCTL_LOG": "trace"]
            let wrongs = ["Xy7WrngA", "Xy7WrngB", "Xy7WrngC"]  // 8 characters: the PIV PIN length
            var outputs = [Command.Result]()
            let card = "pkcs11:token=Anita%20Sharma;id=%01"
            let soft = "pkcs11:token=SignService%20Test;id=%01"
            outputs.append(
                try Self.run(["sign-raw", "--key", soft, "--in", input.path, "--pin-fd", "0"], stdin: try Self.pinLine("softhsm.pin"), environment: trace))
            outputs.append(try Self.run(["sign-raw", "--key", soft, "--in", input.path, "--pin-fd", "0"], stdin: wrongs[0] + "\n", environment: trace))
            outputs.append(
                try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"], stdin: try Self.pinLine("card.pin"), environment: trace))
            outputs.append(try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"], stdin: wrongs[1] + "\n", environment: trace))
            outputs.append(try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0"], stdin: wrongs[2] + "\n", environment: trace))
            outputs.append(
                try Self.run(["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0", "--last-try"], stdin: wrongs[0] + "\n", environment: trace))
            outputs.append(
                try Self.run(
                    ["sign-raw", "--key", card, "--in", input.path, "--pin-fd", "0", "--last-try"], stdin: try Self.pinLine("card.pin"), environment: trace))
            outputs.append(try Self.run(["tokens", "--json", "--all"], environment: trace))
            outputs.append(try Self.run(["doctor", "--json"], environment: trace))
            #expect(outputs.map { $0.status } == [0, 4, 0, 4, 4, 4, 4, 0, 5], "\(outputs.map(\.stderr))")
            #expect(outputs[6].stderr.contains("locked"))

            // Everything printed, plus every log file of the rig (pcscd, the card's command log).
            var texts = outputs.flatMap { [$0.stdout, $0.stderr] }
            let logs = try FileManager.default.contentsOfDirectory(atPath: Rig.folder.path).filter { $0.hasSuffix(".log") }
            #expect(!logs.isEmpty)
            for log in logs {
                texts.append((try? String(contentsOf: Rig.folder.appendingPathComponent(log), encoding: .utf8)) ?? "")
            }
            for secret in try Rig.secretStrings() + wrongs {
                let leaks = texts.filter { $0.contains(secret) }
                #expect(leaks.isEmpty, "PIN \(secret.prefix(2))… leaked: \(leaks.map { $0.prefix(300) })")
            }
        }
    }
}

@Suite("signctl PIN prompt")
struct PINPromptTests {
    @Test("asks on the terminal with echo off: the PIN typed is not in the terminal's transcript")
    func terminalPrompt() async throws {
        try await Rig.exclusive {
            let scratch = try TemporaryFolder()
            let input = try scratch.file("extract.txt", Array("extract".utf8))
            let output = scratch.url.appendingPathComponent("extract.sig")
            let pin = try SignctlTests.pinLine("softhsm.pin")
            // signctl gets a pseudo-terminal; the PIN is typed once the prompt shows.
            let result = try PTY.type(
                pin.trimmingCharacters(in: .newlines) + "\\n", after: "PIN for token",
                into: [
                    SignctlTests.signctl, "sign-raw", "--key", "pkcs11:token=SignService%20Test;id=%01", "--in", input.path,
                    "--out", output.path,
                ])
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("PIN for token \"SignService Test\""))
            #expect(!result.stdout.contains(pin.trimmingCharacters(in: .newlines)), "the PIN was echoed")
            #expect(FileManager.default.fileExists(atPath: output.path))
        }
    }
}

@Suite("signctl --pinentry")
struct PINEntryTests {
    /// Runs `signctl sign --pinentry pinentry-curses` on a pseudo-terminal (script(1)) and types `keys` into the
    /// pinentry's screen after it has drawn.
    static func signThroughPinentry(keys: String) throws -> (result: Command.Result, output: String) {
        let pinentry = try #require(Command.which("pinentry-curses"), "pinentry-curses is needed (scripts/setup.sh)")
        let scratch = try TemporaryFolder()
        let input = try scratch.file("extract.txt", Array("extract".utf8))
        let output = scratch.path("extract.p7s")
        let result = try PTY.type(
            keys, after: "Enter the PIN",
            into: [
                "/usr/bin/env", "TERM=xterm", SignctlTests.signctl, "sign", input.path, "--key",
                "pkcs11:token=SignService%20Test;id=%01", "--file-number", "F", "--note-id", "1", "--pinentry", pinentry, "-o", output,
            ])
        return (result, FileManager.default.fileExists(atPath: output) ? output : "")
    }

    @Test("the PIN typed into pinentry-curses signs and never shows")
    func pinentrySigns() async throws {
        try await Rig.exclusive {
            let pin = try SignctlTests.pinLine("softhsm.pin").trimmingCharacters(in: .newlines)
            let (result, output) = try Self.signThroughPinentry(keys: pin + "\\r")
            #expect(result.status == 0, "\(result.stdout.suffix(400))")
            #expect(result.stdout.contains("signed "))
            #expect(!output.isEmpty)
            #expect(!result.stdout.contains(pin), "the PIN appeared on the terminal")
            #expect(result.stdout.contains("Enter the PIN of token"))
        }
    }

    @Test("cancelling the pinentry is a clear error and no file is written")
    func pinentryCancel() async throws {
        try await Rig.exclusive {
            let (result, output) = try Self.signThroughPinentry(keys: "\\t\\t\\r")  // Tab to <Cancel>, Enter
            #expect(result.status == 4)
            #expect(result.stdout.contains("pinentry: cancelled by the user"), "\(result.stdout.suffix(400))")
            #expect(output.isEmpty)
        }
    }
}
