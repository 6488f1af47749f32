import ArgumentParser
import Foundation
import SignKit

/// `signctl records ...`: the officer's side of a records service's DSC login.
struct RecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Log in to a department's records service with your DSC, or log out; its department log and monitor.",
        discussion: """
            After `signctl records login`, the file commands given the same --records URL (history, scan, report, \
            sign --records) act as you, with the roles the records service's roster gives you.
            """,
        subcommands: [RecordsLogin.self, RecordsLogout.self, RosterCommand.self, RecordsLog.self, RecordsMonitor.self])
}

struct RecordsLogin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign the records service's login challenge on your token and keep the session it answers with.",
        discussion: """
            The service issues a challenge naming itself and a fresh nonce; your token signs it (the PIN dialog says it \
            is a LOGIN, not a note); the service checks the signature and its roster and answers with a short-lived \
            session, kept in the state folder (sessions/, mode 0600) until it expires or you log out.
            """)

    @OptionGroup var records: RecordsOptions
    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var keyOptions: KeyOptions

    func run() throws {
        guard let url = records.service else { throw ValidationError("give --records URL, the records service to log in to") }
        let client = try DaemonClient(service: url, token: "")
        let challenge = try client.call("POST", "/v1/login/challenge", as: ChallengeAnswer.self)
        guard let bytes = Data(base64Encoded: challenge.challenge) else {
            throw CommandFailure(status: .environment, message: "the records service's challenge is not base64")
        }
        let signed = try ExtractSigner(tokens: try tokenOptions.manager()).signLogin(
            challenge: Array(bytes), key: try keyOptions.requiredKey(), login: keyOptions.loginOptions, pin: keyOptions.pinSource,
            origin: nil, at: Date())
        let session = try client.call(
            "POST", "/v1/login", body: LoginRequestBody(challenge: Array(bytes), signature: signed.signature), as: SessionAnswer.self,
            refusal: { [401, 403].contains($0) ? .failure : DaemonClient.defaultRefusal($0) })
        let path = DaemonClient.sessionPath(service: client.base, state: records.state)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Array((session.token + "\n").utf8), to: path, mode: 0o600)
        } catch {
            throw CommandFailure(status: .environment, message: "cannot keep the session in \(path): \(error)")
        }
        let member = session.member
        print(
            "logged in to \(client.base) as \(member.name) (\(member.role.rawValue), \(member.department)"
                + (member.minister.map { ", for \($0)" } ?? "") + ") until \(session.expires)")
    }
}

struct RecordsLogout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "End the session with a records service.")

    @OptionGroup var records: RecordsOptions

    func run() throws {
        guard let url = records.service else { throw ValidationError("give --records URL") }
        let path = DaemonClient.sessionPath(service: try DaemonClient(service: url, token: "").base, state: records.state)
        guard let token = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else {
            print("not logged in to \(url)")
            return
        }
        _ = try? DaemonClient(service: url, token: token).send("POST", "/v1/logout", body: nil, refusal: DaemonClient.defaultRefusal)
        unlink(path)
        print("logged out of \(url)")
    }
}

/// `signctl records roster ...`: who may come into a records service, managed by its admin (a member with the admin
/// role logged in with `signctl records login`, or the operator on the service's machine).
struct RosterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roster", abstract: "List, add or remove the members of a records service's roster.",
        subcommands: [RosterList.self, RosterAdd.self, RosterRemove.self])
}

struct RosterList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every member: certificate, name, department, role.")

    @OptionGroup var records: RecordsOptions
    @Flag(help: "The list as JSON.") var json = false

    func run() throws {
        guard let client = try records.client() else { throw ValidationError("give --records URL") }
        let roster = try client.call("GET", "/v1/roster", as: RosterAnswer.self)
        if json { return print(try JSONOutput.string(roster)) }
        for member in roster.members {
            print("\(member.fingerprint)  \(member.role.rawValue)\t\(member.department)\t\(member.name)" + (member.minister.map { " (for \($0))" } ?? ""))
        }
        print("\(roster.members.count) member(s)")
    }
}

struct RosterAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a member by their DSC certificate, or change the member it already names.")

    @OptionGroup var records: RecordsOptions
    @Option(help: ArgumentHelp("The member's DSC certificate (PEM or DER).", valueName: "file")) var certificate: String
    @Option(help: "The member's name as the service shows it.") var name: String
    @Option(help: "Their department.") var department: String
    @Option(help: "officer, pps, minister, nodal, auditor or admin.") var role: String
    @Option(help: "For a PPS/PS: whose; for a Minister: their own name as approval requests give it.") var minister: String?

    func run() throws {
        guard let client = try records.client() else { throw ValidationError("give --records URL") }
        guard let kind = RosterRole(rawValue: role) else {
            throw ValidationError("--role must be one of \(RosterRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let read: [X509Certificate]
        do {
            read = try CertificateFolder.load(file: certificate)
        } catch {
            throw CommandFailure(status: .usage, message: "\(certificate) is not a certificate: \(error)")
        }
        guard let certificate = read.first else { throw CommandFailure(status: .usage, message: "\(self.certificate) holds no certificate") }
        let member = RosterMember(
            fingerprint: Hex.encode(certificate.sha256Fingerprint), name: name, department: department, role: kind, minister: minister)
        let added = try client.call("POST", "/v1/roster", body: member, as: RosterMember.self)
        print("\(added.name): \(added.role.rawValue) of \(added.department), certificate \(added.fingerprint)")
    }
}

struct RosterRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a member; their sessions end at once.")

    @OptionGroup var records: RecordsOptions
    @Argument(help: ArgumentHelp("The member's certificate SHA-256 (hex), as `roster list` prints it.", valueName: "fingerprint"))
    var fingerprint: String

    func run() throws {
        guard let client = try records.client() else { throw ValidationError("give --records URL") }
        _ = try client.send("DELETE", "/v1/roster/\(fingerprint.lowercased())", body: nil, refusal: DaemonClient.defaultRefusal)
        print("removed \(fingerprint.lowercased())")
    }
}
