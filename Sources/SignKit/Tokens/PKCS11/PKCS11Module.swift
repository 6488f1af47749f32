import CPKCS
import Foundation
import Synchronization

/// One loaded PKCS#11 module, and the only owner of it in the process: `PKCS11Module.load(path:)` returns the same
/// instance for the same file, so `C_Initialize` and `C_Finalize` happen once per module.
///
/// The module is initialised with CKF_OS_LOCKING_OK, so PKCS#11 allows calls from any thread; sessions are still
/// used by one thread at a time (see `PKCS11Session`). That is why the type is `@unchecked Sendable`.
public final class PKCS11Module: @unchecked Sendable {
    /// The path as resolved on disk.
    public let path: String
    public let info: ModuleInfo
    let functions: CK_FUNCTION_LIST_PTR
    private let handle: Mutex<cpkcs_module>
    private let finalized = Mutex(false)

    public struct ModuleInfo: Sendable, Hashable, Codable {
        public let manufacturer: String
        public let description: String
        public let cryptokiVersion: String
        public let libraryVersion: String
    }

    private static let registry = Mutex<[String: PKCS11Module]>([:])

    /// Loads and initialises the module at `path`, or returns the instance already loaded from the same file.
    public static func load(path: String) throws -> PKCS11Module {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return try registry.withLock { modules in
            if let loaded = modules[resolved] { return loaded }
            let module = try PKCS11Module(resolvedPath: resolved)
            modules[resolved] = module
            return module
        }
    }

    /// Finalises and unloads every module (daemon shutdown, end of a CLI command). Sessions must be closed first.
    public static func finalizeAll() {
        let all = registry.withLock { modules in
            defer { modules.removeAll() }
            return Array(modules.values)
        }
        for module in all { module.finalize() }
    }

    private init(resolvedPath: String) throws {
        var loaded = cpkcs_module()
        var error = [CChar](repeating: 0, count: 512)
        guard cpkcs_module_open(resolvedPath, &loaded, &error, error.count) == 0, let functions = loaded.functions else {
            throw TokenError(.moduleLoad, "cannot load PKCS#11 module \(resolvedPath): \(String(nulTerminated: error))")
        }
        let rv = cpkcs_initialize(functions)
        // ALREADY_INITIALIZED: another library in this process (OpenSSL's pkcs11 engine, p11-kit) did it first.
        guard rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED else {
            cpkcs_module_close(&loaded)
            throw Self.error(rv, "C_Initialize", module: resolvedPath)
        }
        var info = CK_INFO()
        _ = functions.pointee.C_GetInfo?(&info)
        self.path = resolvedPath
        self.functions = functions
        self.handle = Mutex(loaded)
        self.info = ModuleInfo(
            manufacturer: padded(info.manufacturerID),
            description: padded(info.libraryDescription),
            cryptokiVersion: "\(info.cryptokiVersion.major).\(info.cryptokiVersion.minor)",
            libraryVersion: "\(info.libraryVersion.major).\(info.libraryVersion.minor)")
    }

    func finalize() {
        let first = finalized.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        _ = functions.pointee.C_Finalize?(nil)
        handle.withLock { cpkcs_module_close(&$0) }
    }

    // MARK: The chokepoint

    /// Every CK_RV goes through here: CKR_OK (or a value in `accept`) passes, anything else becomes a TokenError
    /// naming the function and the call site.
    @discardableResult
    func check(_ rv: CK_RV, _ function: StaticString, accept: [CK_RV] = [], file: String = #fileID, line: Int = #line) throws -> CK_RV {
        if rv == CKR_OK || accept.contains(rv) { return rv }
        throw Self.error(rv, "\(function)", module: path, file: file, line: line)
    }

    /// A function from the module's list; a module that leaves it empty does not implement it.
    func function<F>(_ member: KeyPath<CK_FUNCTION_LIST, F?>, _ name: StaticString, file: String = #fileID, line: Int = #line) throws -> F {
        guard let f = functions.pointee[keyPath: member] else {
            throw TokenError(
                .moduleCall, "\(path) does not implement \(name)", returnValue: UInt(CKR_FUNCTION_NOT_SUPPORTED),
                file: file, line: line)
        }
        return f
    }

    static func error(_ rv: CK_RV, _ function: String, module: String, file: String = #fileID, line: Int = #line) -> TokenError {
        let meaning = CKR.meaning(UInt(rv))
        let code: TokenError.Code
        var retryable = false
        switch rv {
        case CKR_PIN_INCORRECT: code = .pinIncorrect
        case CKR_PIN_LOCKED: code = .pinLocked
        case CKR_PIN_LEN_RANGE, CKR_PIN_INVALID: code = .pinLength
        case CKR_PIN_EXPIRED: code = .pinExpired
        case CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
            CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_RECOGNIZED:
            code = .tokenRemoved
            retryable = true
        case CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID: code = .mechanismUnsupported
        case CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_TYPE_INCONSISTENT, CKR_FUNCTION_REJECTED: code = .keyUseRefused
        case CKR_DEVICE_ERROR, CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED:
            code = .moduleCall
            retryable = true
        default: code = .moduleCall
        }
        return TokenError(code, "\(function): \(meaning)", returnValue: UInt(rv), retryable: retryable, file: file, line: line)
    }

    // MARK: Slots and tokens

