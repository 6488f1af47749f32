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
        let findings = Diagnosis.findings(inventory, rig: RigSighting.look())
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

/// The project's token rig (scripts/rig.sh, docs/rig.md) as seen from here: its folder, whether its pcscd is up, and
/// whether this process's environment points at it (`source .rig/env.sh`). A shell that has not sourced it reaches
/// the system's pcscd and no SoftHSM2 token, which `doctor` would otherwise explain as "pcscd is not running".
struct RigSighting {
    let folder: String
    let socket: String
    let softhsmConfiguration: String
    let running: Bool
    /// Where this shell points PC/SC: the rig's socket (sourced), nowhere (a new terminal: the system's default), or
    /// somewhere else on purpose.
    let shell: Shell

    enum Shell { case sourced, unsourced, elsewhere(String) }

    /// The rig named by $SIGNSERVICE_RIG, else a `.rig/env.sh` in the working folder or above it, else in the
    /// checkout this signctl was built in; nil when there is none.
    static func look(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = FileManager.default.currentDirectoryPath,
        executable: String = CommandLine.arguments[0]
    ) -> RigSighting? {
        var candidates = [String]()
        if let named = environment["SIGNSERVICE_RIG"], !named.isEmpty { candidates.append(named) }
        func walk(from start: String) {
            var url = URL(fileURLWithPath: start).standardizedFileURL
            for _ in 0..<6 {
                candidates.append(url.appendingPathComponent(".rig").path)
                url = url.deletingLastPathComponent()
            }
        }
        walk(from: directory)
        walk(from: URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent().path)
        guard let folder = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/env.sh") }),
            let text = try? String(contentsOfFile: folder + "/env.sh", encoding: .utf8)
        else { return nil }
        var exported = [String: String]()
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { exported[String(pair[0])] = String(pair[1]) }
        }
        let socket = exported["PCSCLITE_CSOCK_NAME"] ?? folder + "/pcscd/pcscd.comm"
        let softhsm = exported["SOFTHSM2_CONF"] ?? folder + "/softhsm/softhsm2.conf"
        var running = false
        if let pidText = try? String(contentsOfFile: folder + "/pcscd.pid", encoding: .utf8),
            let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        {
            running = (kill(pid, 0) == 0 || errno == EPERM) && FileManager.default.fileExists(atPath: socket)
        }
        let shell: Shell
        switch environment["PCSCLITE_CSOCK_NAME"] {
        case nil: shell = .unsourced
        case socket? where environment["SOFTHSM2_CONF"] == softhsm: shell = .sourced
        case socket?: shell = .unsourced  // half of env.sh
        case let other?: shell = .elsewhere(other)
        }
        return RigSighting(folder: folder, socket: socket, softhsmConfiguration: softhsm, running: running, shell: shell)
    }

    /// The command that points a shell at the rig.
    var sourceCommand: String { "source \(folder)/env.sh" }
}

