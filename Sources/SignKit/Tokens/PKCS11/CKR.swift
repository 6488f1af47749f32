import CPKCS

/// PKCS#11 return values (CK_RV): their names and what each means for an officer, for errors and `signctl doctor`.
public enum CKR {
    struct Entry {
        let name: String
        let meaning: String
    }

    static let table: [UInt: Entry] = [
        UInt(CKR_OK): Entry(name: "CKR_OK", meaning: "success"),
        UInt(CKR_CANCEL): Entry(name: "CKR_CANCEL", meaning: "the operation was cancelled on the token"),
        UInt(CKR_HOST_MEMORY): Entry(name: "CKR_HOST_MEMORY", meaning: "the computer ran out of memory"),
        UInt(CKR_SLOT_ID_INVALID): Entry(name: "CKR_SLOT_ID_INVALID", meaning: "the reader slot no longer exists (reader unplugged?)"),
        UInt(CKR_GENERAL_ERROR): Entry(name: "CKR_GENERAL_ERROR", meaning: "the token driver failed; unplug and replug the token, then try again"),
        UInt(CKR_FUNCTION_FAILED): Entry(name: "CKR_FUNCTION_FAILED", meaning: "the token could not complete the request"),
        UInt(CKR_ARGUMENTS_BAD): Entry(name: "CKR_ARGUMENTS_BAD", meaning: "the driver rejected the request's arguments (a bug in the caller)"),
        UInt(CKR_ATTRIBUTE_TYPE_INVALID): Entry(name: "CKR_ATTRIBUTE_TYPE_INVALID", meaning: "the token does not have that attribute"),
        UInt(CKR_ATTRIBUTE_SENSITIVE): Entry(name: "CKR_ATTRIBUTE_SENSITIVE", meaning: "the attribute is secret and cannot be read"),
        UInt(CKR_DEVICE_ERROR): Entry(name: "CKR_DEVICE_ERROR", meaning: "the token reported a hardware error or stopped answering"),
        UInt(CKR_DEVICE_MEMORY): Entry(name: "CKR_DEVICE_MEMORY", meaning: "the token's memory is full"),
        UInt(CKR_DEVICE_REMOVED): Entry(name: "CKR_DEVICE_REMOVED", meaning: "the token was removed during the operation; insert it and try again"),
        UInt(CKR_DATA_LEN_RANGE): Entry(name: "CKR_DATA_LEN_RANGE", meaning: "the data is too long or too short for this key"),
        UInt(CKR_KEY_HANDLE_INVALID): Entry(name: "CKR_KEY_HANDLE_INVALID", meaning: "the key is gone (token replaced or re-inserted)"),
        UInt(CKR_KEY_TYPE_INCONSISTENT): Entry(name: "CKR_KEY_TYPE_INCONSISTENT", meaning: "the key cannot be used with that algorithm"),
        UInt(CKR_KEY_FUNCTION_NOT_PERMITTED): Entry(name: "CKR_KEY_FUNCTION_NOT_PERMITTED", meaning: "the token does not allow this key to sign"),
        UInt(CKR_MECHANISM_INVALID): Entry(name: "CKR_MECHANISM_INVALID", meaning: "the token does not support the signature algorithm"),
        UInt(CKR_MECHANISM_PARAM_INVALID): Entry(name: "CKR_MECHANISM_PARAM_INVALID", meaning: "the token rejected the algorithm's parameters"),
        UInt(CKR_OBJECT_HANDLE_INVALID): Entry(name: "CKR_OBJECT_HANDLE_INVALID", meaning: "the object is gone (token replaced or re-inserted)"),
        UInt(CKR_OPERATION_ACTIVE): Entry(name: "CKR_OPERATION_ACTIVE", meaning: "another operation is running on this session"),
        UInt(CKR_OPERATION_NOT_INITIALIZED): Entry(name: "CKR_OPERATION_NOT_INITIALIZED", meaning: "the operation was not started (a bug in the caller)"),
        UInt(CKR_PIN_INCORRECT): Entry(name: "CKR_PIN_INCORRECT", meaning: "the PIN is wrong; the token counted one failed try"),
        UInt(CKR_PIN_INVALID): Entry(name: "CKR_PIN_INVALID", meaning: "the PIN has characters the token does not accept"),
        UInt(CKR_PIN_LEN_RANGE): Entry(name: "CKR_PIN_LEN_RANGE", meaning: "the PIN is too short or too long for this token"),
        UInt(CKR_PIN_EXPIRED): Entry(name: "CKR_PIN_EXPIRED", meaning: "the PIN has expired and must be changed with the vendor's tool"),
        UInt(CKR_PIN_LOCKED): Entry(
            name: "CKR_PIN_LOCKED", meaning: "the PIN is locked after too many wrong tries; unblock it with the SO PIN (PUK) or ask the CA"),
        UInt(CKR_SESSION_CLOSED): Entry(name: "CKR_SESSION_CLOSED", meaning: "the session was closed (token removed?)"),
        UInt(CKR_SESSION_COUNT): Entry(name: "CKR_SESSION_COUNT", meaning: "the token has too many open sessions"),
        UInt(CKR_SESSION_HANDLE_INVALID): Entry(name: "CKR_SESSION_HANDLE_INVALID", meaning: "the session is gone: the token was removed or re-inserted"),
        UInt(CKR_TOKEN_NOT_PRESENT): Entry(name: "CKR_TOKEN_NOT_PRESENT", meaning: "no token in the reader; insert it"),
        UInt(CKR_TOKEN_NOT_RECOGNIZED): Entry(name: "CKR_TOKEN_NOT_RECOGNIZED", meaning: "the driver does not know this token; a vendor module may be needed"),
        UInt(CKR_USER_ALREADY_LOGGED_IN): Entry(name: "CKR_USER_ALREADY_LOGGED_IN", meaning: "already logged in"),
        UInt(CKR_USER_NOT_LOGGED_IN): Entry(name: "CKR_USER_NOT_LOGGED_IN", meaning: "the PIN must be entered first"),
        UInt(CKR_USER_PIN_NOT_INITIALIZED): Entry(
            name: "CKR_USER_PIN_NOT_INITIALIZED", meaning: "the token has no user PIN set; initialise it with the vendor's tool"),
        UInt(CKR_USER_TYPE_INVALID): Entry(name: "CKR_USER_TYPE_INVALID", meaning: "the token does not know that kind of login"),
        UInt(CKR_BUFFER_TOO_SMALL): Entry(name: "CKR_BUFFER_TOO_SMALL", meaning: "the result did not fit (a bug in the caller)"),
        UInt(CKR_CRYPTOKI_NOT_INITIALIZED): Entry(name: "CKR_CRYPTOKI_NOT_INITIALIZED", meaning: "the module was not initialised"),
        UInt(CKR_CRYPTOKI_ALREADY_INITIALIZED): Entry(name: "CKR_CRYPTOKI_ALREADY_INITIALIZED", meaning: "the module was already initialised in this process"),
        UInt(CKR_FUNCTION_NOT_SUPPORTED): Entry(name: "CKR_FUNCTION_NOT_SUPPORTED", meaning: "the token driver does not implement this function"),
        UInt(CKR_FUNCTION_REJECTED): Entry(name: "CKR_FUNCTION_REJECTED", meaning: "the token or the user refused the operation"),
    ]

