import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignKit

/// Where the running daemon is and the admin token that proves signctl runs as the daemon's user.
struct ServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's URL.", valueName: "url"))
    var service = "http://127.0.0.1:8787"

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The daemon's state folder (holds admin.token); default as the daemon's.", valueName: "path"))
    var stateDirectory: String?

    func adminToken() throws -> String {
        let folder = stateDirectory ?? Self.defaultStateDirectory()
        guard let text = try? String(contentsOfFile: folder + "/admin.token", encoding: .utf8) else {
            throw CommandFailure(status: .environment, message: "cannot read \(folder)/admin.token: is the daemon running as this user (or give --state-dir)?")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func defaultStateDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["SIGNSERVICE_STATE"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/signservice" }
        return NSHomeDirectory() + "/.local/state/signservice"
    }

    /// One request to the daemon with the admin token; the JSON body of a 2xx answer, else a failure naming the error.
    func call(_ method: String, _ path: String, json: [String: String]? = nil) throws -> Any {
        guard let url = URL(string: service + path) else { throw CommandFailure(status: .usage, message: "--service \(service) is not a URL") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(try adminToken())", forHTTPHeaderField: "Authorization")
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let outcome = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome.value = (data, response as? HTTPURLResponse, error)
            done.signal()
        }.resume()
        done.wait()
        guard let (data, response, error) = outcome.value, let response else {
            throw CommandFailure(status: .environment, message: "the daemon at \(service) does not answer: \(outcome.value?.2?.localizedDescription ?? "no response")")
        }
        _ = error
        let object = data.flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [:]
        guard (200..<300).contains(response.statusCode) else {
            let message = (object as? [String: Any])?["error"] as? String ?? "HTTP \(response.statusCode)"
            throw CommandFailure(status: .usage, message: "the daemon refused: \(message)")
        }
        return object
    }

    final class Box: @unchecked Sendable { var value: (Data?, HTTPURLResponse?, (any Error)?)? }
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
            let answer = try options.call("POST", "/v1/admin/pairings/approve", json: ["code": code]) as? [String: Any]
            print("paired \(answer?["origin"] as? String ?? "?")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List paired origins and pending requests.")
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let answer = try options.call("GET", "/v1/admin/pairings") as? [String: Any]
            for pairing in answer?["paired"] as? [[String: Any]] ?? [] {
                print("paired   \(pairing["origin"] as? String ?? "?")  since \(pairing["created"] as? String ?? "?")")
            }
            for pending in answer?["pending"] as? [[String: Any]] ?? [] {
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
            let answer = try options.call("DELETE", "/v1/admin/pairings?origin=\(encoded)") as? [String: Any]
            print("revoked \(answer?["revoked"] as? Int ?? 0) token(s) of \(origin)")
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
        func run() throws {
            let path = log ?? ServiceOptions.defaultStateDirectory() + "/audit.log"
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
