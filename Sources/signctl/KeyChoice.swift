import ArgumentParser
import Foundation
import SignKit

/// Options that pick a key and say how to get its PIN; shared by the commands that sign.
struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("PKCS#11 URI of the key, as `signctl tokens` prints it.", valueName: "uri"))
    var key: String?

    func requiredKey() throws -> PKCS11URI {
        guard let key else { throw CommandFailure(status: .usage, message: "--key is required: the PKCS#11 URI `signctl tokens` prints for the signing key") }
        do {
            return try PKCS11URI(key)
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
    }

    @Option(name: .customLong("pin-fd"), help: ArgumentHelp("Read the PIN as one line from this open file descriptor.", valueName: "n"))
    var pinFD: Int32?

    @Option(help: ArgumentHelp("Ask for the PIN with this pinentry program (Assuan), e.g. /usr/bin/pinentry-curses.", valueName: "program"))
    var pinentry: String?

    @Flag(name: .customLong("last-try"), help: "Sign even though the token has one PIN try left (a wrong PIN then locks it).")
    var lastTry = false

    var loginOptions: LoginOptions { LoginOptions(acknowledgeFinalTry: lastTry) }

    /// Where the PIN comes from: --pin-fd, a pinentry program, or the terminal with echo off.
    var pinSource: any PINSource {
        if let pinFD { return DescriptorPIN(descriptor: pinFD) }
        if let pinentry { return PinentryPIN(program: pinentry) }
        return TerminalPIN()
    }
}

/// The key a command will sign with (other than an extract's signature, which ExtractSigner makes), checked before
/// any PIN is asked for as ExtractSigner checks it.
struct KeyChoice {
    let token: TokenEntry
    let certificate: TokenCertificate

    var signerName: String { certificate.certificate.subject.commonName ?? certificate.label }

    init(_ options: KeyOptions, manager: TokenManager, at time: Date) throws {
        (token, certificate) = try ExtractSigner(tokens: manager).signingKey(try options.requiredKey(), login: options.loginOptions, at: time)
    }

    /// Chooses the key, asks for its PIN and runs `body` on the logged-in session with the PIN (needed again by
    /// always-authenticate keys); the session is closed and the PIN wiped when `body` returns or throws.
    static func withSession<T>(
        _ tokenOptions: TokenOptions, _ keyOptions: KeyOptions, at time: Date,
        _ body: (KeyChoice, TokenSigningSession, PIN) throws -> T
    ) throws -> T {
        let manager = try tokenOptions.manager()
        let choice = try KeyChoice(keyOptions, manager: manager, at: time)
        let pin = try choice.readPIN(keyOptions)
        defer { pin.wipe() }
        let session = try manager.openSigningSession(choice.certificate.keyURI, pin: pin, options: keyOptions.loginOptions, at: time)
        defer { session.close() }
        return try body(choice, session, pin)
    }

    func readPIN(_ options: KeyOptions) throws -> PIN {
        try options.pinSource.pin {
            SigningPrompt(tokenLabel: token.info.label, signerName: signerName, pinState: token.info.pinState, request: nil)
        }
    }
}
