import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SignService
@testable import SignKit

@Suite("Daemon")
struct HealthTests {
    @Test("GET /v1/health answers ok with the version")
    func health() async throws {
        let app = Application(router: buildRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/health", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                #expect(body?["status"] == "ok")
                #expect(body?["version"] == SignKitVersion.string)
            }
            try await client.execute(uri: "/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("refuses to bind a non-loopback address unless told")
    func loopbackOnly() throws {
        #expect(throws: (any Error).self) { try SignServiceCommand.parse(["--host", "0.0.0.0"]) }
        #expect(throws: Never.self) { try SignServiceCommand.parse(["--host", "0.0.0.0", "--allow-remote"]) }
        #expect(throws: Never.self) { try SignServiceCommand.parse([]) }
    }
}
