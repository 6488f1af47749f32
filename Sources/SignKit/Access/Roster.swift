import Foundation

/// What a person in the records service's roster is (issue 18, item 4).
public enum RosterRole: String, Codable, Sendable, CaseIterable {
    /// Notes, creates files and asks for approvals in their department.
    case officer
    /// The PPS or PS of a Minister: uploads the Minister's hand-signed scans.
    case pps
    /// Appends approvals in their department.
    case minister
    /// The department's nodal officer: reads its daily report and its files.
    case nodal
    /// Reads everything, writes nothing.
    case auditor
    /// Manages the roster and the API keys.
    case admin
}

/// One person the records service lets in, named by their DSC: who they are, where they work, what they may do.
public struct RosterMember: Codable, Sendable, Equatable {
    /// Lower-case hex SHA-256 of the DER of the member's signing certificate (64 digits).
    public var fingerprint: String
    public var name: String
    public var department: String
    public var role: RosterRole
    /// For a PPS: the Minister whose PPS/PS they are; for a Minister: their own name or id, as approval requests
    /// name them. Absent for every other role.
    public var minister: String?

    public init(fingerprint: String, name: String, department: String, role: RosterRole, minister: String? = nil) {
        self.fingerprint = fingerprint
        self.name = name
        self.department = department
        self.role = role
        self.minister = minister
    }

    /// The longest name, department or Minister accepted.
    public static let maximumFieldLength = 200

    /// Refuses a member that cannot be stored: a fingerprint that is not 64 lower-case hex digits; an empty, overlong
    /// or control-character name, department or Minister; a PPS or Minister without a Minister, anyone else with one.
    public func validate() throws(AccessError) {
        guard Self.isFingerprint(fingerprint) else {
            throw AccessError(.invalidRequest, "fingerprint must be the certificate's SHA-256 in 64 lower-case hex digits")
        }
        var fields = [("name", name), ("department", department)]
        if let minister { fields.append(("minister", minister)) }
        for (label, value) in fields {
            guard !value.isEmpty, value.count <= Self.maximumFieldLength else {
                throw AccessError(.invalidRequest, "\(label) must have 1 to \(Self.maximumFieldLength) characters")
            }
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw AccessError(.invalidRequest, "\(label) must not hold control characters (new lines, tabs)")
            }
        }
        switch role {
        case .pps, .minister:
            guard minister != nil else {
                throw AccessError(
                    .invalidRequest,
                    role == .pps ? "a PPS/PS must name the Minister they serve" : "a Minister must name themselves (minister) as approval requests do")
            }
        case .officer, .nodal, .auditor, .admin:
            guard minister == nil else { throw AccessError(.invalidRequest, "only a PPS/PS or a Minister names a Minister") }
        }
    }

    /// True for 64 lower-case hex digits.
    static func isFingerprint(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
