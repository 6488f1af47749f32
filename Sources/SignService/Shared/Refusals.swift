import Foundation
import Synchronization
import SignKit

/// Refused requests in the audit log without letting a caller fill it (docs/daemon.md "Audit log"): the first
/// `fullPerWindow` refusals of each `window` are written one record each, with what the caller chose cut short
/// (BrowserGuard.clipped); the rest are only counted, and one "refused-summary" record says how many there were,
/// of which kinds and from which origins, when the window ends (at the next refusal or within a second, from the
/// daemon's housekeeping loop). A flood of refusals thus writes at most `fullPerWindow + 1` records per window.
final class Refusals: Sendable {
    static let window = 10.0
    static let fullPerWindow = 20

    private struct Window: Sendable {
        var start: Date
        var written = 0
        var suppressed = 0
        var kinds: [String: Int] = [:]
        var origins: [String: Int] = [:]
    }
    private let current: Mutex<Window>
    private let trail: DaemonAudit

    init(trail: DaemonAudit, now: Date = Date()) {
        self.trail = trail
        current = Mutex(Window(start: now))
    }

    /// Audits a refusal of `kind` (a short fixed phrase: "host", "origin", "not paired"...), in full or counted.
    func record(_ record: AuditRecord, kind: String, now: Date = Date()) throws {
        let (summary, full) = current.withLock { window -> (AuditRecord?, Bool) in
            let summary = Self.roll(&window, now: now)
            if window.written < Self.fullPerWindow {
                window.written += 1
                return (summary, true)
            }
            window.suppressed += 1
            window.kinds[kind, default: 0] += 1
            if let origin = record.origin, window.origins[origin] != nil || window.origins.count < 5 {
                window.origins[origin, default: 0] += 1
            }
            return (summary, false)
        }
        if let summary { try trail.record(summary, committed: false) }
        if full { try trail.record(record, committed: false) }
    }

    /// Writes the summary of a window that has ended (called every second).
    func flush(now: Date = Date()) {
        if let summary = current.withLock({ Self.roll(&$0, now: now) }) { try? trail.record(summary, committed: false) }
    }

    /// Starts a new window when the current one has ended; returns the ended one's summary when it counted any.
    private static func roll(_ window: inout Window, now: Date) -> AuditRecord? {
        guard now.timeIntervalSince(window.start) >= Self.window else { return nil }
        defer { window = Window(start: now) }
        guard window.suppressed > 0 else { return nil }
        let kinds = window.kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let origins = window.origins.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return AuditRecord(
            time: now, action: "refused-summary", result: "refused",
            detail: "\(window.suppressed) more refusals from \(UTCTimeText.format(window.start)) for \(Int(Self.window)) s, "
                + "not written one by one: \(kinds)" + (origins.isEmpty ? "" : "; origins: \(origins)"))
    }
}
