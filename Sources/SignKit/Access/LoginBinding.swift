import Foundation

/// The signed attribute that makes a signature a login to a records service, and nothing else (docs/formats.md):
/// it names the service and the challenge's nonce. A login signature carries it and no e-Office context, so it can
/// never be appended to a file as a note or an approval (`FileHistory.append` refuses a verdict with `login`), and
/// a note's signature, which lacks it, can never log anyone in.
///
/// ```
/// id-signservice-login OBJECT IDENTIFIER ::= { 2 25 846298395967327866 }
///
/// SignServiceLogin ::= SEQUENCE {
///     version  INTEGER { v1(1) },
///     service  UTF8String,                -- the records service's name or URL, as in the challenge
///     nonce    OCTET STRING (SIZE (32)) } -- the challenge's nonce
/// ```
public struct LoginBinding: Sendable, Hashable, Codable {
    /// Under the UUID arc 2.25 (ITU-T X.667) with a fresh random 62-bit arc, that is the UUID
    /// 00000000-0000-0000-0bbe-a7e8419d8e7a; below 2^63 for the reason `EOfficeContext.oid` gives (GnuTLS).
    public static let oid = "2.25.846298395967327866"

    public var service: String
    public var nonce: [UInt8]

    public init(service: String, nonce: [UInt8]) {
        self.service = service
        self.nonce = nonce
    }

    /// The binding a login signature over `challenge` must carry.
    public init(_ challenge: LoginChallenge) { self.init(service: challenge.service, nonce: challenge.nonce) }

    enum CodingKeys: String, CodingKey { case service, nonce }

    /// In JSON the nonce is hex, as every other hash and nonce in the reports.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        service = try container.decode(String.self, forKey: .service)
        guard let bytes = Hex.decode(try container.decode(String.self, forKey: .nonce)) else {
            throw DecodingError.dataCorruptedError(forKey: .nonce, in: container, debugDescription: "not hex")
        }
        nonce = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(service, forKey: .service)
        try container.encode(Hex.encode(nonce), forKey: .nonce)
    }

    public var der: [UInt8] {
        DER.tlv(0x30, DER.tlv(0x02, [0x01]) + DER.tlv(0x0C, Array(service.utf8)) + DER.tlv(0x04, nonce))
    }

    /// Reads the DER above; nil when it is not a SignServiceLogin v1 with a 32-byte nonce.
    public init?(der: [UInt8]) {
        var outer = DERScanner(der, what: "SignServiceLogin")
        guard let sequence = try? outer.expect(0x30, "SignServiceLogin"), outer.isAtEnd,
            var reader = try? sequence.children("SignServiceLogin"),
            let version = try? reader.expect(0x02, "version"), version.content.elementsEqual([0x01]),
            let service = try? reader.expect(0x0C, "service"), let text = String(validating: service.content, as: UTF8.self),
            let nonce = try? reader.expect(0x04, "nonce"), nonce.content.count == 32, reader.isAtEnd
        else {
            return nil
        }
        self.service = text
        self.nonce = Array(nonce.content)
    }
}
