import Foundation
import Logging
import Testing
import TestSupport
@testable import SignKit

/// Against the real token stack: pcscd + vpcd + the emulated PIV card through OpenSC, and SoftHSM2.
/// Every test holds the rig exclusively (`Rig.exclusive`): they count card commands, change PIN state and pull
/// the card, and PKCS#11 login state is shared by the whole process.
@Suite("Tokens on the rig")
struct TokenRigTests {
    static let cardRSA = "pkcs11:token=Anita%20Sharma;id=%01;type=private"
    static let cardEC = "pkcs11:token=Anita%20Sharma;id=%02;type=private"
    static let cardEncryption = "pkcs11:token=Anita%20Sharma;id=%03;type=private"
    static let softRSA = "pkcs11:token=SignService%20Test;id=%01;type=private"
    static let softEC = "pkcs11:token=SignService%20Test;id=%02;type=private"

    @Test("the inventory shows the card in its reader with ATR and model, and the SoftHSM2 tokens")
    func inventory() async throws {
        try await Rig.exclusive {
            let inventory = try Rig.manager().inventory(at: TestTime.now)
            #expect(inventory.pcscProblem == nil)
            let reader = try #require(inventory.readers.first { $0.name == Rig.cardReader })
            #expect(reader.cardPresent)
            #expect(reader.atrHex == Rig.cardATR)
            #expect(inventory.identified[Rig.cardReader]?.model.contains("Emulated PIV") == true)

            let card = try #require(inventory.tokens.first { $0.info.label == Rig.cardToken })
            #expect(card.readerName == Rig.cardReader)
            #expect(card.modulePath.hasSuffix("opensc-pkcs11.so"))
            let offered = card.certificates.filter(\.eligibility.isOffered)
            #expect(Set(offered.map { $0.id }) == [[0x01], [0x02]])
            let encryption = try #require(card.certificates.first { $0.id == [0x03] })
            #expect(encryption.eligibility.reason?.contains("encryption-only") == true)

            let soft = try #require(inventory.tokens.first { $0.info.label == Rig.softToken })
            #expect(soft.readerName == nil)
            #expect(soft.modulePath.hasSuffix("libsofthsm2.so"))
            let hidden = Set(soft.certificates.filter { !$0.eligibility.isOffered }.map(\.id))
            #expect(hidden == [[0x03], [0x04], [0x05]])  // encryption-only, wrong usage, expired
            #expect(inventory.tokens.contains { $0.info.label == Rig.docSignerToken })
            #expect(!inventory.tokens.contains { $0.info.label.isEmpty }, "blank SoftHSM slot must not be listed")
        }
    }

