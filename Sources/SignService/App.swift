import Hummingbird
import Logging
import SignKit

/// What the daemon needs to start. Defaults bind loopback only.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level

    public init(host: String = "127.0.0.1", port: Int = 8787, logLevel: Logger.Level = .info) {
        self.host = host
        self.port = port
        self.logLevel = logLevel
    }
}

/// GET /v1/health: the daemon answers and says which version it is.
struct Health: ResponseEncodable {
    let status: String
    let version: String
}

/// The router with every endpoint. Kept apart from `buildApplication` so tests drive it without a socket.
func buildRouter() -> Router<BasicRequestContext> {
    let router = Router()
    router.get("/v1/health") { _, _ in
        Health(status: "ok", version: SignKitVersion.string)
    }
    return router
}

public func buildApplication(_ configuration: ServiceConfiguration) -> some ApplicationProtocol {
    var logger = Logger(label: "signservice")
    logger.logLevel = configuration.logLevel
    return Application(
        router: buildRouter(),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "SignService"),
        logger: logger
    )
}
