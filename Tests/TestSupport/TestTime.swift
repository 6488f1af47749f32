import Foundation
import SignKit

/// The times tests sign and judge signatures at, so that no verdict depends on the day the suite runs (issue 17,
/// item 6; scripts/test-timeless runs the suites that need no rig under faketime in 2031 and 2045).
///
/// TestCerts (TestCerts/generate.sh) is valid from 2026 to 2049-12-31 and its CRLs were issued on 2026-07-01. Tests
/// that take a time from a live service of the rig (its TSA's genTime, the certificates a throwaway `TestPKI` makes
/// with the openssl command line, signctl signing through a token) judge at a time read from what that service made,
/// never at the clock's.
public enum TestTime {
    /// 2026-11-23T10:00:00Z: inside every TestCerts certificate's validity except the deliberately expired ones
    /// (officer-expired ended 2024-01-01, esign-user lived 30 minutes on 2026-03-10), after officer-revoked's
    /// revocation (2026-06-15 10:30Z) and after the committed CRLs' thisUpdate (2026-07-01).
    public static let now = date("2026-11-23T10:00:00Z")

    /// An RFC 3339 time written in a test ("2026-11-23T10:00:00Z").
    public static func date(_ text: String) -> Date {
        guard let date = ISO8601DateFormatter().date(from: text) else { preconditionFailure("not an RFC 3339 time: \(text)") }
        return date
    }

    /// When to judge a signature that a tool made at the clock's time (signctl, openssl cms, a live TSA): a minute
    /// after its own time, the time-stamp's genTime where it has one, else its claimed signingTime; `now` when it
    /// states no time (openssl cms -noattr). Its certificates are valid then and the rig's OCSP answers current.
    public static func judging(_ p7s: [UInt8]) throws -> Date {
        let cms = try CMSSignedData(der: p7s)
        if try cms.unsignedAttributes().contains(where: { $0.oid == AttributeOID.signatureTimeStampToken }) {
            return try timeStamp(of: p7s).addingTimeInterval(60)
        }
        guard let value = try cms.signedAttributes().first(where: { $0.oid == AttributeOID.signingTime })?.values.first else { return now }
        guard let time = read(try DERTree.parse(value)) else { throw RigError("the signingTime attribute does not read") }
        return time.addingTimeInterval(60)
    }

    /// The genTime of the signature time-stamp in `p7s` (its first SignerInfo's), to the second: the time a live
    /// TSA proved, from which a test judges that signature.
    public static func timeStamp(of p7s: [UInt8]) throws -> Date {
        let attribute = try CMSSignedData(der: p7s).unsignedAttributes().first { $0.oid == AttributeOID.signatureTimeStampToken }
        guard let token = attribute?.values.first else { throw RigError("the signature carries no time-stamp token") }
        // ContentInfo -> [0] SignedData -> encapContentInfo -> [0] -> OCTET STRING holding TSTInfo, whose fifth field
        // is genTime (RFC 3161: version, policy, messageImprint, serialNumber, genTime, ...).
        let signedData = try DERTree.parse(token).children[1].children[0]
        guard signedData.children.count > 2, let eContent = signedData.children[2].children.last?.children.first,
            case .primitive(tag: 0x04, content: let tstInfo) = eContent
        else {
            throw RigError("the time-stamp token holds no TSTInfo")
        }
        let fields = try DERTree.parse(tstInfo).children
        guard fields.count > 4, fields[4].tag == 0x18, let genTime = read(fields[4]) else { throw RigError("the TSTInfo has no genTime") }
        return genTime
    }

    /// A UTCTime (YYMMDDHHMMSSZ, years 1950-2049 as in RFC 5280) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z), to the second.
    static func read(_ time: DERTree) -> Date? {
        let text = String(decoding: time.content, as: UTF8.self)
        let digits: String
        switch time.tag {
        case 0x17:
            guard let year = Int(text.prefix(2)) else { return nil }
            digits = (year < 50 ? "20" : "19") + text.prefix(12)
        case 0x18: digits = String(text.prefix(14))
        default: return nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss"
        return formatter.date(from: digits)
    }
}
