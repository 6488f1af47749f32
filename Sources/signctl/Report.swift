import ArgumentParser
import Foundation
import SignKit

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reports for departmental nodal officers.",
        subcommands: [DailyStatus.self])
}

struct DailyStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daily",
        abstract: "Per department and day: files and notes handled, signed by DSC, by e-Sign and by scan approval.",
        discussion: """
            Read from the history store (--store DIR) or the running daemon's (--service URL). A day is a calendar \
            day in --time-zone (India Standard Time unless told), counted by when the service accepted each entry; \
            how an entry was signed is read from its signer's certificate policy (Class 3/2 DSC, e-Sign). Scan \
            approvals are hand-signed printed extracts attested by a PPS/PS, counted apart from digital signatures. \
            The totals row adds the rows (a file handled on two days counts twice). CSV is RFC 4180 with CRLF.
            """)

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("First day, YYYY-MM-DD (default: today).", valueName: "day"))
    var from: String?

    @Option(help: ArgumentHelp("Last day, YYYY-MM-DD (default: the first).", valueName: "day"))
    var to: String?

    @Option(help: ArgumentHelp("Only this department.", valueName: "name"))
    var department: String?

    @Option(name: .customLong("time-zone"), help: ArgumentHelp("Time zone of the days (an IANA name).", valueName: "zone"))
    var timeZone = "Asia/Kolkata"

    @Option(help: ArgumentHelp("text, csv or json.", valueName: "format"))
    var format = "text"

    func validate() throws {
        guard ["text", "csv", "json"].contains(format) else { throw ValidationError("--format must be text, csv or json") }
        guard TimeZone(identifier: timeZone) != nil else { throw ValidationError("--time-zone \(timeZone) is not a time zone name (e.g. Asia/Kolkata)") }
    }

    func run() throws {
        let zone = TimeZone(identifier: timeZone)!
        let first = from ?? DailyReport.day(of: Date(), in: zone), last = to ?? first
        let report: DailyReport
        if let client = try storeOptions.daemon.client() {
            var query = "from=\(first)&to=\(last)&timeZone=\(DaemonClient.segment(timeZone))"
            if let department { query += "&department=\(DaemonClient.segment(department))" }
            report = try client.call("GET", "/v1/reports/daily?" + query, as: DailyReport.self)
        } else {
            report = try storeOptions.records().dailyReport(from: first, to: last, timeZone: zone, department: department, origin: nil, at: Date())
        }
        switch format {
        case "csv": print(report.csv, terminator: "")
        case "json": print(try JSONOutput.string(report))
        default: print(report.text, terminator: "")
        }
    }
}
