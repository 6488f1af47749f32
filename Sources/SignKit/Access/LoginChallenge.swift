import Foundation

/// What an officer's token signs to log in to a records service: the service, a nonce it issued, and how long the
/// challenge lives. Its canonical bytes are a small text document (UTF-8, each line ended by LF, nothing else):
///
/// ```
/// SignService login challenge
/// version: 1
/// service: https://records.dit.mn.gov.in
/// nonce: 3f0c…(64 lower-case hex digits)
/// issued: 2026-11-23T10:00:00Z
/// expires: 2026-11-23T10:05:00Z
/// ```
///
/// A reader accepts exactly this shape: the bytes read are encoded again and must be the same, so one challenge has
/// one encoding and a signature over it cannot be read as another. The login signature is a detached CAdES over these
/// bytes carrying the login attribute (`LoginBinding`: the same service and nonce) and no e-Office context.
public struct LoginChallenge: Sendable, Equatable {
    /// The records service's name or URL, as it is configured there.
    public let service: String
    /// 32 random bytes issued by the service, accepted once.
    public let nonce: [UInt8]
    /// When it was issued and until when a login may use it (whole seconds, UTC).
    public let issued: Date
    public let expires: Date

    /// The longest service name accepted.
    public static let maximumServiceLength = 200
    static let title = "SignService login challenge"

    /// A challenge with these fields; times are cut to whole seconds, as the text carries them.
    public init(service: String, nonce: [UInt8], issued: Date, expires: Date) throws(AccessError) {
        guard !service.isEmpty, service.count <= Self.maximumServiceLength, service.trimmingCharacters(in: .whitespaces) == service,
            !service.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw AccessError(
                .invalidRequest,
                "the service name must have 1 to \(Self.maximumServiceLength) characters, no control characters and no spaces around it")
        }
        guard nonce.count == 32 else { throw AccessError(.invalidRequest, "a login nonce has 32 bytes") }
        let (from, until) = (Self.wholeSeconds(issued), Self.wholeSeconds(expires))
        guard until > from else { throw AccessError(.invalidRequest, "a challenge must expire after it is issued") }
        (self.service, self.nonce, self.issued, self.expires) = (service, nonce, from, until)
    }

    /// A new challenge for `service` with a fresh random nonce, issued at `time` and living `lifetime` seconds.
    public static func issue(service: String, at time: Date, lifetime: TimeInterval) throws(AccessError) -> LoginChallenge {
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255) }  // SystemRandomNumberGenerator: the kernel's CSPRNG
        return try LoginChallenge(service: service, nonce: nonce, issued: time, expires: time.addingTimeInterval(lifetime))
    }

    /// The bytes the token signs (above).
    public var canonicalBytes: [UInt8] {
        let lines = [
            Self.title, "version: 1", "service: \(service)", "nonce: \(Hex.encode(nonce))",
            "issued: \(UTCTimeText.format(issued))", "expires: \(UTCTimeText.format(expires))",
        ]
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// Reads canonical bytes; anything else (another order, spaces, CR, a missing or extra line) is refused.
    public init(canonical bytes: [UInt8]) throws(AccessError) {
        func refuse(_ why: String) -> AccessError { AccessError(.loginRefused, "the login challenge does not read: \(why)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw refuse("it is not UTF-8") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 7, lines[0] == Self.title, lines[1] == "version: 1", lines[6].isEmpty else {
            throw refuse("it is not a version 1 challenge of six lines")
        }
        func field(_ index: Int, _ name: String) throws(AccessError) -> String {
            guard lines[index].hasPrefix(name + ": ") else { throw refuse("line \(index + 1) is not \(name)") }
            return String(lines[index].dropFirst(name.count + 2))
        }
        guard let nonce = Hex.decode(try field(3, "nonce")) else { throw refuse("the nonce is not hex") }
        guard let issued = UTCTimeText.parse(try field(4, "issued")), let expires = UTCTimeText.parse(try field(5, "expires")) else {
            throw refuse("issued and expires must be YYYY-MM-DDTHH:MM:SSZ")
        }
        let read: LoginChallenge
        do {
            read = try LoginChallenge(service: try field(2, "service"), nonce: nonce, issued: issued, expires: expires)
        } catch {
            throw refuse(error.reason)
        }
        guard read.canonicalBytes == bytes else { throw refuse("it is not in canonical form") }
        self = read
    }

    static func wholeSeconds(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }
}
