import Foundation
import Testing
import TestSupport
@testable import SignKit

@Suite("Signing building blocks")
struct SigningUnitTests {
    @Test("a manifest array's elements are found around escaped quotes and backslashes; an unterminated string is refused")
    func elementRanges() throws {
        let text = #"[{"a":"x\"],y"}, "\\", {"b":["}",1]} ,"q\\\"]"]"#
        var reader = JSONReader(Array(text.utf8))
        let ranges = try reader.elementRanges("the list")
        let elements = ranges.map { String(decoding: Array(text.utf8)[$0], as: UTF8.self) }
        #expect(elements == [#"{"a":"x\"],y"}"#, #""\\""#, #"{"b":["}",1]}"#, #""q\\\"]""#])
        try reader.end()
        var open = JSONReader(Array(#"[{"a":"x\"}]"#.utf8))
        #expect(throws: JSONReader.Failure.self) { try open.elementRanges("the list") }
    }

    @Test("SHA-256 of nothing, of bytes, and of a hasher used again after finalize")
    func sha256() {
        #expect(Hex.encode(SHA256Hasher.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let hasher = SHA256Hasher()
        hasher.update(Array("abc".utf8))
        #expect(Hex.encode(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        hasher.update(Array("abc".utf8))
        #expect(Hex.encode(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "reset after finalize")
        #expect(Hex.encode(hasher.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "nothing after a reset")
    }

    @Test("hex decodes in both cases with colons or spaces between bytes, and refuses a stray character or a lone nibble")
    func hexDecode() {
        #expect(Hex.decode("3b8AfF00") == [0x3B, 0x8A, 0xFF, 0x00])
        #expect(Hex.decode("3b:8a") == [0x3B, 0x8A])
        #expect(Hex.decode("3B 8A 01") == [0x3B, 0x8A, 0x01])
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("3b8") == nil)
        #expect(Hex.decode("3g") == nil)
        #expect(Hex.decode("3b\u{e9}") == nil)
        let digest = SHA256Hasher.hash(Array("abc".utf8))
        #expect(Hex.decode(Hex.encode(digest)) == digest)
    }

    @Test("the e-Office context reads back what was written, and refuses garbage")
    func contextRoundTrip() throws {
        let full = EOfficeContext(
            fileNumber: "DIT-12/3/2026-IT", noteID: "N-7", previousEntryHash: Array(repeating: 7, count: 32),
            origin: "https://eoffice.manipur.gov.in")
        #expect(EOfficeContext(der: full.der) == full)
        let bare = EOfficeContext(fileNumber: "F", noteID: "1")
        #expect(EOfficeContext(der: bare.der) == bare)
        #expect(EOfficeContext(der: []) == nil)
        #expect(EOfficeContext(der: Array(full.der.dropLast())) == nil)
        #expect(EOfficeContext(der: full.der + [0]) == nil)
        #expect(EOfficeContext(der: DER.tlv(0x30, DER.tlv(0x02, [0x02]))) == nil)
    }

    @Test("the context OID's arcs stay below 2^63, which GnuTLS can parse and re-encode")
    func contextOID() throws {
        let arcs = EOfficeContext.oid.split(separator: ".")
        #expect(arcs.prefix(2) == ["2", "25"])
        #expect(Int64(arcs[2]) != nil)
    }

    @Test("a file's digest streams in chunks and equals openssl's")
    func streamingDigest() throws {
        let scratch = try TemporaryFolder()
        var bytes = [UInt8](repeating: 0, count: ExtractDigest.chunkSize * 2 + 12345)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2654435761 >> 13) }
        let file = try scratch.file("big.bin", bytes)
        let (digest, size) = try ExtractDigest.sha256(ofFileAt: file.path)
        #expect(size == UInt64(bytes.count))
        let openssl = try Command.run(Command.which("openssl") ?? "/usr/bin/openssl", ["dgst", "-sha256", "-r", file.path])
        #expect(openssl.stdout.hasPrefix(Hex.encode(digest)))
        #expect(throws: FileError.self) { try ExtractDigest.sha256(ofFileAt: scratch.path("absent")) }
    }

    @Test("a signature from another key is caught before the .p7s is returned")
    func wrongKeyCaught() async throws {
        try await Rig.exclusive {
            let manager = try Rig.manager()
            let pin = try Rig.softhsmPIN()
            defer { pin.wipe() }
            // The PPS's key signs, but the certificate claimed is the officer's.
            let session = try manager.openSigningSession(try PKCS11URI("pkcs11:token=SignService%20Test;id=%06"), pin: pin, at: TestTime.now)
            defer { session.close() }
            let officer = try X509Certificate(der: Array(try Data(contentsOf: Rig.root.appendingPathComponent("TestCerts/certs/officer-rsa.der"))))
            let parameters = SignatureParameters(
                context: EOfficeContext(fileNumber: "F", noteID: "1"), commitment: .proofOfOrigin,
                signingTime: TestTime.now)
            #expect(throws: SigningError.self) {
                try CAdES.signDetached(contentDigest: SHA256Hasher.hash([1, 2, 3]), certificate: officer, parameters: parameters) {
                    try session.sign($0)
                }
            }
            // The same call with the right certificate succeeds: the check is not always failing.
            let good = try CAdES.signDetached(
                contentDigest: SHA256Hasher.hash([1, 2, 3]), certificate: session.certificate,
                parameters: parameters
            ) { try session.sign($0) }
            #expect(try CMSSignedData(der: good).signerCount == 1)
        }
    }
}

