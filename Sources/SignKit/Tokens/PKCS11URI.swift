/// A PKCS#11 URI (RFC 7512), naming a token and an object on it:
///
///     pk11-URI   = "pkcs11:" pk11-path [ "?" pk11-query ]
///     pk11-path  = [ pk11-pattr *(";" pk11-pattr) ]
///     pk11-pattr = pk11-token / pk11-manuf / pk11-serial / pk11-model / pk11-lib-manuf / pk11-lib-ver /
///                  pk11-lib-desc / pk11-object / pk11-type / pk11-id / pk11-slot-desc / pk11-slot-manuf /
///                  pk11-slot-id / pk11-x-pattr
///     pk11-query = pk11-qattr *("&" pk11-qattr)       ; pin-source, pin-value, module-name, module-path
///
/// SignService refuses `pin-value`: a PIN never travels in a URI, a command line or a log.
public struct PKCS11URI: Sendable, Hashable, CustomStringConvertible, Codable {
    public var token: String?
    public var manufacturer: String?
    public var serial: String?
    public var model: String?
    public var libraryManufacturer: String?
    public var libraryDescription: String?
    public var libraryVersion: String?
    public var slotDescription: String?
    public var slotManufacturer: String?
    public var slotID: UInt?
    /// CKA_LABEL of the object.
    public var object: String?
    /// CKA_ID of the object, raw bytes.
    public var id: [UInt8]?
    /// "cert", "private", "public", "secret-key", "data".
    public var type: String?
    /// module-path query attribute: the module to load.
    public var modulePath: String?
    /// module-name query attribute.
    public var moduleName: String?

    public init(
        token: String? = nil, manufacturer: String? = nil, serial: String? = nil, model: String? = nil,
        object: String? = nil, id: [UInt8]? = nil, type: String? = nil, modulePath: String? = nil
    ) {
        self.token = token
        self.manufacturer = manufacturer
        self.serial = serial
        self.model = model
        self.object = object
        self.id = id
        self.type = type
        self.modulePath = modulePath
    }

