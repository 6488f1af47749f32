import ArgumentParser
import Foundation
import SignKit

/// Options that pick a key and say how to get its PIN; shared by the commands that sign.
struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("PKCS#11 URI of the key, as `signctl tokens` prints it.", valueName: "uri"))
    var key: String?

    func requiredKey() throws -> String {
        guard let key else { throw CommandFailure(status: .usage, message: "--key is required: the PKCS#11 URI `signctl tokens` prints for the signing key") }
        return key
    }

    @Option(name: .customLong("pin-fd"), help: ArgumentHelp("Read the PIN as one line from this open file descriptor.", valueName: "n"))
    var pinFD: Int32?

    @Option(help: ArgumentHelp("Ask for the PIN with this pinentry program (Assuan), e.g. /usr/bin/pinentry-curses.", valueName: "program"))
    var pinentry: String?

    @Flag(name: .customLong("last-try"), help: "Sign even though the token has one PIN try left (a wrong PIN then locks it).")
    var lastTry = false

    var loginOptions: LoginOptions { LoginOptions(acknowledgeFinalTry: lastTry) }
}

/// The key a command will sign with, checked before any PIN is asked for.
struct KeyChoice {
    let uri: PKCS11URI
    let token: TokenEntry
    let certificate: TokenCertificate

    var signerName: String { certificate.certificate.subject.commonName ?? certificate.label }

    /// Resolves the URI and refuses, before a PIN is asked for, a key that is not offered for signing, a locked
    /// token, and a final-try token without --last-try.
    init(_ options: KeyOptions, manager: TokenManager, at time: Date) throws {
        do {
            uri = try PKCS11URI(try options.requiredKey())
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        let inventory = manager.inventory(at: time)
        if let problem = inventory.pcscProblem, inventory.tokens.isEmpty {
            throw CommandFailure(status: .environment, message: "no token found and PC/SC is unavailable: \(problem)")
        }
        (token, certificate) = try manager.resolve(uri, in: inventory)
        let state = token.info.pinState
        if let reason = certificate.eligibility.reason {
            throw TokenError(.notForSigning, "certificate \"\(signerName)\" is not offered for signing: \(reason)")
        }
        if state.locked {
            throw TokenError(.pinLocked, "token \"\(token.info.label)\" is locked; no PIN was asked for or sent", pinState: state)
        }
        if state.finalTry && !options.lastTry {
            throw TokenError(.pinFinalTry, "token \"\(token.info.label)\" has one PIN try left; no PIN was asked for or sent. "
                + "Run again with --last-try if you are sure of the PIN", pinState: state)
        }
    }

    /// Chooses the key, asks for its PIN and runs `body` on the logged-in session with the PIN (needed again by
    /// always-authenticate keys); the session is closed and the PIN wiped when `body` returns or throws.
    static func withSession<T>(_ tokenOptions: TokenOptions, _ keyOptions: KeyOptions, at time: Date,
                               _ body: (KeyChoice, TokenSigningSession, PIN) throws -> T) throws -> T {
        let manager = try tokenOptions.manager()
        let choice = try KeyChoice(keyOptions, manager: manager, at: time)
        let pin = try choice.readPIN(keyOptions)
        defer { pin.wipe() }
        let session = try manager.openSigningSession(choice.certificate.keyURI, pin: pin, options: keyOptions.loginOptions, at: time)
        defer { session.close() }
        return try body(choice, session, pin)
    }

    /// The PIN from --pin-fd, from a pinentry program, or asked on the terminal with echo off.
    func readPIN(_ options: KeyOptions) throws -> PIN {
        if let fd = options.pinFD {
            return try PIN.read(fromDescriptor: fd)
        }
        if let program = options.pinentry {
            var description = "Enter the PIN of token \"\(token.info.label)\" to sign as \(signerName)."
            if token.info.pinState.finalTry { description += " LAST TRY: a wrong PIN locks the token." }
            else if token.info.pinState.countLow { description += " A wrong PIN was entered before." }
            return try PINEntry.ask(program: program, description: description)
        }
        var prompt = "PIN for token \"\(token.info.label)\" (signing as \(signerName))"
        if token.info.pinState.finalTry { prompt += " - LAST TRY: a wrong PIN locks the token" }
        else if token.info.pinState.countLow { prompt += " - a wrong PIN was entered before" }
        return try PINPrompt.readFromTerminal(prompt: prompt + ": ")
    }
}