@Suite("ExtractSigner: the request and what the officer is shown")
struct ExtractSigningRequestTests {
    static func request(file: String = "GAD-11011/3/2026-ADMIN", note: String = "N-7", origin: String? = "https://eoffice.example.gov.in")
        throws -> ExtractSigningRequest
    {
        ExtractSigningRequest(
            extractDigest: SHA256Hasher.hash(Array("extract".utf8)), extractSize: 7,
            key: try PKCS11URI("pkcs11:token=SignService%20Test;id=%01"), fileNumber: file, noteID: note,
            commitment: .proofOfApproval, origin: origin)
    }

    @Test("file numbers and note ids that cannot be shown faithfully are refused before any token is touched")
    func refusals() throws {
        #expect(throws: Never.self) { try Self.request().check() }
        for (file, note) in [
            ("", "N-1"), ("F-1", ""), (String(repeating: "F", count: 201), "N-1"), ("F-1\nApproved: all", "N-1"),
            ("F-1", "N-1\u{7}"), ("F-1", String(repeating: "n", count: 201)),
        ] {
            #expect(throws: SigningRequestError.self) { try Self.request(file: file, note: note).check() }
        }
        var short = try Self.request()
        short.extractDigest = [1, 2, 3]
        #expect(throws: SigningRequestError.self) { try short.check() }
    }

    @Test("the PIN dialog names the certificate, the token, the file, the note, the extract's digest and who asks")
    func dialog() throws {
        let request = try Self.request()
        let prompt = SigningPrompt(tokenLabel: "SignService Test", signerName: "Anita Sharma", pinState: PINState(finalTry: true), request: request)
        let text = prompt.dialogText
        for expected in [
            "Anita Sharma", "SignService Test", "GAD-11011/3/2026-ADMIN", "N-7", "(approval)",
            Hex.encode(request.extractDigest.prefix(8)), "https://eoffice.example.gov.in", "LAST TRY",
        ] {
            #expect(text.contains(expected), "\(expected) missing from: \(text)")
        }
        #expect(prompt.terminalText.hasPrefix("PIN for token \"SignService Test\" (signing as Anita Sharma) - LAST TRY"))
    }

    @Test("the API's sign request: commitment names, previous hash and base64 are checked")
    func wireRequest() throws {
        let settings = AgentSigningSettings(
            pinEntry: .pinentry, pinentryProgram: "/bin/false", chain: [], timeStampAuthority: nil,
            maximumExtractBytes: 16)
        func read(_ body: SignRequestBody) throws { _ = try ExtractSigner.read(body, origin: nil, settings: settings) }
        let good = SignRequestBody(
            extract: Array("note".utf8), fileNumber: "F-1", noteID: "N-1", commitment: .proofOfOrigin,
            key: "pkcs11:token=SignService%20Test;id=%01")
        #expect(throws: Never.self) { try read(good) }
        var withPIN = good
        withPIN.pin = "1234"
        #expect(throws: SigningRequestError.self, "a PIN in the body is refused when the agent asks through pinentry") { try read(withPIN) }
        var big = good
        big.extract = Data(repeating: 0x41, count: 17).base64EncodedString()
        #expect(throws: SigningRequestError.self) { try read(big) }
        var commitment = good
        commitment.commitment = "proof-of-origin"
        #expect(throws: SigningRequestError.self) { try read(commitment) }
        var timeStamped = good
        timeStamped.timeStamp = true
        #expect(throws: SigningRequestError.self, "no TSA configured") { try read(timeStamped) }
        #expect(Commitment(apiName: Commitment.proofOfApproval.apiName) == .proofOfApproval)
    }
}
