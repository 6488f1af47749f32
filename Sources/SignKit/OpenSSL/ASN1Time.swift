import CPKCS
import Foundation

/// ASN1_TIME (UTCTime or GeneralizedTime) as a Date, through `CivilTime` (not timegm).
enum ASN1Time {
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(CivilTime.secondsSinceEpoch(parts)))
    }

    static func date(_ time: UnsafeMutablePointer<ASN1_TIME>?) -> Date? {
        date(UnsafePointer(time))
    }
}