    /// Slot ids, only those holding a token when `tokenPresent` is true. Slot ids are for this process's use only:
    /// tokens are chosen by label and serial, never by slot number.
    public func slots(tokenPresent: Bool) throws -> [UInt] {
        let getSlotList = try function(\.C_GetSlotList, "C_GetSlotList")
        let present = CK_BBOOL(tokenPresent ? CK_TRUE : CK_FALSE)
        // The list can grow between the two calls when a reader appears: ask again on CKR_BUFFER_TOO_SMALL.
        for _ in 0..<4 {
            var count: CK_ULONG = 0
            try check(getSlotList(present, nil, &count), "C_GetSlotList")
            var ids = [CK_SLOT_ID](repeating: 0, count: Int(count))
            let rv = getSlotList(present, &ids, &count)
            if rv == CKR_BUFFER_TOO_SMALL { continue }
            try check(rv, "C_GetSlotList")
            return Array(ids.prefix(Int(count)))
        }
        throw TokenError(.moduleCall, "C_GetSlotList: the slot list kept changing", retryable: true)
    }

    public func slotInfo(_ slot: UInt) throws -> SlotInfo {
        var info = CK_SLOT_INFO()
        try check(try function(\.C_GetSlotInfo, "C_GetSlotInfo")(slot, &info), "C_GetSlotInfo")
        return SlotInfo(
            id: slot, description: padded(info.slotDescription), manufacturer: padded(info.manufacturerID),
            tokenPresent: info.flags & cpkcs_CKF_TOKEN_PRESENT != 0,
            removable: info.flags & cpkcs_CKF_REMOVABLE_DEVICE != 0,
            hardware: info.flags & cpkcs_CKF_HW_SLOT != 0)
    }

    public func tokenInfo(_ slot: UInt) throws -> TokenInfo {
        var info = CK_TOKEN_INFO()
        try check(try function(\.C_GetTokenInfo, "C_GetTokenInfo")(slot, &info), "C_GetTokenInfo")
        let flags = info.flags
        let unavailable = cpkcs_CK_UNAVAILABLE_INFORMATION
        return TokenInfo(
            label: padded(info.label), manufacturer: padded(info.manufacturerID), model: padded(info.model),
            serial: padded(info.serialNumber),
            pinState: PINState(
                countLow: flags & cpkcs_CKF_USER_PIN_COUNT_LOW != 0,
                finalTry: flags & cpkcs_CKF_USER_PIN_FINAL_TRY != 0,
                locked: flags & cpkcs_CKF_USER_PIN_LOCKED != 0,
                toBeChanged: flags & cpkcs_CKF_USER_PIN_TO_BE_CHANGED != 0,
                initialized: flags & cpkcs_CKF_USER_PIN_INITIALIZED != 0),
            initialized: flags & cpkcs_CKF_TOKEN_INITIALIZED != 0,
            loginRequired: flags & cpkcs_CKF_LOGIN_REQUIRED != 0,
            protectedAuthenticationPath: flags & cpkcs_CKF_PROTECTED_AUTHENTICATION_PATH != 0,
            minPINLength: info.ulMinPinLen == unavailable ? nil : Int(info.ulMinPinLen),
            maxPINLength: info.ulMaxPinLen == unavailable ? nil : Int(info.ulMaxPinLen))
    }

    public func mechanisms(_ slot: UInt) throws -> Set<UInt> {
        let list = try function(\.C_GetMechanismList, "C_GetMechanismList")
        var count: CK_ULONG = 0
        try check(list(slot, nil, &count), "C_GetMechanismList")
        var types = [CK_MECHANISM_TYPE](repeating: 0, count: Int(count))
        try check(list(slot, &types, &count), "C_GetMechanismList")
        return Set(types.prefix(Int(count)).map { UInt($0) })
    }

    /// A read-only serial session; signing needs no read-write session.
    public func openSession(slot: UInt) throws -> PKCS11Session {
        var session: CK_SESSION_HANDLE = 0
        try check(
            try function(\.C_OpenSession, "C_OpenSession")(slot, cpkcs_CKF_SERIAL_SESSION, nil, nil, &session),
            "C_OpenSession")
        return PKCS11Session(module: self, slot: slot, handle: session)
    }
}

/// CK_SLOT_INFO, as Swift values.
public struct SlotInfo: Sendable, Hashable {
    public let id: UInt
    /// For smart-card modules (OpenSC, vendor modules) the PC/SC reader name.
    public let description: String
    public let manufacturer: String
    public let tokenPresent: Bool
    public let removable: Bool
    public let hardware: Bool
}

/// CK_TOKEN_INFO, as Swift values.
public struct TokenInfo: Sendable, Hashable {
    public let label: String
    public let manufacturer: String
    public let model: String
    public let serial: String
    public let pinState: PINState
    /// CKF_TOKEN_INITIALIZED: false for a blank token (SoftHSM's spare slot, a factory-fresh card).
    public let initialized: Bool
    public let loginRequired: Bool
    /// The PIN is entered on the device (PIN pad), not sent by the host.
    public let protectedAuthenticationPath: Bool
    public let minPINLength: Int?
    public let maxPINLength: Int?
}

/// PKCS#11's fixed-length, blank-padded UTF-8 fields (imported by Swift as tuples) as trimmed strings.
func padded<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}
