import Foundation

/// The language a person reads a report in. Reports for people (text and HTML) come in each; the JSON reports are
/// the same in every language (codes, ETSI indications and RFC 3339 times, no sentences chosen by language).
public enum ReportLanguage: String, Sendable, CaseIterable, Codable {
    case english = "en"
    /// Hindi in Devanagari, as Government of India documents write it; ETSI indications stay in English beside it.
    case hindi = "hi"

    /// From a language tag ("hi", "hi-IN", "en-GB", "HI"); nil for a language no report is written in.
    public init?(tag: String) {
        let primary = tag.split(whereSeparator: { $0 == "-" || $0 == "_" }).first.map { $0.lowercased() } ?? ""
        guard let language = Self(rawValue: primary) else { return nil }
        self = language
    }

    /// The language an HTTP `Accept-Language` header prefers among those reports are written in (RFC 9110 12.5.4:
    /// the highest q first, ties in the order given); English when it names none of them or is absent.
    public static func negotiate(acceptLanguage header: String?) -> ReportLanguage {
        guard let header else { return .english }
        var best: (language: ReportLanguage, quality: Double)? = nil
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = parts.first, let language = ReportLanguage(tag: tag) else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            if quality > 0, quality > (best?.quality ?? 0) { best = (language, quality) }
        }
        return best?.language ?? .english
    }

    /// The HTML `lang` attribute.
    public var htmlTag: String { rawValue }
}

/// Dates as reports in Hindi write them: Indian Standard Time (UTC+05:30), day, month name, year
/// ("23 नवंबर 2026, 12:31:49 भारतीय मानक समय"), in the international form of the numerals that Article 343 of the
/// Constitution prescribes for official use.
public enum IndianDate {
    static let months = ["जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर", "अक्तूबर", "नवंबर", "दिसंबर"]

    /// India's offset from UTC: 5 h 30 min, no daylight saving.
    static let offset = 19_800

    static func parts(_ date: Date) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down)) + time_t(offset)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    /// "23 नवंबर 2026, 12:31:49 भारतीय मानक समय".
    public static func format(_ date: Date) -> String {
        let parts = parts(date)
        return "\(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900), "
            + String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec) + " भारतीय मानक समय"
    }

    /// "23 नवंबर 2026" (validity periods, where the hour does not matter).
    public static func day(_ date: Date) -> String {
        let parts = parts(date)
        return "\(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900)"
    }
}

extension ReportLanguage {
    /// A time as this language's reports write it: UTC in RFC 3339 form in English (as always), Indian Standard Time
    /// in Hindi.
    public func time(_ date: Date) -> String {
        switch self {
        case .english: UTCTimeText.format(date)
        case .hindi: IndianDate.format(date)
        }
    }

    /// "1 entry", "2 entries"; in Hindi "1 प्रविष्टि", "2 प्रविष्टियाँ".
    func count(_ number: Int, _ one: String, _ many: String) -> String {
        "\(number) \(number == 1 ? one : many)"
    }
}
