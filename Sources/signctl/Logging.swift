import Foundation
import Logging

/// signctl talks to people on stdout and stderr; library log lines go to stderr only with SIGNCTL_LOG set
/// (trace, debug, info, notice, warning, error, critical).
func quietLogger() -> Logger {
    var logger = Logger(label: "signctl") { label in StreamLogHandler.standardError(label: label) }
    let level = ProcessInfo.processInfo.environment["SIGNCTL_LOG"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .critical
    return logger
}
