import Foundation
import HTTPTypes
import Hummingbird
import SignKit

extension ChallengeAnswer: ResponseEncodable {}
extension SessionAnswer: ResponseEncodable {}
extension RosterAnswer: ResponseEncodable {}
extension RosterMember: ResponseEncodable {}
extension APIKeyCreatedAnswer: ResponseEncodable {}
extension APIKeyListAnswer: ResponseEncodable {}
extension LoginSignAnswer: ResponseEncodable {}

/// The records service's routes: health, logins, the roster and API keys (here), files and entries, approval
/// requests and scans (RecordsRoutes, ScanRoutes), verification. Every route but health and login names its caller
/// (a session, an API key, or the operator's admin token from loopback) and is authorized by `Access`.
func buildRecordsRouter(_ state: ServiceState) throws -> Router<ServiceRequestContext> {
    let router = Router(context: ServiceRequestContext.self)
    router.add(middleware: BrowserGuard(state: state))
    let desk = try state.recordsDesk
    router.get("/v1/health") { _, _ in HealthAnswer(status: "ok", version: SignKitVersion.string) }
    addAccessRoutes(to: router, state: state, desk: desk)
    addRecordsRoutes(to: router, state: state, desk: desk)
    addScanRoutes(to: router, state: state)
    addLogRoutes(to: router, state: state, desk: desk)
    addVerifyRoute(to: router, state: state) { context in _ = try await state.authorize(context, .verify) }
    return router
}

func addAccessRoutes(to router: Router<ServiceRequestContext>, state: ServiceState, desk: RecordsDesk) {
    @Sendable func access() throws -> Access {
        guard let access = desk.access else {
            throw RecordsError(.verifierUnavailable, "nobody can log in: \(state.verifierProblem ?? "verification is unavailable")")
        }
        return access
    }

    // Login with the DSC: a challenge, signed by the officer's token (through their agent or signctl), exchanged for
    // a session.
    router.post("/v1/login/challenge") { _, _ -> EditedResponse<ChallengeAnswer> in
        let access = try access()
        return EditedResponse(status: .created, response: ChallengeAnswer(try await blocking { try access.challenge(at: Date()) }))
    }
    router.post("/v1/login") { request, _ -> SessionAnswer in
        let access = try access()
        let body = try await request.decodeSmall(as: LoginRequestBody.self, limit: 256 * 1024)
        guard let challenge = Data(base64Encoded: body.challenge), let signature = Data(base64Encoded: body.signature) else {
            throw AccessError(.invalidRequest, "challenge and signature must be base64")
        }
        return SessionAnswer(try await blocking { try access.login(challenge: Array(challenge), signature: Array(signature), at: Date()) })
    }
    router.post("/v1/logout") { _, context -> Response in
        let access = try access()
        guard let header = context.authorization, header.lowercased().hasPrefix("bearer ") else {
            throw AccessError(.unauthenticated, "log out with the session: Authorization: Bearer <token>")
        }
        _ = try await blocking { try access.logout(token: String(header.dropFirst(7))) }
        return Response(status: .noContent)
    }

    // The roster and API keys: the admin (or the operator on the service's machine).
    router.get("/v1/roster") { _, context -> RosterAnswer in
        _ = try await state.authorize(context, .manageRoster)
        return RosterAnswer(members: try await blocking { try desk.accessStore.members() })
    }
    router.post("/v1/roster") { request, context -> RosterMember in
        let member = try await request.decodeSmall(as: RosterMember.self)
        let who = try await state.authorize(context, .manageRoster).who
        try await blocking {
            try member.validate()
            try desk.accessStore.putMember(member)
        }
        try state.record(
            committed: true,
            AuditRecord(
                time: Date(), action: "roster-changed", result: "ok", origin: who, certificate: member.fingerprint,
                detail: "\(member.name): \(member.role.rawValue) of \(member.department)" + (member.minister.map { " for \($0)" } ?? "")))
        return member
    }
    router.delete("/v1/roster/{fingerprint}") { _, context -> Response in
        let fingerprint = try context.parameters.require("fingerprint").lowercased()
        let who = try await state.authorize(context, .manageRoster).who
        guard try await blocking({ try desk.accessStore.removeMember(fingerprint: fingerprint) }) else {
            throw HTTPError(.notFound, message: "no roster member has the certificate \(fingerprint)")
        }
        try state.record(
            committed: true, AuditRecord(time: Date(), action: "roster-changed", result: "ok", origin: who, certificate: fingerprint, detail: "removed"))
        return Response(status: .noContent)
    }
    router.post("/v1/keys") { request, context -> EditedResponse<APIKeyCreatedAnswer> in
        let body = try await request.decodeSmall(as: APIKeyRequestBody.self)
        let who = try await state.authorize(context, .manageKeys).who
        let access = try access()
        let made = try await blocking { try access.createKey(name: body.name, scopes: body.scopes, department: body.department, at: Date()) }
        try state.record(
            committed: true,
            AuditRecord(
                time: Date(), action: "key-created", result: "ok", origin: who,
                detail: "\(made.key.id) \"\(made.key.name)\": \(made.key.scopes.joined(separator: " ")) in \(made.key.department ?? "every department")"))
        return EditedResponse(status: .created, response: APIKeyCreatedAnswer(key: made.key, secret: made.secret))
    }
    router.get("/v1/keys") { _, context -> APIKeyListAnswer in
        _ = try await state.authorize(context, .manageKeys)
        return APIKeyListAnswer(keys: try await blocking { try desk.accessStore.keys() })
    }
    router.delete("/v1/keys/{id}") { _, context -> Response in
        let id = try context.parameters.require("id")
        let who = try await state.authorize(context, .manageKeys).who
        guard try await blocking({ try desk.accessStore.revokeKey(id: id) }) else {
            throw HTTPError(.notFound, message: "there is no API key \(id)")
        }
        try state.record(committed: true, AuditRecord(time: Date(), action: "key-revoked", result: "ok", origin: who, detail: id))
        return Response(status: .noContent)
    }
}
