import ArgumentParser
import Foundation
import SignKit

/// Where the running daemon is and the admin token that proves signctl runs as the daemon's user.
struct ServiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's URL.", valueName: "url"))
    var service = "http://127.0.0.1:8787"

    @OptionGroup var state: StateOptions

    func client() throws -> DaemonClient { try DaemonClient(service: service, state: state) }
}

/// Talks to a running daemon as a local program: the admin token from the state folder proves signctl runs as the
/// daemon's user. Answers other than 2xx become failures carrying the daemon's error message.
struct DaemonClient {
    private(set) var base: String
    private(set) var token: String
    /// How `token` is sent: "Bearer" (an admin token or a session), or "ApiKey" (a machine's API key).
    var scheme = "Bearer"
    var timeout: Double = 60

    /// As the operator of the daemon whose state folder is `state` (its admin token), or, when `session` is true and
    /// `signctl records login` left a session for `service` in that folder, as the person logged in.
    init(service: String, state: StateOptions, session: Bool = false) throws {
        try self.init(service: service, token: "")
        if session, let text = try? String(contentsOfFile: Self.sessionPath(service: base, state: state), encoding: .utf8) {
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return
        }
        let path = ServicePaths.adminToken(in: state.folder)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CommandFailure(
                status: .environment,
                message: "cannot read \(path): is the daemon running as this user (or give --state-dir)?"
                    + (session ? " For a records service elsewhere, log in first: signctl records login --records \(base) --key ..." : ""))
        }
        token = text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// With `token` sent as the Bearer credential ("" for routes that need none, such as a login's).
    init(service: String, token: String) throws {
        guard let url = URL(string: service), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw CommandFailure(status: .usage, message: "--service \(service) is not a URL like http://127.0.0.1:8787")
        }
        // The admin token (and a PIN, when one is sent) must not cross a network in clear.
        guard scheme == "https" || Self.isLoopback(url.host!) else {
            throw CommandFailure(
                status: .usage,
                message: "--service \(service): plain http is only for the daemon on this machine (127.0.0.1, ::1, localhost); use https for another host")
        }
        base = service.hasSuffix("/") ? String(service.dropLast()) : service
        self.token = token
    }

    /// Where `signctl records login` keeps the session for a records service: sessions/<SHA-256 of its URL> in the
    /// state folder, mode 0600.
    static func sessionPath(service: String, state: StateOptions) -> String {
        state.folder + "/sessions/" + Hex.encode(SHA256Hasher.hash(Array(service.utf8)))
    }

    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if name == "localhost" || name == "::1" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// One exchange with the daemon at `path` (`run` sends it, given the exchange and the admin token's header):
    /// the body of a 2xx answer. `refusal` maps the status of any other answer to signctl's exit status.
    private func exchange(
        _ path: String, maximumSize: Int = 64 << 20, refusal: (Int) -> ExitStatus,
        _ run: (HTTPExchange, [String: String]) throws(HTTPExchange.Failure) -> (status: Int, body: [UInt8])
    ) throws -> [UInt8] {
        var headers = [String: String]()
        return try exchange(path, maximumSize: maximumSize, refusal: refusal, answerHeaders: &headers) { http, auth throws(HTTPExchange.Failure) in
            let answer = try run(http, auth)
            return (answer.status, [:], answer.body)
        }
    }

    private func exchange(
        _ path: String, maximumSize: Int = 64 << 20, refusal: (Int) -> ExitStatus, answerHeaders: inout [String: String],
        _ run: (HTTPExchange, [String: String]) throws(HTTPExchange.Failure) -> (status: Int, headers: [String: String], body: [UInt8])
    )
        throws -> [UInt8]
    {
        guard let url = URL(string: base + path) else { throw CommandFailure(status: .usage, message: "\(base + path) is not a URL") }
        let answer: (status: Int, headers: [String: String], body: [UInt8])
        do {
            answer = try run(HTTPExchange(service: "the daemon", url: url, timeout: timeout, maximumSize: maximumSize), ["Authorization": "\(scheme) \(token)"])
        } catch {
            throw CommandFailure(status: .environment, message: error.description)
        }
        try Self.check((answer.status, answer.body), refusal: refusal)
        answerHeaders = answer.headers
        return answer.body
    }

    /// `send`, with the answer's headers (lower-case names).
    func sendReadingHeaders(
        _ method: String, _ path: String, body: [UInt8], contentType: String = "application/json",
        refusal: (Int) -> ExitStatus = DaemonClient.defaultRefusal
    ) throws -> (body: [UInt8], headers: [String: String]) {
        var headers = [String: String]()
        let answer = try exchange(path, refusal: refusal, answerHeaders: &headers) { http, auth throws(HTTPExchange.Failure) in
            try http.sendReadingHeaders(method: method, headers: auth.merging(["Content-Type": contentType]) { $1 }, body: body)
        }
        return (answer, headers)
    }

    /// The body of a 2xx answer.
    func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
        maximumSize: Int = 64 << 20, refusal: (Int) -> ExitStatus = DaemonClient.defaultRefusal
    ) throws -> [UInt8] {
        try exchange(path, maximumSize: maximumSize, refusal: refusal) { http, auth throws(HTTPExchange.Failure) in
            try http.send(method: method, headers: body == nil ? auth : auth.merging(["Content-Type": contentType]) { $1 }, body: body)
        }
    }

    /// A GET whose answer streams to `output` (replaced whole, never half-written); returns its size.
    func download(_ path: String, to output: String) throws -> Int {
        _ = try exchange(path, refusal: Self.defaultRefusal) { http, auth throws(HTTPExchange.Failure) in
            try http.download(headers: auth, total: 6 * 3600) { temporary in
                try AtomicFile.replace(output) { target in
                    try FileManager.default.copyItem(atPath: temporary, toPath: target)
                }
            }
        }
        return (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
    }

    /// A request whose body streams from the file at `file`; the answer of a 2xx, decoded as `type`.
    func upload<Answer: Decodable>(
        _ method: String, _ path: String, file: String, headers extra: [String: String], as type: Answer.Type,
        refusal: (Int) -> ExitStatus = DaemonClient.defaultRefusal
    ) throws -> Answer {
        let body = try exchange(path, refusal: refusal) { http, auth throws(HTTPExchange.Failure) in
            try http.send(method: method, headers: extra.merging(auth) { $1 }, bodyFile: file, total: 6 * 3600)
        }
        return try Self.read(type, from: body, "the daemon's answer to \(method) \(path)")
    }

    static func read<Answer: Decodable>(_ type: Answer.Type, from body: [UInt8], _ what: String) throws -> Answer {
        do {
            return try JSONOutput.decoder().decode(type, from: Data(body))
        } catch {
            throw CommandFailure(status: .environment, message: "\(what) does not read: \(error)")
        }
    }

    static func check(_ answer: (status: Int, body: [UInt8]), refusal: (Int) -> ExitStatus = DaemonClient.defaultRefusal) throws {
        guard (200..<300).contains(answer.status) else {
            let reason = (try? JSONDecoder().decode(ErrorAnswer.self, from: Data(answer.body)))?.error ?? "no reason given"
            throw CommandFailure(status: refusal(answer.status), message: "the daemon refused (HTTP \(answer.status)): \(reason)")
        }
    }

    static func defaultRefusal(_ status: Int) -> ExitStatus { status >= 500 ? .environment : .usage }

    /// A request with an optional JSON body (a wire type of SignKit/API) whose JSON answer decodes as `type` (times as
    /// 2026-11-23T07:01:49Z).
    func call<Answer: Decodable>(
        _ method: String, _ path: String, body: (any Encodable)? = nil, as type: Answer.Type,
        refusal: (Int) -> ExitStatus = DaemonClient.defaultRefusal
    ) throws -> Answer {
        let bytes = try body.map { Array(try JSONOutput.encoder(pretty: false).encode($0)) }
        let answer = try send(method, path, body: bytes, refusal: refusal)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: Data(answer))
        } catch {
            throw CommandFailure(status: .environment, message: "the daemon's answer to \(method) \(path) does not read: \(error)")
        }
    }

    /// A file number as one path segment ("GAD-11011/3/2026" -> "GAD-11011%2F3%2F2026").
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// `--agent URL` (or `--service URL`): the token commands that can work through the officer's running agent instead
/// of the tokens directly.
struct DaemonOptions: ParsableArguments {
    @Option(
        name: [.customLong("agent"), .customLong("service")],
        help: ArgumentHelp(
            "Work through the running agent at this URL (e.g. http://127.0.0.1:8787) instead of the tokens directly; signctl shows the agent's admin token from --state-dir.",
            valueName: "url"))
    var service: String?

