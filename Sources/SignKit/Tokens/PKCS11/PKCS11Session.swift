import CPKCS
import Foundation

/// A PKCS#11 session on one slot. Not Sendable: PKCS#11 sessions are used by one thread at a time; callers that
/// share a token serialise through `TokenLocks`. Closed at deinit if not before.
public final class PKCS11Session {
    let module: PKCS11Module
    let slot: UInt
    private(set) var handle: CK_SESSION_HANDLE
    private var isOpen = true

    init(module: PKCS11Module, slot: UInt, handle: CK_SESSION_HANDLE) {
        self.module = module
        self.slot = slot
        self.handle = handle
    }

    deinit { close() }

    public func close() {
        guard isOpen else { return }
        isOpen = false
        // A session on a pulled token is already gone; the result does not matter.
        _ = module.functions.pointee.C_CloseSession?(handle)
    }

    // MARK: Login

    /// C_Login as the user (or context-specific for CKA_ALWAYS_AUTHENTICATE keys). One call, never repeated:
    /// a wrong PIN is reported to the caller, who decides.
    func login(_ pin: PIN, userType: CK_USER_TYPE = CK_USER_TYPE(CKU_USER)) throws {
        let login = try module.function(\.C_Login, "C_Login")
        let rv: CK_RV = try pin.withBytes { bytes in
            // C_Login takes a non-const pointer; the module only reads it.
            login(handle, userType, UnsafeMutablePointer(mutating: bytes.bindMemory(to: UInt8.self).baseAddress), CK_ULONG(bytes.count))
        }
        // OpenSC shares login state between the sessions of one application: already logged in is success.
        try module.check(rv, "C_Login", accept: userType == CKU_USER ? [CK_RV(CKR_USER_ALREADY_LOGGED_IN)] : [])
    }

    func logout() {
        _ = module.functions.pointee.C_Logout?(handle)
    }

    // MARK: Objects

    /// The objects of one class on the token, those with CKA_ID `id` when it is given.
    func find(_ objectClass: PKCS11ObjectClass, id: [UInt8]? = nil) throws -> [PKCS11Object] {
        var template = [(CK_ATTRIBUTE_TYPE(CKA_CLASS), ulongBytes(objectClass.ckClass))]
        if objectClass == .x509Certificate { template.append((CK_ATTRIBUTE_TYPE(CKA_CERTIFICATE_TYPE), ulongBytes(CKC_X_509))) }
        if let id { template.append((CK_ATTRIBUTE_TYPE(CKA_ID), id)) }
        return try findObjects(template).map(PKCS11Object.init(handle:))
    }

    /// An attribute's value; nil when the object lacks it, it is sensitive, or the object is gone (see below).
    func attribute(_ object: PKCS11Object, _ attribute: PKCS11Attribute) throws -> [UInt8]? {
        try self.attribute(object.handle, attribute.type)
    }

    /// A CK_BBOOL attribute; nil as for `attribute(_:_:)`.
    func boolAttribute(_ object: PKCS11Object, _ attribute: PKCS11Attribute) throws -> Bool? {
        try boolAttribute(object.handle, attribute.type)
    }

    /// CKA_KEY_TYPE; nil when it does not read as a CK_ULONG.
    func keyType(of object: PKCS11Object) throws -> PKCS11KeyType? {
        try ulongAttribute(object.handle, CK_ATTRIBUTE_TYPE(CKA_KEY_TYPE)).map(PKCS11KeyType.init)
    }

    /// Object handles matching every (type, value) pair of the template.
    private func findObjects(_ template: [(CK_ATTRIBUTE_TYPE, [UInt8])]) throws -> [CK_OBJECT_HANDLE] {
        let findInit = try module.function(\.C_FindObjectsInit, "C_FindObjectsInit")
        let find = try module.function(\.C_FindObjects, "C_FindObjects")
        let findFinal = try module.function(\.C_FindObjectsFinal, "C_FindObjectsFinal")
        _ = try withTemplate(template) { attributes, count in
            try module.check(findInit(handle, attributes, count), "C_FindObjectsInit")
        }
        defer { _ = findFinal(handle) }
        var found = [CK_OBJECT_HANDLE]()
        var batch = [CK_OBJECT_HANDLE](repeating: 0, count: 32)
        while true {
            var count: CK_ULONG = 0
            try module.check(find(handle, &batch, CK_ULONG(batch.count), &count), "C_FindObjects")
            if count == 0 { break }
            found.append(contentsOf: batch.prefix(Int(count)))
        }
        return found
    }