    /// "CKR_PIN_INCORRECT", or "CKR 0x..." for a value not in the table (vendor-defined codes).
    public static func name(_ value: UInt) -> String {
        table[value]?.name ?? "CKR 0x\(String(value, radix: 16))"
    }

    /// What the code means in plain words.
    public static func meaning(_ value: UInt) -> String {
        table[value]?.meaning
            ?? (value >= 0x8000_0000
                ? "a vendor-specific error; see the token vendor's documentation" : "an unlisted PKCS#11 error")
    }

    /// The value for a name such as "CKR_PIN_LOCKED" or "0xa4", for `signctl doctor --ckr`.
    public static func value(named text: String) -> UInt? {
        let lower = text.lowercased()
        if lower.hasPrefix("0x") { return UInt(lower.dropFirst(2), radix: 16) }
        if let decimal = UInt(lower) { return decimal }
        let wanted = text.uppercased().hasPrefix("CKR_") ? text.uppercased() : "CKR_" + text.uppercased()
        return table.first { $0.value.name == wanted }?.key
    }
}

extension TokenError {
    /// The module answered CKR_GENERAL_ERROR (what SoftHSM2 says when another session's logout takes away the
    /// private object being read).
    var isGeneralError: Bool { returnValue == UInt(CKR_GENERAL_ERROR) }

    /// The module answered CKR_USER_ALREADY_LOGGED_IN.
    var isUserAlreadyLoggedIn: Bool { returnValue == UInt(CKR_USER_ALREADY_LOGGED_IN) }

    /// The session this came from is gone (token pulled or re-inserted) or no longer logged in: a new login may
    /// succeed where this session cannot.
    public var sessionLost: Bool {
        code == .tokenRemoved || returnValue == UInt(CKR_USER_NOT_LOGGED_IN)
    }
}
