import Foundation

/// A signed-note key that is an X.509 certificate's RSA or ECDSA key: how the document signer, whose key sits on a
/// PKCS#11 token and is not Ed25519, signs the department log's tree heads (docs/formats.md "Department log").
///
/// - Signature type: 0xFF followed by the identifier "signservice-x509-sha256" (c2sp.org/signed-note reserves 0xFF
///   for types it assigns no byte, followed by a longer identifier).
/// - Key ID: the first 4 bytes, big-endian, of SHA-256(key name || 0x0A || 0xFF || "signservice-x509-sha256" ||
///   the certificate's DER SubjectPublicKeyInfo).
/// - Signature: SHA-256 with RSA PKCS#1 v1.5, or ECDSA with SHA-256 as a DER ECDSA-Sig-Value, over the note's text
///   exactly (what a token's CKM_SHA256_RSA_PKCS makes, and what `TokenSigningSession.sign` returns for either key).
public struct X509NoteKey: Sendable {
    /// The bytes after 0xFF that name this signature type in the key ID.
    public static let typeIdentifier = "signservice-x509-sha256"

    public let name: String
    public let certificate: X509Certificate
    public let keyID: UInt32

    public init(name: String, certificate: X509Certificate) throws {
        try NoteSignature.checkName(name)
        let publicKey = certificate.subjectPublicKeyInfo
        guard !publicKey.isEmpty else {
            throw LogError(.invalidRequest, "the public key of \(certificate.subject) does not read, so it cannot sign notes")
        }
        self.name = name
        self.certificate = certificate
        self.keyID = Self.keyID(name: name, subjectPublicKeyInfo: publicKey)
    }

    /// SHA-256(name || 0x0A || 0xFF || typeIdentifier || SubjectPublicKeyInfo)[0..<4], big-endian.
    public static func keyID(name: String, subjectPublicKeyInfo: [UInt8]) -> UInt32 {
        var input = Array(name.utf8)
        input += [0x0A, 0xFF]
        input += Array(typeIdentifier.utf8)
        input += subjectPublicKeyInfo
        let digest = SHA256Hasher.hash(input)
        return digest.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Signs `text` through `sign` (the document signer's token, or a test key: RSA PKCS#1 v1.5 or DER ECDSA over
    /// SHA-256 of the bytes it is given) and checks the signature with the certificate's key before returning its
    /// line, so a token whose key is not the certificate's cannot put a line on a note.
    public func sign(_ text: String, with sign: ([UInt8]) throws -> [UInt8]) throws -> NoteSignature {
        let signature = try NoteSignature(name: name, keyID: keyID, signature: try sign(Array(text.utf8)))
        guard isValid(signature, over: text) else {
            throw LogError(
                .treeHeadSignatureNotValid, "the signature made as \(name) does not verify with the key of \(certificate.subject): the signing key is another")
        }
        return signature
    }

    /// The name a witness's key goes by unless given: the certificate's common name, spaces and "+" as dashes (a
    /// note's key name holds neither).
    public static func defaultName(for certificate: X509Certificate) -> String {
        String((certificate.subject.commonName ?? "witness").map { $0 == " " || $0 == "+" ? "-" : $0 })
    }

    /// True when `signature` names this key (its name and key ID).
    public func identifies(_ signature: NoteSignature) -> Bool {
        signature.name == name && signature.keyID == keyID
    }

    /// True when `signature` names this key and verifies over `text`.
    public func isValid(_ signature: NoteSignature, over text: String) -> Bool {
        identifies(signature) && certificate.verifySignature(signature.signature, over: Array(text.utf8))
    }
}