    @Test(
        "signs with RSA and EC keys on the card and on SoftHSM2; openssl verifies each with the certificate's key",
        arguments: [
            (cardRSA, SignatureAlgorithm.sha256WithRSAEncryption), (cardEC, .ecdsaWithSHA256),
            (softRSA, .sha256WithRSAEncryption), (softEC, .ecdsaWithSHA256),
        ])
    func signAndVerify(key: String, algorithm: SignatureAlgorithm) async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let uri = try PKCS11URI(key)
            let pin = key.contains("SignService") ? try Rig.softhsmPIN() : try Rig.cardPIN()
            let message = Array("File 12/3/2026-DIT note #\(UInt32.random(in: 0...UInt32.max))".utf8)
            let signature = try manager.sign(message, with: uri, pin: pin, at: TestTime.now)
            #expect(pin.isWiped, "one-shot sign wipes the PIN")
            #expect(signature.algorithm == algorithm)
            let (_, chosen) = try manager.resolve(uri, in: manager.inventory(at: TestTime.now))
            #expect(try OpenSSLCLI.verify(message: message, signature: signature.bytes, certificate: chosen.certificate))
            // The check can fail: the same signature over another message does not verify.
            #expect(try !OpenSSLCLI.verify(message: message + [0x0A], signature: signature.bytes, certificate: chosen.certificate))
        }
    }

    @Test("a session signs many messages after one login; the card's 9C key asks for the PIN each time")
    func sessionReuse() async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let pin = try Rig.cardPIN()
            defer { pin.wipe() }
            let before = Rig.pinVerifications()
            let session = try manager.openSigningSession(try PKCS11URI(Self.cardRSA), pin: pin, at: TestTime.now)
            for n in 0..<3 {
                let message = Array("message \(n)".utf8)
                let signature = try session.sign(message)
                #expect(try OpenSSLCLI.verify(message: message, signature: signature.bytes, certificate: session.certificate))
            }
            session.close()
            #expect(Rig.pinVerifications() - before == 1, "three signatures with the 9A key: one login")

            let ec = try manager.openSigningSession(try PKCS11URI(Self.cardEC), pin: pin, at: TestTime.now)
            defer { ec.close() }
            #expect(ec.alwaysAuthenticate, "PIV 9C is PIN-always: CKA_ALWAYS_AUTHENTICATE")
            #expect(throws: TokenError.self) { try ec.sign([1, 2, 3]) }  // no PIN for the context-specific login
            let beforeEC = Rig.pinVerifications()
            let signature = try ec.sign([1, 2, 3], pin: pin)
            #expect(try OpenSSLCLI.verify(message: [1, 2, 3], signature: signature.bytes, certificate: ec.certificate))
            #expect(Rig.pinVerifications() - beforeEC == 1, "one context-specific login per signature")
        }
    }

    @Test("wrong PINs: each sent once, the error states the PIN state, the final try needs consent, then locked")
    func pinLifecycle() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            defer { try? Rig.control("card-reset") }
            let manager = try Rig.manager()
            let uri = try PKCS11URI(Self.cardRSA)
            let message = Array("approval".utf8)

            // First wrong PIN: exactly one VERIFY reaches the card; nothing retries it.
            var count = Rig.pinVerifications()
            let first = try #require(throwsTokenError { try manager.sign(message, with: uri, pin: try Rig.pin("00000000"), at: TestTime.now) })
            #expect(first.code == .pinIncorrect)
            #expect(first.description.contains("wrong PIN"))
            #expect(first.description.contains("token PIN state"))
            #expect(Rig.pinVerifications() == count + 1)

            // Second wrong PIN: the token now says final try, and the error says so.
            count = Rig.pinVerifications()
            let second = try #require(throwsTokenError { try manager.sign(message, with: uri, pin: try Rig.pin("11111111"), at: TestTime.now) })
            #expect(second.code == .pinIncorrect)
            #expect(second.pinState?.finalTry == true)
            #expect(second.description.contains("one try left"))
            #expect(Rig.pinVerifications() == count + 1)

            // Final try without consent: refused before any PIN is sent, even the right one.
            count = Rig.pinVerifications()
            let refused = try #require(throwsTokenError { try manager.sign(message, with: uri, pin: try Rig.cardPIN(), at: TestTime.now) })
            #expect(refused.code == .pinFinalTry)
            #expect(refused.description.contains("one PIN try left"))
            #expect(Rig.pinVerifications() == count, "no VERIFY for a refused final try")

            // With consent and a wrong PIN: one VERIFY, and the token is locked.
            let locked = try #require(
                throwsTokenError {
                    try manager.sign(message, with: uri, pin: try Rig.pin("22222222"), options: LoginOptions(acknowledgeFinalTry: true), at: TestTime.now)
                })
            #expect(locked.code == .pinLocked)
            #expect(locked.pinState?.locked == true)
            #expect(Rig.pinVerifications() == count + 1)

            // Locked: a clear error and nothing sent, even with the right PIN and consent.
            count = Rig.pinVerifications()
            let stillLocked = try #require(
                throwsTokenError {
                    try manager.sign(message, with: uri, pin: try Rig.cardPIN(), options: LoginOptions(acknowledgeFinalTry: true), at: TestTime.now)
                })
            #expect(stillLocked.code == .pinLocked)
            #expect(stillLocked.description.contains("locked"))
            #expect(Rig.pinVerifications() == count)
            #expect(manager.inventory(at: TestTime.now).tokens.first { $0.info.label == Rig.cardToken }?.info.pinState.locked == true)
        }
    }

    @Test("the final try with consent and the right PIN signs and the card's counter is full again")
    func finalTryWithConsent() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            defer { try? Rig.control("card-reset") }
            let manager = try Rig.manager()
            let uri = try PKCS11URI(Self.cardRSA)
            for wrong in ["00000000", "11111111"] {
                _ = throwsTokenError { try manager.sign([1], with: uri, pin: try Rig.pin(wrong), at: TestTime.now) }
            }
            #expect(manager.inventory(at: TestTime.now).tokens.first { $0.info.label == Rig.cardToken }?.info.pinState.finalTry == true)
            let signature = try manager.sign(
                [1], with: uri, pin: try Rig.cardPIN(),
                options: LoginOptions(acknowledgeFinalTry: true), at: TestTime.now)
            #expect(!signature.bytes.isEmpty)
            // The card's own counter is full again. (OpenSC in this process keeps reporting the final-try flag
            // it cached: a PIV card answers a status query with 9000 while verified, which carries no count.)
            #expect(Rig.cardTriesLeft() == 3)
        }
    }

    @Test("SoftHSM2: a wrong PIN is a clear error with the PIN state")
    func softhsmWrongPIN() async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let error = try #require(
                throwsTokenError {
                    try manager.sign([1], with: try PKCS11URI(Self.softRSA), pin: try Rig.pin("not-the-pin"), at: TestTime.now)
                })
            #expect(error.code == .pinIncorrect)
            #expect(error.returnValue == 0xA0)
            #expect(error.description.contains("CKR_PIN_INCORRECT"))
            #expect(error.pinState != nil)
            // And the right PIN still works: nothing was locked or left logged in.
            _ = try manager.sign([1], with: try PKCS11URI(Self.softRSA), pin: try Rig.softhsmPIN(), at: TestTime.now)
        }
    }

    @Test("a certificate not offered for signing is refused before any PIN is sent")
    func encryptionKeyRefused() async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let before = Rig.pinVerifications()
            let error = try #require(
                throwsTokenError {
                    try manager.sign([1], with: try PKCS11URI(Self.cardEncryption), pin: try Rig.cardPIN(), at: TestTime.now)
                })
            #expect(error.code == .notForSigning)
            #expect(error.description.contains("encryption-only"))
            #expect(Rig.pinVerifications() == before)
        }
    }

    @Test("a token pulled out mid-flow: a clear error within 2 s, and the next request works after re-insertion")
    func pulledToken() async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let pin = try Rig.cardPIN()
            defer { pin.wipe() }
            let session = try manager.openSigningSession(try PKCS11URI(Self.cardRSA), pin: pin, at: TestTime.now)
            _ = try session.sign([1])
            try Rig.control("card-out")
            var reinserted = false
            defer { if !reinserted { try? Rig.control("card-in") } }

            let start = ContinuousClock.now
            let error = try #require(throwsTokenError { try session.sign([2]) })
            let elapsed = ContinuousClock.now - start
            session.close()
            #expect(elapsed < .seconds(2), "took \(elapsed)")
            #expect(error.code == .tokenRemoved, "\(error.code): \(error)")
            #expect(error.description.contains("removed"))

            // With the card out, a new request says no such token, quickly.
            let absent = try #require(
                throwsTokenError {
                    try manager.sign([3], with: try PKCS11URI(Self.cardRSA), pin: try Rig.cardPIN(), at: TestTime.now)
                })
            #expect(absent.code == .tokenNotFound)

            try Rig.control("card-in")
            reinserted = true
            let message: [UInt8] = Array("after re-insertion".utf8)
            let again = try manager.sign(message, with: try PKCS11URI(Self.cardRSA), pin: try Rig.cardPIN(), at: TestTime.now)
            let (_, chosen) = try manager.resolve(try PKCS11URI(Self.cardRSA), in: manager.inventory(at: TestTime.now))
            #expect(try OpenSSLCLI.verify(message: message, signature: again.bytes, certificate: chosen.certificate))
        }
    }

    @Test("no PIN in any log line or error text, at trace level, through success and every failure")
    func pinNeverLeaks() async throws {
        try await Rig.exclusive {
            try Rig.control("card-reset")
            defer { try? Rig.control("card-reset") }
            let capture = CapturedLog()
            let manager = TokenManager(
                configuration: TokenConfiguration(catalogue: try ATRCatalogue.bundled()),
                logger: Logger(label: "test") { _ in capture.handler(level: .trace) })
            try Rig.require()
            let wrongs = ["Pq8WrngA", "Pq8WrngB", "Pq8WrngC"]  // 8 characters: the PIV PIN length
            var texts = [String]()
            func attempt(_ key: String, _ pin: PIN, _ options: LoginOptions = LoginOptions()) {
                do {
                    let signature = try manager.sign([9], with: try PKCS11URI(key), pin: pin, options: options, at: TestTime.now)
                    texts.append("\(signature)")
                } catch {
                    texts += ["\(error)", String(reflecting: error), error.localizedDescription]
                }
                texts += [String(reflecting: pin), "\(pin)"]
            }
            attempt(Self.softRSA, try Rig.softhsmPIN())
            attempt(Self.softRSA, try Rig.pin(wrongs[0]))
            attempt(Self.cardRSA, try Rig.cardPIN())
            attempt(Self.cardEC, try Rig.cardPIN())
            attempt(Self.cardRSA, try Rig.pin(wrongs[1]))
            attempt(Self.cardRSA, try Rig.pin(wrongs[2]))
            attempt(Self.cardRSA, try Rig.cardPIN())  // final try refused
            attempt(Self.cardRSA, try Rig.pin(wrongs[0]), LoginOptions(acknowledgeFinalTry: true))  // locks
            attempt(Self.cardRSA, try Rig.cardPIN(), LoginOptions(acknowledgeFinalTry: true))  // locked
            let everything = texts + capture.lines + Rig.cardLog()
            #expect(capture.lines.contains { $0.contains("login refused") }, "the log saw the failures: \(capture.lines)")
            let secrets = try Rig.secretStrings() + wrongs
            for secret in secrets {
                let leaks = everything.filter { $0.contains(secret) }
                #expect(leaks.isEmpty, "a PIN appeared in: \(leaks)")
            }
            #expect(texts.contains { $0.contains("locked") }, "the flows ran as intended")
        }
    }
}

/// The error a call threw, as a TokenError; nil (and a recorded issue) when it did not throw one.
func throwsTokenError(_ body: () throws -> Any) -> TokenError? {
    do {
        _ = try body()
        Issue.record("expected a TokenError, got success")
        return nil
    } catch let error as TokenError {
        return error
    } catch {
        Issue.record("expected a TokenError, got \(error)")
        return nil
    }
}
