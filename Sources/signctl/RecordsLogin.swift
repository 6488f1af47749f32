import ArgumentParser
import Foundation
import SignKit

/// `signctl records ...`: the officer's side of a records service's DSC login.
struct RecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Log in to a department's records service with your DSC, or log out.",
        discussion: """
            After `signctl records login`, the file commands given the same --records URL (history, scan, report, \
            sign --records) act as you, with the roles the records service's roster gives you.
            """,
        subcommands: [RecordsLogin.self, RecordsLogout.self])
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