    /// An attribute's value; nil when the object lacks it, it is sensitive, or the object is gone: login state
    /// belongs to the whole process, so another session's logout hides private objects this one just found.
    private func attribute(_ object: CK_OBJECT_HANDLE, _ type: CK_ATTRIBUTE_TYPE) throws -> [UInt8]? {
        let get = try module.function(\.C_GetAttributeValue, "C_GetAttributeValue")
        var query = CK_ATTRIBUTE(type: type, pValue: nil, ulValueLen: 0)
        let rv = get(handle, object, &query, 1)
        if rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_OBJECT_HANDLE_INVALID { return nil }
        try module.check(rv, "C_GetAttributeValue")
        if query.ulValueLen == cpkcs_CK_UNAVAILABLE_INFORMATION { return nil }
        var value = [UInt8](repeating: 0, count: Int(query.ulValueLen))
        let second = value.withUnsafeMutableBytes { buffer in
            query.pValue = buffer.baseAddress
            return get(handle, object, &query, 1)
        }
        if second == CKR_OBJECT_HANDLE_INVALID { return nil }
        try module.check(second, "C_GetAttributeValue")
        return Array(value.prefix(Int(query.ulValueLen)))
    }

    private func boolAttribute(_ object: CK_OBJECT_HANDLE, _ type: CK_ATTRIBUTE_TYPE) throws -> Bool? {
        try attribute(object, type).map { $0.first.map { $0 != 0 } ?? false }
    }

    private func ulongAttribute(_ object: CK_OBJECT_HANDLE, _ type: CK_ATTRIBUTE_TYPE) throws -> UInt? {
        guard let bytes = try attribute(object, type), bytes.count == MemoryLayout<CK_ULONG>.size else { return nil }
        return bytes.withUnsafeBytes { UInt($0.loadUnaligned(as: CK_ULONG.self)) }
    }

    // MARK: Signing

    /// C_SignInit + (context-specific C_Login) + C_Sign. Returns the token's raw output: PKCS#1 v1.5 for RSA,
    /// r||s for ECDSA.
    func sign(mechanism: PKCS11Mechanism, key: PKCS11Object, data: [UInt8], contextPIN: PIN?) throws -> [UInt8] {
        let signInit = try module.function(\.C_SignInit, "C_SignInit")
        let sign = try module.function(\.C_Sign, "C_Sign")
        var mech = CK_MECHANISM(mechanism: mechanism.ckMechanism, pParameter: nil, ulParameterLen: 0)
        try module.check(signInit(handle, &mech, key.handle), "C_SignInit")
        if let contextPIN {
            try login(contextPIN, userType: CK_USER_TYPE(CKU_CONTEXT_SPECIFIC))
        }
        // 512 bytes holds RSA-4096 and P-521's r||s; a bigger key answers BUFFER_TOO_SMALL with the size it needs,
        // and the operation stays active for the second call (PKCS#11 5.2 "conventions for functions returning output").
        var signature = [UInt8](repeating: 0, count: 512)
        var length = CK_ULONG(signature.count)
        var input = data
        var rv = sign(handle, &input, CK_ULONG(input.count), &signature, &length)
        if rv == CKR_BUFFER_TOO_SMALL {
            signature = [UInt8](repeating: 0, count: Int(length))
            rv = sign(handle, &input, CK_ULONG(input.count), &signature, &length)
        }
        try module.check(rv, "C_Sign")
        return Array(signature.prefix(Int(length)))
    }
}

/// An object a session found: its handle, meaningful on that token while it stays in (and, for private objects,
/// while the process is logged in).
struct PKCS11Object: Hashable, Sendable {
    fileprivate let handle: CK_OBJECT_HANDLE
}

/// The object classes SignKit looks for (CKA_CLASS; certificates are X.509 ones, CKA_CERTIFICATE_TYPE CKC_X_509).
enum PKCS11ObjectClass: Sendable {
    case x509Certificate, privateKey, publicKey