    public init(_ text: String) throws {
        guard text.lowercased().hasPrefix("pkcs11:") else {
            throw TokenError(.invalidURI, "a PKCS#11 URI starts with \"pkcs11:\" (RFC 7512)")
        }
        let rest = text.dropFirst("pkcs11:".count)
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0]
        let query = parts.count > 1 ? parts[1] : ""
        var seen = Set<String>()
        for attribute in path.split(separator: ";", omittingEmptySubsequences: true) {
            let (name, value) = try Self.split(attribute)
            // RFC 7512 2.3: a path attribute appears at most once; two would leave the key ambiguous.
            guard seen.insert(name).inserted else {
                throw TokenError(.invalidURI, "PKCS#11 URI names \"\(name)\" twice")
            }
            let decoded = try Self.percentDecode(value, attribute: name)
            func text() throws -> String {
                guard let string = String(validating: decoded, as: UTF8.self) else {
                    throw TokenError(.invalidURI, "PKCS#11 URI attribute \(name) is not UTF-8")
                }
                return string
            }
            switch name {
            case "token": token = try text()
            case "manufacturer": manufacturer = try text()
            case "serial": serial = try text()
            case "model": model = try text()
            case "library-manufacturer": libraryManufacturer = try text()
            case "library-description": libraryDescription = try text()
            case "library-version": libraryVersion = try text()
            case "slot-description": slotDescription = try text()
            case "slot-manufacturer": slotManufacturer = try text()
            case "slot-id":
                guard let value = UInt(try text()) else {
                    throw TokenError(.invalidURI, "PKCS#11 URI slot-id must be a decimal number")
                }
                slotID = value
            case "object": object = try text()
            case "id": id = decoded
            case "type":
                let value = try text()
                guard ["cert", "private", "public", "secret-key", "data"].contains(value) else {
                    throw TokenError(.invalidURI, "PKCS#11 URI type \"\(value)\" is not one of cert, private, public, secret-key, data")
                }
                type = value
            default:
                // RFC 7512 2.3: vendor attributes (x-...) may be ignored; an unknown standard one may not.
                guard name.hasPrefix("x-") else {
                    throw TokenError(.invalidURI, "PKCS#11 URI has an unknown path attribute \"\(name)\"")
                }
            }
        }
        for attribute in query.split(separator: "&", omittingEmptySubsequences: true) {
            let (name, value) = try Self.split(attribute)
            switch name {
            case "pin-value":
                throw TokenError(.invalidURI, "PKCS#11 URI carries a PIN (pin-value); SignService never takes a PIN from a URI")
            case "pin-source":
                throw TokenError(.invalidURI, "PKCS#11 URI pin-source is not supported; give the PIN through --pin-fd or the prompt")
            case "module-path": modulePath = String(decoding: try Self.percentDecode(value, attribute: name), as: UTF8.self)
            case "module-name": moduleName = String(decoding: try Self.percentDecode(value, attribute: name), as: UTF8.self)
            default:
                guard name.hasPrefix("x-") else {
                    throw TokenError(.invalidURI, "PKCS#11 URI has an unknown query attribute \"\(name)\"")
                }
            }
        }
    }

    private static func split(_ attribute: Substring) throws -> (String, Substring) {
        guard let equals = attribute.firstIndex(of: "=") else {
            throw TokenError(.invalidURI, "PKCS#11 URI attribute \"\(attribute)\" has no \"=\"")
        }
        return (String(attribute[..<equals]).lowercased(), attribute[attribute.index(after: equals)...])
    }

    private static func percentDecode(_ text: Substring, attribute: String) throws -> [UInt8] {
        var out = [UInt8]()
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
                    throw TokenError(.invalidURI, "PKCS#11 URI attribute \(attribute) has a bad %-escape")
                }
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    // MARK: Formatting

    /// RFC 7512 2.3 pk11-pchar: unreserved / pk11-res-avail / pct-encoded.
    private static let pathSafe = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:[]@!$'()*+,=&".utf8))
    /// pk11-qchar: unreserved / pk11-res-avail / pct-encoded, where "&" separates attributes and "/" "?" "|" are allowed.
    private static let querySafe = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:[]@!$'()*+,=/?|".utf8))

    private static func encode(_ bytes: some Sequence<UInt8>, safe: Set<UInt8>, all: Bool = false) -> String {
        var out = ""
        for byte in bytes {
            if !all && safe.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + Hex.encode([byte], uppercase: true)
            }
        }
        return out
    }

    /// The URI in RFC 7512's attribute order; `id` is always fully %-encoded, as the RFC recommends.
    public var description: String {
        var path = [String]()
        func add(_ name: String, _ value: String?) {
            if let value { path.append("\(name)=\(Self.encode(value.utf8, safe: Self.pathSafe))") }
        }
        add("model", model)
        add("manufacturer", manufacturer)
        add("serial", serial)
        add("token", token)
        add("library-manufacturer", libraryManufacturer)
        add("library-description", libraryDescription)
        add("library-version", libraryVersion)
        add("slot-description", slotDescription)
        add("slot-manufacturer", slotManufacturer)
        add("slot-id", slotID.map(String.init))
        if let id { path.append("id=" + Self.encode(id, safe: [], all: true)) }
        add("object", object)
        add("type", type)
        var query = [String]()
        if let modulePath { query.append("module-path=" + Self.encode(modulePath.utf8, safe: Self.querySafe)) }
        if let moduleName { query.append("module-name=" + Self.encode(moduleName.utf8, safe: Self.querySafe)) }
        return "pkcs11:" + path.joined(separator: ";") + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: Matching

    /// True when every token attribute the URI names equals the token's (RFC 7512 6: absent attributes match all).
    public func matches(token info: TokenInfo, slot: SlotInfo, module: PKCS11Module.ModuleInfo) -> Bool {
        func same(_ wanted: String?, _ actual: String) -> Bool { wanted == nil || wanted == actual }
        return same(token, info.label) && same(manufacturer, info.manufacturer) && same(serial, info.serial)
            && same(model, info.model) && same(slotDescription, slot.description) && same(slotManufacturer, slot.manufacturer)
            && (slotID == nil || slotID == slot.id) && same(libraryManufacturer, module.manufacturer)
            && same(libraryDescription, module.description) && same(libraryVersion, module.libraryVersion)
    }
}
