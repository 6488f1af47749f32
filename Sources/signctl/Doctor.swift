import ArgumentParser
import Foundation
import SignKit

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pcscd, readers, PKCS#11 modules and tokens, and say what to do next.",
        discussion: """
            Exits 0 when nothing is wrong, 5 when a problem was found (warnings alone exit 0).
            With --ckr, explains a PKCS#11 return code instead, given by name (CKR_PIN_LOCKED, PIN_LOCKED) or \
            value (0xa4, 164).
            """
    )

    @OptionGroup var tokenOptions: TokenOptions

    @Option(help: ArgumentHelp("Explain this PKCS#11 return code and exit.", valueName: "code"))
    var ckr: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        if let ckr {
            guard let value = CKR.value(named: ckr) else {
                throw CommandFailure(status: .usage, message: "\"\(ckr)\" is not a PKCS#11 return code name or number")
            }
            if json {
                let object = ["name": CKR.name(value), "value": "0x" + String(value, radix: 16), "meaning": CKR.meaning(value)]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
            } else {
                print("\(CKR.name(value)) (0x\(String(value, radix: 16))): \(CKR.meaning(value))")
            }
            return
        }
        let manager = try tokenOptions.manager()
        let inventory = manager.inventory(at: Date())
        let findings = Diagnosis.findings(inventory)
        if json {
            print(try JSONOutput.string(DoctorReport(findings: findings, inventory: InventoryReport(inventory, includeHidden: true))))
        } else {
            for finding in findings {
                print("[\(finding.level.rawValue)] \(finding.area): \(finding.text)")
                if let advice = finding.advice { print("        next: \(advice)") }
            }
            let problems = findings.filter { $0.level == .problem }.count
            let warnings = findings.filter { $0.level == .warning }.count
            print(problems + warnings == 0 ? "\nAll checks passed." : "\n\(problems) problem(s), \(warnings) warning(s).")
        }
        if findings.contains(where: { $0.level == .problem }) {
            throw ExitCode(ExitStatus.environment.rawValue)
        }
    }
}

struct DoctorReport: Codable {
    let findings: [Finding]
    let inventory: InventoryReport
}

struct Finding: Codable {
    enum Level: String, Codable {
        case ok = "ok"
        case warning = "warn"
        case problem = "FAIL"
    }

    let level: Level
    let area: String
    let text: String
    let advice: String?
}

/// The checks of `signctl doctor`, from an inventory.
enum Diagnosis {
    static func findings(_ inventory: TokenInventory) -> [Finding] {
        var findings = [Finding]()
        let socket = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? "/run/pcscd/pcscd.comm"
        if let problem = inventory.pcscProblem {
            findings.append(Finding(level: .problem, area: "pcscd", text: problem,
                                    advice: "install and start pcscd: apt-get install pcscd && systemctl start pcscd.socket; USB tokens need it, software tokens do not"))
        } else {
            findings.append(Finding(level: .ok, area: "pcscd", text: "reachable at \(socket); \(inventory.readers.count) reader(s)", advice: nil))
            if inventory.readers.isEmpty {
                findings.append(Finding(level: .warning, area: "readers", text: "no reader attached",
                                        advice: "plug in the DSC token; USB tokens appear as a reader with a card"))
            }
        }
        for reader in inventory.readers {
            let area = "reader \"\(reader.name)\""
            guard reader.cardPresent else {
                findings.append(Finding(level: .ok, area: area, text: "empty", advice: nil))
                continue
            }
            if reader.mute {
                findings.append(Finding(level: .problem, area: area, text: "a card is present but does not answer (mute)",
                                        advice: "pull the token out and insert it again; try another USB port"))
                continue
            }
            if let entry = inventory.identified[reader.name] {
                findings.append(Finding(level: .ok, area: area, text: "ATR \(reader.atrHex): \(entry.vendor) \(entry.model)", advice: nil))
            } else {
                findings.append(Finding(level: .warning, area: area, text: "ATR \(reader.atrHex) is not in the ATR catalogue",
                                        advice: "OpenSC is tried; if no token shows, install the vendor's PKCS#11 driver and pass it with --module"))
            }
            let tokens = inventory.tokens.filter { $0.readerName == reader.name }
            if tokens.isEmpty {
                findings.append(Finding(level: .problem, area: area, text: "no loaded PKCS#11 module shows a token for this card",
                                        advice: "install the token vendor's driver (see `signctl tokens --json` modules) or pass it with --module"))
            }
        }
        for module in inventory.modules {
            if !module.installed {
                findings.append(Finding(level: .warning, area: "module \(module.path)", text: "named by \(module.source) but not installed",
                                        advice: "install the driver package that provides it"))
            } else if let problem = module.problem {
                findings.append(Finding(level: .problem, area: "module \(module.path)", text: "does not load: \(problem)",
                                        advice: "reinstall the driver; check `ldd \(module.path)` for missing libraries"))
            } else if let info = module.info {
                findings.append(Finding(level: .ok, area: "module \(module.path)",
                                        text: "\(info.description) \(info.libraryVersion) (\(module.source))", advice: nil))
            }
        }
        for token in inventory.tokens {
            let area = "token \"\(token.info.label)\""
            let state = token.info.pinState
            switch state.summary {
            case "locked":
                findings.append(Finding(level: .problem, area: area, text: state.description,
                                        advice: "unblock with the SO PIN (PUK) in the vendor's tool, or ask the issuing CA"))
            case "final-try":
                findings.append(Finding(level: .warning, area: area, text: state.description,
                                        advice: "make sure of the PIN before signing; signctl asks for --last-try"))
            case "count-low":
                findings.append(Finding(level: .warning, area: area, text: state.description, advice: nil))
            case "must-change", "not-initialized":
                findings.append(Finding(level: .problem, area: area, text: state.description,
                                        advice: "set or change the PIN with the vendor's tool"))
            default:
                break
            }
            let offered = token.certificates.filter(\.eligibility.isOffered)
            if let problem = token.problem {
                findings.append(Finding(level: .problem, area: area, text: "certificates unreadable: \(problem)", advice: nil))
            } else if offered.isEmpty {
                findings.append(Finding(level: .warning, area: area, text: "no certificate offered for signing",
                                        advice: "`signctl tokens --all` shows each certificate and why it is not offered"))
            } else {
                findings.append(Finding(level: .ok, area: area, text: "\(offered.count) signing certificate(s)"
                                            + (state.summary == "ok" ? "; \(state.description)" : ""), advice: nil))
            }
        }
        if inventory.tokens.isEmpty {
            findings.append(Finding(level: .warning, area: "tokens", text: "no token found",
                                    advice: "insert the DSC token; for a software token pass its module with --module"))
        }
        return findings
    }
}