    fileprivate var ckClass: CK_OBJECT_CLASS {
        switch self {
        case .x509Certificate: CK_OBJECT_CLASS(CKO_CERTIFICATE)
        case .privateKey: CK_OBJECT_CLASS(CKO_PRIVATE_KEY)
        case .publicKey: CK_OBJECT_CLASS(CKO_PUBLIC_KEY)
        }
    }
}

/// The attributes SignKit reads.
enum PKCS11Attribute: Sendable {
    /// CKA_ID: pairs a certificate with its keys.
    case id
    /// CKA_LABEL, UTF-8.
    case label
    /// CKA_VALUE: a certificate's DER.
    case value
    /// CKA_ALWAYS_AUTHENTICATE: the key needs a context-specific login before each signature.
    case alwaysAuthenticate

    fileprivate var type: CK_ATTRIBUTE_TYPE {
        switch self {
        case .id: CK_ATTRIBUTE_TYPE(CKA_ID)
        case .label: CK_ATTRIBUTE_TYPE(CKA_LABEL)
        case .value: CK_ATTRIBUTE_TYPE(CKA_VALUE)
        case .alwaysAuthenticate: CK_ATTRIBUTE_TYPE(CKA_ALWAYS_AUTHENTICATE)
        }
    }
}

/// A key's CKA_KEY_TYPE.
enum PKCS11KeyType: Hashable, Sendable {
    case rsa, ec
    /// Any other CKK_* value.
    case other(UInt)

    init(_ value: UInt) {
        switch CK_KEY_TYPE(value) {
        case CK_KEY_TYPE(CKK_RSA): self = .rsa
        case CK_KEY_TYPE(CKK_EC): self = .ec
        default: self = .other(value)
        }
    }
}

/// The signing mechanisms SignKit uses (PKCS#11 3.0 "Mechanisms": 2.1.6, 2.1.7, 2.3.6).
enum PKCS11Mechanism: Sendable, CaseIterable {
    /// CKM_SHA256_RSA_PKCS: the token hashes and pads.
    case sha256RSAPKCS
    /// CKM_RSA_PKCS: PKCS#1 v1.5 padding over a DigestInfo given by the caller.
    case rsaPKCS
    /// CKM_ECDSA: raw r||s over a digest given by the caller.
    case ecdsa

    fileprivate var ckMechanism: CK_MECHANISM_TYPE {
        switch self {
        case .sha256RSAPKCS: CK_MECHANISM_TYPE(CKM_SHA256_RSA_PKCS)
        case .rsaPKCS: CK_MECHANISM_TYPE(CKM_RSA_PKCS)
        case .ecdsa: CK_MECHANISM_TYPE(CKM_ECDSA)
        }
    }

    /// True when `list` (what `PKCS11Module.mechanisms(_:)` returns for a slot) offers this mechanism.
    func isOffered(in list: Set<UInt>) -> Bool { list.contains(UInt(ckMechanism)) }
}

/// Builds a CK_ATTRIBUTE array whose value pointers stay valid for the duration of `body`.
func withTemplate<R>(
    _ template: [(CK_ATTRIBUTE_TYPE, [UInt8])],
    _ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, CK_ULONG) throws -> R
) throws -> R {
    let storage = template.map { pair -> UnsafeMutableRawBufferPointer in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(pair.1.count, 1), alignment: 8)
        buffer.copyBytes(from: pair.1)
        return buffer
    }
    defer { storage.forEach { $0.deallocate() } }
    var attributes = zip(template, storage).map { pair, buffer in
        CK_ATTRIBUTE(type: pair.0, pValue: buffer.baseAddress, ulValueLen: CK_ULONG(pair.1.count))
    }
    return try attributes.withUnsafeMutableBufferPointer { try body($0.baseAddress, CK_ULONG($0.count)) }
}

/// A CK_ULONG attribute value (CKA_CLASS, CKA_CERTIFICATE_TYPE) as bytes in the platform's order.
func ulongBytes(_ value: some BinaryInteger) -> [UInt8] {
    withUnsafeBytes(of: CK_ULONG(value)) { Array($0) }
}
