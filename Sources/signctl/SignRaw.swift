import ArgumentParser
import Foundation
import SignKit

struct SignRaw: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-raw",
        abstract: "Sign a file's bytes with a token key (SHA-256; PKCS#1 v1.5 or ECDSA). A test and diagnosis path, not CMS.",
        discussion: """
            The signature is what `openssl dgst -sha256 -verify <public key> -signature <file>` checks: PKCS#1 v1.5 \
            for RSA keys, a DER ECDSA-Sig-Value for EC keys. The PIN is asked on the terminal (no echo) or read as \
            one line from --pin-fd; it is sent to the token once and never retried.
            """
    )

    @OptionGroup var tokenOptions: TokenOptions

    @Option(help: ArgumentHelp("PKCS#11 URI of the key, as `signctl tokens` prints it.", valueName: "uri"))
    var key: String

    @Option(name: .customLong("in"), help: ArgumentHelp("File to sign (at most 64 MiB).", valueName: "file"))
    var input: String

    @Option(name: .customLong("out"), help: ArgumentHelp("Write the signature here; without it, hex goes to stdout.", valueName: "file"))
    var output: String?

    @Option(name: .customLong("cert-out"), help: ArgumentHelp("Write the signer's certificate here (PEM).", valueName: "file"))
    var certificateOutput: String?

    @Option(name: .customLong("pin-fd"), help: ArgumentHelp("Read the PIN as one line from this open file descriptor.", valueName: "n"))
    var pinFD: Int32?

    @Flag(name: .customLong("last-try"), help: "Sign even though the token has one PIN try left (a wrong PIN then locks it).")
    var lastTry = false

    static let maximumInput = 64 << 20

    func run() throws {
        let uri: PKCS11URI
        do {
            uri = try PKCS11URI(key)
        } catch {
            throw CommandFailure(status: .usage, message: "\(error)")
        }
        let message = try readInput()
        let manager = try tokenOptions.manager()
        let now = Date()
        let inventory = manager.inventory(at: now)
        if let problem = inventory.pcscProblem, inventory.tokens.isEmpty {
            throw CommandFailure(status: .environment, message: "no token found and PC/SC is unavailable: \(problem)")
        }
        let (token, certificate) = try manager.resolve(uri, in: inventory)
        // Refuse before asking for a PIN that could not be used.
        let state = token.info.pinState
        if let reason = certificate.eligibility.reason {
            throw TokenError(.notForSigning, "certificate \"\(certificate.certificate.subject.commonName ?? certificate.label)\" is not offered for signing: \(reason)")
        }
        if state.locked {
            throw TokenError(.pinLocked, "token \"\(token.info.label)\" is locked; no PIN was asked for or sent", pinState: state)
        }
        if state.finalTry && !lastTry {
            throw TokenError(.pinFinalTry, "token \"\(token.info.label)\" has one PIN try left; no PIN was asked for or sent. "
                + "Run again with --last-try if you are sure of the PIN", pinState: state)
        }
        let pin = try readPIN(token: token.info, signer: certificate.certificate.subject.commonName ?? certificate.label)
        defer { pin.wipe() }
        let signature = try manager.sign(message, with: certificate.keyURI, pin: pin,
                                         options: LoginOptions(acknowledgeFinalTry: lastTry), at: now)
        if let output {
            try AtomicFile.write(signature.bytes, to: output)
        } else {
            print(Hex.encode(signature.bytes))
        }
        if let certificateOutput {
            try AtomicFile.write(Array(PEM.encode(certificate.certificate.der, label: "CERTIFICATE").utf8), to: certificateOutput)
        }
        FileHandle.standardError.write(Data(
            "signed \(message.count) bytes with \"\(certificate.certificate.subject.commonName ?? certificate.label)\" on token \"\(token.info.label)\" (\(signature.algorithm.rawValue))\n".utf8))
    }

    private func readInput() throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: input) else {
            throw CommandFailure(status: .usage, message: "cannot read \(input): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: Self.maximumInput + 1) ?? Data()
        guard data.count <= Self.maximumInput else {
            throw CommandFailure(status: .usage, message: "\(input) is larger than 64 MiB; sign-raw is for small test inputs")
        }
        return Array(data)
    }

    private func readPIN(token: TokenInfo, signer: String) throws -> PIN {
        if let pinFD {
            return try PIN.read(fromDescriptor: pinFD)
        }
        var prompt = "PIN for token \"\(token.label)\" (signing as \(signer))"
        if token.pinState.finalTry { prompt += " - LAST TRY: a wrong PIN locks the token" }
        else if token.pinState.countLow { prompt += " - a wrong PIN was entered before" }
        return try PINPrompt.readFromTerminal(prompt: prompt + ": ")
    }
}
