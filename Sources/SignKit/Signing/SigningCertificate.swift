import Foundation

extension X509Certificate {
    /// The value of the signingCertificateV2 attribute (RFC 5035 3) naming this certificate, computed once.
    ///
    /// ```
    /// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
    /// ESSCertIDv2 ::= SEQUENCE {
    ///     hashAlgorithm AlgorithmIdentifier DEFAULT { algorithm id-sha256 },   -- omitted: SHA-256
    ///     certHash      OCTET STRING,                                        -- SHA-256 of the certificate's DER
    ///     issuerSerial  IssuerSerial OPTIONAL }
    /// IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }
    /// ```
    /// The issuer is one GeneralName, directoryName [4], holding the certificate's issuer Name as encoded in it.
    var signingCertificateV2: [UInt8] {
        get throws {
            if let cached = signingCertificateV2Cache.withLock({ $0 }) { return cached }
            let issuer = try issuerNameDER
            let serial = try serialNumberDER
            let generalNames = DER.tlv(0x30, DER.tlv(0xA4, issuer))
            let essCertID = DER.tlv(0x30, DER.tlv(0x04, sha256Fingerprint) + DER.tlv(0x30, generalNames + serial))
            let value = DER.tlv(0x30, DER.tlv(0x30, essCertID))
            signingCertificateV2Cache.withLock { $0 = value }
            return value
        }
    }
}