/// The checks of `signctl doctor`, from an inventory (and the project's rig, when there is one).
enum Diagnosis {
    static func findings(_ inventory: TokenInventory, rig: RigSighting? = nil) -> [Finding] {
        var findings = [Finding]()
        let socket = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? "/run/pcscd/pcscd.comm"
        // The rig is up but this shell does not point at it: say that first, and do not advise starting the
        // system's pcscd for what the rig's own pcscd already serves.
        let unsourcedRig = rig.flatMap { rig -> RigSighting? in
            guard rig.running, case .unsourced = rig.shell else { return nil }
            return rig
        }
        if let rig = unsourcedRig {
            findings.append(
                Finding(
                    level: .problem, area: "rig",
                    text: "the project's token rig is up at \(rig.folder) (its pcscd at \(rig.socket)), but this shell has not sourced its "
                        + "environment, so signctl looks for the system's pcscd and SoftHSM2 configuration instead",
                    advice:
                        "run `\(rig.sourceCommand)` in this shell (it sets PCSCLITE_CSOCK_NAME, SOFTHSM2_CONF and SIGNSERVICE_RIG), then `signctl doctor` again"
                ))
        } else if let rig, !rig.running {
            findings.append(
                Finding(
                    level: .warning, area: "rig", text: "the project's token rig at \(rig.folder) is not running",
                    advice: "for the test tokens: scripts/rig.sh up, then \(rig.sourceCommand)"))
        } else if let rig, case .elsewhere(let other) = rig.shell {
            findings.append(
                Finding(
                    level: .warning, area: "rig", text: "the project's token rig is up at \(rig.folder), but this shell points PC/SC at \(other)",
                    advice: "for the rig's tokens: \(rig.sourceCommand)"))
        } else if let rig {
            findings.append(Finding(level: .ok, area: "rig", text: "the project's token rig at \(rig.folder); this shell uses it", advice: nil))
        }
        if let problem = inventory.pcscProblem {
            if let rig = unsourcedRig {
                // What is missing is the rig's environment (above), not the system's pcscd.
                findings.append(
                    Finding(
                        level: .warning, area: "pcscd", text: "the system's pcscd is not reachable at \(socket); the rig's is at \(rig.socket)",
                        advice: "for the rig's emulated card: \(rig.sourceCommand); for USB tokens: apt-get install pcscd && systemctl start pcscd.socket"))
            } else {
                findings.append(
                    Finding(
                        level: .problem, area: "pcscd", text: problem,
                        advice: "install and start pcscd: apt-get install pcscd && systemctl start pcscd.socket; USB tokens need it, software tokens do not"))
            }
        } else {
            findings.append(Finding(level: .ok, area: "pcscd", text: "reachable at \(socket); \(inventory.readers.count) reader(s)", advice: nil))
            if inventory.readers.isEmpty {
                findings.append(
                    Finding(
                        level: .warning, area: "readers", text: "no reader attached",
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
                findings.append(
                    Finding(
                        level: .problem, area: area, text: "a card is present but does not answer (mute)",
                        advice: "pull the token out and insert it again; try another USB port"))
                continue
            }
            if let entry = inventory.identified[reader.name] {
                findings.append(Finding(level: .ok, area: area, text: "ATR \(reader.atrHex): \(entry.vendor) \(entry.model)", advice: nil))
            } else {
                findings.append(
                    Finding(
                        level: .warning, area: area, text: "ATR \(reader.atrHex) is not in the ATR catalogue",
                        advice: "OpenSC is tried; if no token shows, install the vendor's PKCS#11 driver and pass it with --module"))
            }
            let tokens = inventory.tokens.filter { $0.readerName == reader.name }
            if tokens.isEmpty {
                findings.append(
                    Finding(
                        level: .problem, area: area, text: "no loaded PKCS#11 module shows a token for this card",
                        advice: "install the token vendor's driver (see `signctl tokens --json` modules) or pass it with --module"))
            }
        }
        for module in inventory.modules {
            if !module.installed {
                findings.append(
                    Finding(
                        level: .warning, area: "module \(module.path)", text: "named by \(module.source) but not installed",
                        advice: "install the driver package that provides it"))
            } else if let problem = module.problem {
                findings.append(
                    Finding(
                        level: .problem, area: "module \(module.path)", text: "does not load: \(problem)",
                        advice: "reinstall the driver; check `ldd \(module.path)` for missing libraries"))
            } else if let info = module.info {
                findings.append(
                    Finding(
                        level: .ok, area: "module \(module.path)",
                        text: "\(info.description) \(info.libraryVersion) (\(module.source))", advice: nil))
            }
        }
        for token in inventory.tokens {
            let area = "token \"\(token.info.label)\""
            let state = token.info.pinState
            switch state.summary {
            case "locked":
                findings.append(
                    Finding(
                        level: .problem, area: area, text: state.description,
                        advice: "unblock with the SO PIN (PUK) in the vendor's tool, or ask the issuing CA"))
            case "final-try":
                findings.append(
                    Finding(
                        level: .warning, area: area, text: state.description,
                        advice: "make sure of the PIN before signing; signctl asks for --last-try"))
            case "count-low":
                findings.append(Finding(level: .warning, area: area, text: state.description, advice: nil))
            case "must-change", "not-initialized":
                findings.append(
                    Finding(
                        level: .problem, area: area, text: state.description,
                        advice: "set or change the PIN with the vendor's tool"))
            default:
                break
            }
            let offered = token.certificates.filter(\.eligibility.isOffered)
            if let problem = token.problem {
                findings.append(Finding(level: .problem, area: area, text: "certificates unreadable: \(problem)", advice: nil))
            } else if offered.isEmpty {
                findings.append(
                    Finding(
                        level: .warning, area: area, text: "no certificate offered for signing",
                        advice: "`signctl tokens --all` shows each certificate and why it is not offered"))
            } else {
                findings.append(
                    Finding(
                        level: .ok, area: area,
                        text: "\(offered.count) signing certificate(s)"
                            + (state.summary == "ok" ? "; \(state.description)" : ""), advice: nil))
            }
        }
        if inventory.tokens.isEmpty {
            findings.append(
                Finding(
                    level: .warning, area: "tokens", text: "no token found",
                    advice: unsourcedRig.map { "the rig's card and SoftHSM2 tokens are there once this shell has run `\($0.sourceCommand)`" }
                        ?? "insert the DSC token; for a software token pass its module with --module"))
        }
        return findings
    }
}
