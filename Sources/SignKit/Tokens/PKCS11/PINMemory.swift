import CPKCS
import Foundation

/// The process that holds PINs for C_Login (and a kept session's HMAC key) keeps them out of core dumps and out of
/// reach of the same user's other processes.
public enum PINMemory {
    /// prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0: no core file, no ptrace attach and no /proc/PID/mem read by another
    /// process of the same user (only root can still look). Call once at start, before any PIN is read.
    public static func protect() throws {
        guard cprocess_set_not_dumpable() == 0 else {
            throw PINMemoryError("cannot mark the process not dumpable (prctl PR_SET_DUMPABLE): \(String(cString: strerror(errno)))")
        }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none) == 0 else {
            throw PINMemoryError("cannot turn off core dumps (setrlimit RLIMIT_CORE): \(String(cString: strerror(errno)))")
        }
    }
}

/// The process could not be protected; the daemon does not start.
public typealias PINMemoryError = SingleCodeError<PINMemoryErrorDomain>

public enum PINMemoryErrorDomain: SingleCodeDomain { public static let codeName = "process-protection" }
