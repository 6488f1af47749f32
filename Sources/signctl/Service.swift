import ArgumentParser
import Foundation
import SignKit

/// Where the running daemon is and the admin token that proves signctl runs as the daemon's user.
struct ServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's URL.", valueName: "url"))
    var service = "http://127.0.0.1:8787"

    @OptionGroup var state: StateOptions

    func adminToken() throws -> String {
        let path = ServicePaths.adminToken(in: state.folder)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CommandFailure(status: .environment, message: "cannot read \(path): is the daemon running as this user (or give --state-dir)?")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One request to the daemon with the admin token; the JSON body of a 2xx answer, else a failure naming the error.
    func call(_ method: String, _ path: String, json: [String: String]? = nil) throws -> [String: Any] {
        guard let url = URL(string: service + path) else { throw CommandFailure(status: .usage, message: "--service \(service) is not a URL") }
        var headers = ["Authorization": "Bearer \(try adminToken())"]
        var body: [UInt8]? = nil
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json))
            headers["Content-Type"] = "application/json"
        }
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try HTTPExchange(service: "the daemon", url: url, timeout: 30).send(method: method, headers: headers, body: body)
        } catch {
            throw CommandFailure(status: .environment, message: error.description)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] ?? [:]
        guard (200..<300).contains(answer.status) else {
            throw CommandFailure(status: .usage, message: "the daemon refused: \(object["error"] as? String ?? "HTTP \(answer.status)")")
        }
        return object
    }
}

/// The daemon's state folder (where its admin token and audit log are).
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The daemon's state folder; default as the daemon's ($SIGNSERVICE_STATE, $XDG_STATE_HOME/signservice, ~/.local/state/signservice).", valueName: "path"))
    var stateDirectory: String?

    var folder: String { stateDirectory ?? ServicePaths.defaultStateDirectory() }
}

struct Pair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve, list or revoke the web pages paired with the running daemon.",
        discussion: """
            A page asks the daemon to pair (POST /v1/pairings); the daemon logs a six-digit code. Approve it here \
            only if you opened that page yourself: the page then gets a token for its origin and may list tokens \
            and ask for signatures (the PIN is still yours to give).
            """,
        subcommands: [Approve.self, List.self, Revoke.self])

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve the pairing request with this code (as the daemon logged it, e.g. 123-456).")
        @Argument(help: "The code.") var code: String
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let answer = try options.call("POST", "/v1/admin/pairings/approve", json: ["code": code])
            print("paired \(answer["origin"] as? String ?? "?")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List paired origins and pending requests.")
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let answer = try options.call("GET", "/v1/admin/pairings")
            for pairing in answer["paired"] as? [[String: Any]] ?? [] {
                print("paired   \(pairing["origin"] as? String ?? "?")  since \(pairing["created"] as? String ?? "?")")
            }
            for pending in answer["pending"] as? [[String: Any]] ?? [] {
                print("pending  \(pending["origin"] as? String ?? "?")  code \(pending["code"] as? String ?? "?")  until \(pending["expires"] as? String ?? "?")")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke every pairing token of an origin.")
        @Argument(help: "The origin, e.g. https://eoffice.example.gov.in") var origin: String
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let encoded = origin.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? origin
            let answer = try options.call("DELETE", "/v1/admin/pairings?origin=\(encoded)")
            print("revoked \(answer["revoked"] as? Int ?? 0) token(s) of \(origin)")
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the daemon's audit log.",
        subcommands: [AuditVerify.self])

    struct AuditVerify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every record's hash and the chain between records (exit 0 intact, 1 a problem found).",
            discussion: "The last records cut off cannot be seen from the chain: compare the printed head with one noted earlier.")
        @Argument(help: ArgumentHelp("The audit log (default: the state folder's audit.log).", valueName: "log"))
        var log: String?
        @OptionGroup var state: StateOptions
        func run() throws {
            let path = log ?? ServicePaths.auditLog(in: state.folder)
            let summary: AuditSummary
            do {
                summary = try AuditLog.verify(path: path)
            } catch {
                throw CommandFailure(status: .usage, message: "\(error)")
            }
            if let problem = summary.problem {
                print("NOT INTACT: \(problem) (\(summary.records) records verified before it)")
                throw ExitCode(1)
            }
            print("intact: \(summary.records) records, head \(summary.head)")
        }
    }
}
