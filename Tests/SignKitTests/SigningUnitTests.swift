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
        let full = EOfficeContext(fileNumber: "DIT-12/3/2026-IT", noteID: "N-7", previousEntryHash: Array(repeating: 7, count: 32),
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
            let parameters = SignatureParameters(context: EOfficeContext(fileNumber: "F", noteID: "1"), commitment: .proofOfOrigin,
                                                 signingTime: TestTime.now)
            #expect(throws: SigningError.self) {
                try CAdES.signDetached(contentDigest: SHA256Hasher.hash([1, 2, 3]), certificate: officer, parameters: parameters) {
                    try session.sign($0)
                }
            }
            // The same call with the right certificate succeeds: the check is not always failing.
            let good = try CAdES.signDetached(contentDigest: SHA256Hasher.hash([1, 2, 3]), certificate: session.certificate,
                                              parameters: parameters) { try session.sign($0) }
            #expect(try CMSSignedData(der: good).signerCount == 1)
        }
    }
}
