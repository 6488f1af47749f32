import ArgumentParser
import Foundation
import SignKit

struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List readers, tokens and the certificates each token offers for signing.",
        discussion: """
            Readers come from PC/SC (pcscd) with their card's ATR and the model the ATR catalogue names. Tokens come \
            from the PKCS#11 modules found for the cards present, OpenSC, p11-kit's registered modules and --module. \
            Encryption-only, wrong-usage, expired and CA certificates are not offered for signing; --all lists them \
            with the reason.
            """
    )

    @OptionGroup var tokenOptions: TokenOptions

    @Flag(help: "Also list certificates that are not offered for signing, with the reason.")
    var all = false

    @Flag(help: "Print JSON (schema in docs/tokens.md).")
    var json = false

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let report: InventoryReport
        if let client = try daemon.client() {
            report = try client.call("GET", "/v1/tokens?all=\(all)", as: InventoryReport.self)
        } else {
            report = InventoryReport(try tokenOptions.manager().inventory(at: Date()), includeHidden: all)
        }
        if json {
            print(try report.json())
        } else {
            print(TokenListing.text(report, showHidden: all), terminator: "")
        }
    }
}

/// The human listing of `signctl tokens`.
enum TokenListing {
    static func text(_ report: InventoryReport, showHidden: Bool) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }

        line("Readers (PC/SC)")
        if let problem = report.pcscProblem {
            line("  unavailable: \(problem)")
        } else if report.readers.isEmpty {
            line("  none attached")
        }
        for reader in report.readers {
            guard reader.cardPresent, let atr = reader.atr else {
                line("  \(reader.name): empty")
                continue
            }
            let model =
                reader.model.map { "\(reader.vendor ?? "") \($0)".trimmingCharacters(in: .whitespaces) }
                ?? "not in the ATR catalogue"
            line("  \(reader.name): card present\(reader.mute ? " but not answering (mute)" : "")")
            line("    ATR:   \(atr)")
            line("    model: \(model)")
        }

        for token in report.tokens {
            line()
            line("Token \"\(token.label)\" (\(token.manufacturer), \(token.model), serial \(token.serial))")
            line("  reader:  \(token.reader ?? "none (software token, slot \"\(token.slotDescription)\")")")
            line("  module:  \(token.module)")
            line("  PIN:     \(token.pinStateDescription)")
            line("  URI:     \(token.uri)")
            if let problem = token.problem { line("  problem: \(problem)") }
            let offered = token.certificates.filter(\.offered)
            line(offered.isEmpty ? "  no certificate offered for signing" : "  signing certificates:")
            for (index, certificate) in offered.enumerated() {
                certificateLines(certificate, number: index + 1).forEach { line($0) }
            }
            if showHidden {
                let hidden = token.certificates.filter { !$0.offered }
                if !hidden.isEmpty { line("  not offered for signing:") }
                for (index, certificate) in hidden.enumerated() {
                    certificateLines(certificate, number: index + 1).forEach { line($0) }
                }
            } else if token.hiddenCount > 0 {
                line("  \(token.hiddenCount) more certificate\(token.hiddenCount == 1 ? "" : "s") not offered for signing (--all shows why)")
            }
        }
        if report.tokens.isEmpty {
            line()
            line("No token found. Insert a DSC token, or run `signctl doctor` to see why none shows.")
        }
        let failed = report.modules.filter { $0.installed && $0.problem != nil }
        if !failed.isEmpty {
            line()
            line("Modules that did not load:")
            failed.forEach { line("  \($0.path): \($0.problem!)") }
        }
        return out
    }

    static func certificateLines(_ certificate: InventoryReport.Certificate, number: Int) -> [String] {
        var lines = [
            "    \(number). \(certificate.commonName ?? certificate.subject): \(certificate.classDescription), \(certificate.keyAlgorithm)",
            "       subject: \(certificate.subject)",
            "       issuer:  \(certificate.issuer)",
            "       valid:   \(day(certificate.notBefore)) to \(day(certificate.notAfter))",
            "       serial:  \(certificate.serial)",
            "       key:     \(certificate.uri)",
        ]
        if let reason = certificate.hiddenReason { lines.append("       not offered: \(reason)") }
        return lines
    }

    static func day(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash))
    }
}
