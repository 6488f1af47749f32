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

    @OptionGroup var keyOptions: KeyOptions

    @Option(name: .customLong("in"), help: ArgumentHelp("File to sign (at most 64 MiB).", valueName: "file"))
    var input: String

    @Option(name: .customLong("out"), help: ArgumentHelp("Write the signature here; without it, hex goes to stdout.", valueName: "file"))
    var output: String?

    @Option(name: .customLong("cert-out"), help: ArgumentHelp("Write the signer's certificate here (PEM).", valueName: "file"))
    var certificateOutput: String?

    static let maximumInput = 64 << 20

    func run() throws {
        let message = try readInput()
        let manager = try tokenOptions.manager()
        let now = Date()
        let choice = try KeyChoice(keyOptions, manager: manager, at: now)
        let pin = try choice.readPIN(keyOptions)
        defer { pin.wipe() }
        let signature = try manager.sign(
            message, with: choice.certificate.keyURI, pin: pin,
            options: keyOptions.loginOptions, at: now)
        if let output {
            try AtomicFile.write(signature.bytes, to: output)
        } else {
            print(Hex.encode(signature.bytes))
        }
        if let certificateOutput {
            try AtomicFile.write(Array(PEM.encode(choice.certificate.certificate.der, label: "CERTIFICATE").utf8), to: certificateOutput)
        }
        FileHandle.standardError.write(
            Data(
                "signed \(message.count) bytes with \"\(choice.signerName)\" on token \"\(choice.token.info.label)\" (\(signature.algorithm.rawValue))\n".utf8))
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
}
