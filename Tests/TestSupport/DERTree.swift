import Foundation

/// A DER value as a tree that tests can edit and encode again: how crafted signatures (a removed or duplicated
/// attribute, a swapped time-stamp) are made. Definite lengths only, one-byte tags.
public indirect enum DERTree: Equatable, Sendable {
    case primitive(tag: UInt8, content: [UInt8])
    case constructed(tag: UInt8, children: [DERTree])

    public static func parse(_ bytes: [UInt8]) throws -> DERTree {
        var index = 0
        let tree = try parse(bytes, &index)
        guard index == bytes.count else { throw RigError("DERTree: \(bytes.count - index) trailing bytes") }
        return tree
    }

    private static func parse(_ bytes: [UInt8], _ index: inout Int) throws -> DERTree {
        guard index + 2 <= bytes.count else { throw RigError("DERTree: truncated at \(index)") }
        let tag = bytes[index]
        var length = Int(bytes[index + 1])
        index += 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count > 0, count <= 4, index + count <= bytes.count else { throw RigError("DERTree: bad length at \(index)") }
            length = bytes[index..<index + count].reduce(0) { $0 << 8 | Int($1) }
            index += count
        }
        guard index + length <= bytes.count else { throw RigError("DERTree: length beyond the input at \(index)") }
        let end = index + length
        defer { index = end }
        if tag & 0x20 == 0 { return .primitive(tag: tag, content: Array(bytes[index..<end])) }
        var children = [DERTree]()
        var position = index
        while position < end { children.append(try parse(Array(bytes[..<end]), &position)) }
        return .constructed(tag: tag, children: children)
    }

    public var tag: UInt8 {
        switch self {
        case .primitive(let tag, _), .constructed(let tag, _): tag
        }
    }

    public var children: [DERTree] {
        get { if case .constructed(_, let children) = self { children } else { [] } }
        set { self = .constructed(tag: tag, children: newValue) }
    }

    public var content: [UInt8] {
        switch self {
        case .primitive(_, let content): content
        case .constructed(_, let children): children.flatMap(\.encoded)
        }
    }

    public var encoded: [UInt8] {
        let body = content
        var length: [UInt8]
        if body.count < 0x80 {
            length = [UInt8(body.count)]
        } else {
            var bytes = [UInt8](), n = body.count
            while n > 0 { bytes.insert(UInt8(n & 0xFF), at: 0); n >>= 8 }
            length = [0x80 | UInt8(bytes.count)] + bytes
        }
        return [tag] + length + body
    }

    public func retagged(_ tag: UInt8) -> DERTree {
        switch self {
        case .primitive(_, let content): .primitive(tag: tag, content: content)
        case .constructed(_, let children): .constructed(tag: tag, children: children)
        }
    }
}

/// Edits of a CMS SignedData's first SignerInfo.
public struct CMSSurgery {
    public var tree: DERTree

    public init(_ p7s: [UInt8]) throws { tree = try DERTree.parse(p7s) }

    public var bytes: [UInt8] { tree.encoded }

    /// ContentInfo [1] -> [0] -> SignedData; signerInfos is its last child.
    public var signerInfo: DERTree {
        get { tree.children[1].children[0].children.last!.children[0] }
        set {
            var signedData = tree.children[1].children[0]
            var signerInfos = signedData.children.last!
            signerInfos.children[0] = newValue
            signedData.children[signedData.children.count - 1] = signerInfos
            tree.children[1].children[0] = signedData
        }
    }

    /// The signed attributes: [0] IMPLICIT SET OF Attribute, the SignerInfo's fourth field.
    public var signedAttributes: [DERTree] {
        get { signerInfo.children[3].children }
        set { var info = signerInfo; info.children[3].children = newValue; signerInfo = info }
    }

    public var signatureValue: [UInt8] {
        get { signerInfo.children[5].content }
        set { var info = signerInfo; info.children[5] = .primitive(tag: 0x04, content: newValue); signerInfo = info }
    }

    public var unsignedAttributes: [DERTree] {
        get { signerInfo.children.count > 6 ? signerInfo.children[6].children : [] }
        set {
            var info = signerInfo
            if info.children.count > 6 { info.children[6].children = newValue } else { info.children.append(.constructed(tag: 0xA1, children: newValue)) }
            signerInfo = info
        }
    }

    /// Signs the current signed attributes again (as a SET) and sets the signature value.
    public mutating func resign(with key: SoftwareKey) throws {
        let set = signerInfo.children[3].retagged(0x31).encoded
        signatureValue = try key.sign(set).bytes
    }

    /// The attribute's OID content bytes.
    public static func oid(of attribute: DERTree) -> [UInt8] { attribute.children[0].content }
}