    @OptionGroup var state: StateOptions

    func client() throws -> DaemonClient? {
        try service.map { try DaemonClient(service: $0, state: state) }
    }
}

/// `--records URL` (or `--service URL`): the file commands that work through the department's records service
/// instead of a local store. signctl calls it as its operator, with the admin token of its state folder (--state-dir).
struct RecordsOptions: ParsableArguments {
    @Option(
        name: [.customLong("records"), .customLong("service")],
        help: ArgumentHelp(
            "Work through the records service at this URL (e.g. https://records.example.gov.in) instead of a local store: as the person logged in with `signctl records login`, else as its operator with the admin token from --state-dir (signctl on the service's machine).",
            valueName: "url"))
    var service: String?

    @OptionGroup var state: StateOptions

    func client() throws -> DaemonClient? {
        try service.map { try DaemonClient(service: $0, state: state, session: true) }
    }
}

/// The daemon's state folder (where its admin token and audit log are).
struct StateOptions: ParsableArguments {
    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "The daemon's state folder; default as the daemon's ($SIGNSERVICE_STATE, $XDG_STATE_HOME/signservice, ~/.local/state/signservice).",
            valueName: "path"))
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
        static let configuration = CommandConfiguration(
            abstract: "Approve the pairing request with this code (as the page and the daemon show it, e.g. 123-456).",
            discussion: "Shows which web page asked and asks you to confirm; --yes approves without asking (scripts).")
        @Argument(help: "The code.") var code: String
        @Flag(help: "Approve without asking (the page's origin is still printed).") var yes = false
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let client = try options.client()
            let digits = code.filter(\.isNumber)
            let pending = try client.call("GET", "/v1/admin/pairings", as: PairingListAnswer.self).pending
            guard let request = pending.first(where: { $0.code.filter(\.isNumber) == digits }) else {
                throw CommandFailure(status: .usage, message: "no pending pairing request has the code \(code) (expired, already approved, or mistyped)")
            }
            print("The web page \(request.origin) asks to pair with this agent (code \(request.code), valid until \(request.expires)).")
            print("Once paired it may list your tokens and ask for signatures; each signature still needs your PIN.")
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw CommandFailure(status: .usage, message: "not approved: confirm on a terminal, or give --yes")
                }
                print("Approve \(request.origin)? [y/N] ", terminator: "")
                guard let answer = readLine(), ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw CommandFailure(status: .failure, message: "not approved")
                }
            }
            let answer = try client.call("POST", "/v1/admin/pairings/approve", body: PairingApproval(code: code), as: PairingApproved.self)
            print("paired \(answer.origin)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List paired origins and pending requests.")
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let answer = try options.client().call("GET", "/v1/admin/pairings", as: PairingListAnswer.self)
            for pairing in answer.paired {
                print(
                    "paired   \(pairing.origin)  since \(pairing.created)  until \(pairing.expires ?? "?")  last used \(pairing.lastUsed ?? "never")")
            }
            for pending in answer.pending {
                print("pending  \(pending.origin)  code \(pending.code)  until \(pending.expires)")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke every pairing token of an origin.")
        @Argument(help: "The origin, e.g. https://eoffice.example.gov.in") var origin: String
        @OptionGroup var options: ServiceOptions
        func run() throws {
            let encoded = origin.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? origin
            let answer = try options.client().call("DELETE", "/v1/admin/pairings?origin=\(encoded)", as: PairingRevoked.self)
            print("revoked \(answer.revoked) token(s) of \(origin)")
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
