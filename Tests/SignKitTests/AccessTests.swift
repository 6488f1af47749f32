import Foundation
import Testing
import TestSupport
@testable import SignKit

/// Issue 18, item 4 on the SignKit side: DSC logins against a roster, sessions, API keys and the role rules. No
/// token rig: TestCerts' officer keys sign in process, revocation is judged from TestCerts' committed CRLs, and every
/// time is fixed from TestTime.now.
@Suite("Access: DSC login, sessions, API keys, who may do what")
struct AccessTests {
    static let service = "https://records.dit.example.gov.in"
    static let t0 = TestTime.now

    static func at(minutes: Double) -> Date { t0.addingTimeInterval(minutes * 60) }

    /// Answers CRL fetches from TestCerts' committed CRLs (issued 2026-07-01, next update 2049) and nothing else, so
    /// revocation is checked as `require` says with no network.
    struct CommittedCRLs: NetworkFetcher {
        func fetch(_ kind: FetchKind, url: URL, body: [UInt8]?, timeout: Double) throws -> [UInt8] {
            guard kind == .crl else { throw RigError("no \(kind.rawValue) in these tests (\(url))") }
            return Array(try Data(contentsOf: Fixture.folder.appendingPathComponent("crl/\(url.lastPathComponent)")))
        }
    }

    static func verifier() throws -> Verifier {
        Verifier(
            trust: try TrustStore(anchors: [try Fixture.testRoot]),
            revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: nil, fetcher: CommittedCRLs())))
    }

    /// A records service's access side on a fresh store in a temporary folder.
    struct Service {
        let folder: TemporaryFolder
        let store: SQLiteAccessStore
        let access: Access

        init(service: String = AccessTests.service) throws {
            folder = try TemporaryFolder("signservice-access")
            store = try SQLiteAccessStore(folder: folder.path("access"))
            access = Access(store: store, verifier: try AccessTests.verifier(), service: service)
        }

        /// Puts a TestCerts certificate's holder in the roster.
        @discardableResult
        func enrol(_ certificate: String, _ role: RosterRole, department: String = "IT", minister: String? = nil) throws -> RosterMember {
            let member = RosterMember(
                fingerprint: Hex.encode(try Fixture.certificate(certificate).sha256Fingerprint),
                name: certificate, department: department, role: role, minister: minister)
            try access.putMember(member)
            return member
        }
    }

    /// A login signature over `challenge` by a TestCerts key, its chain embedded; `binding` defaults to the
    /// challenge's own.
    static func loginSignature(
        _ challenge: LoginChallenge, as name: String = "officer-rsa", binding: LoginBinding? = nil, at time: Date = at(minutes: 0.5)
    ) throws -> [UInt8] {
        let key = try Fixture.key(name)
        return try CAdES.signLogin(
            challenge: challenge.canonicalBytes, certificate: try Fixture.certificate(name), binding: binding ?? LoginBinding(challenge),
            signingTime: time, chain: try Fixture.individualChain
        ) { try key.sign($0) }
    }

    static func code(_ error: any Error) -> String? { (error as? any CodedError)?.codeName }

    // MARK: Login

    @Test("a login with a roster officer's DSC: a session token (stored only hashed) that names the member until its expiry")
    func loginSucceeds() throws {
        let service = try Service()
        let officer = try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        #expect(challenge.service == Self.service && challenge.nonce.count == 32)
        #expect(challenge.expires == Self.t0.addingTimeInterval(300))

        let loggedInAt = Self.at(minutes: 1)
        let session = try service.access.login(challenge: challenge.canonicalBytes, signature: try Self.loginSignature(challenge), at: loggedInAt)
        #expect(session.member == officer)
        #expect(session.expires == loggedInAt.addingTimeInterval(1800))
        #expect(Base64URL.decode(session.token)?.count == 32)
        #expect(try service.store.session(tokenHash: SHA256Hasher.hash(Array(session.token.utf8)))?.fingerprint == officer.fingerprint)
        #expect(try service.access.principal("Bearer \(session.token)", at: Self.at(minutes: 2)) == .member(officer))
        #expect(try service.access.principal("bearer  \(session.token) ", at: Self.at(minutes: 2)) == .member(officer), "the scheme is case-insensitive")

        // The verifier reads the login attribute; a note's signature has none.
        let verdict = try Self.verifier().verify(
            signature: try Self.loginSignature(challenge), content: .bytes(challenge.canonicalBytes), at: loggedInAt)
        #expect(verdict.passed, "\(verdict.summary)")
        #expect(verdict.login == LoginBinding(challenge) && verdict.context == nil && verdict.commitment == nil)
        let note = try Fixture.sign(
            challenge.canonicalBytes, certificate: try Fixture.certificate("officer-rsa"), key: try Fixture.key("officer-rsa"),
            chain: try Fixture.individualChain)
        #expect(try Self.verifier().verify(signature: note, content: .bytes(challenge.canonicalBytes), at: loggedInAt).login == nil)
    }

    @Test("a replayed challenge is refused: the nonce is taken once, and a refused login uses it up too")
    func replayRefused() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let signature = try Self.loginSignature(challenge)
        _ = try service.access.login(challenge: challenge.canonicalBytes, signature: signature, at: Self.at(minutes: 1))
        #expect { try service.access.login(challenge: challenge.canonicalBytes, signature: signature, at: Self.at(minutes: 2)) } throws: {
            Self.code($0) == "challenge-used"
        }

        // A challenge this service never issued (made elsewhere with the same service name).
        let forged = try LoginChallenge.issue(service: Self.service, at: Self.t0, lifetime: 300)
        #expect {
            try service.access.login(challenge: forged.canonicalBytes, signature: try Self.loginSignature(forged), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "challenge-used" }

        // A login refused after the nonce was taken (a signer not in the roster) leaves it used.
        let second = try service.access.challenge(at: Self.t0)
        #expect {
            try service.access.login(challenge: second.canonicalBytes, signature: try Self.loginSignature(second, as: "officer-ec"), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "not-in-roster" }
        #expect {
            try service.access.login(challenge: second.canonicalBytes, signature: try Self.loginSignature(second), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "challenge-used" }
    }

    @Test("an expired challenge is refused, with a code that says so")
    func expiredChallenge() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let signature = try Self.loginSignature(challenge)
        #expect { try service.access.login(challenge: challenge.canonicalBytes, signature: signature, at: Self.at(minutes: 5)) } throws: {
            Self.code($0) == "challenge-expired"
        }
        // Within its lifetime the same kind of login holds.
        let fresh = try service.access.challenge(at: Self.t0)
        _ = try service.access.login(challenge: fresh.canonicalBytes, signature: try Self.loginSignature(fresh), at: Self.at(minutes: 4.9))
    }

    @Test("a challenge for another service, and a signature bound to another service or nonce, are refused")
    func otherService() throws {
        let ours = try Service()
        try ours.enrol("officer-rsa", .officer)
        let theirs = try Service(service: "https://records.finance.example.gov.in")
        let foreign = try theirs.access.challenge(at: Self.t0)
        #expect {
            try ours.access.login(challenge: foreign.canonicalBytes, signature: try Self.loginSignature(foreign), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "login-refused" && ($0 as? AccessError)?.reason.contains("finance") == true }

        // Our challenge, but the signature's login attribute names the other service, or another nonce.
        let challenge = try ours.access.challenge(at: Self.t0)
        let elsewhere = LoginBinding(service: theirs.access.service, nonce: challenge.nonce)
        #expect {
            try ours.access.login(
                challenge: challenge.canonicalBytes, signature: try Self.loginSignature(challenge, binding: elsewhere), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "login-refused" && ($0 as? AccessError)?.reason.contains("another challenge") == true }
        let another = try ours.access.challenge(at: Self.t0)
        let otherNonce = LoginBinding(service: Self.service, nonce: challenge.nonce)
        #expect {
            try ours.access.login(
                challenge: another.canonicalBytes, signature: try Self.loginSignature(another, binding: otherNonce), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "login-refused" && ($0 as? AccessError)?.reason.contains("another challenge") == true }
    }

    @Test("a valid login signature by a certificate not in the roster is refused")
    func notInRoster() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        #expect {
            try service.access.login(
                challenge: challenge.canonicalBytes, signature: try Self.loginSignature(challenge, as: "officer-ec"), at: Self.at(minutes: 1))
        } throws: { Self.code($0) == "not-in-roster" }
        // Once enrolled, the same certificate logs in.
        try service.enrol("officer-ec", .officer)
        let next = try service.access.challenge(at: Self.t0)
        _ = try service.access.login(challenge: next.canonicalBytes, signature: try Self.loginSignature(next, as: "officer-ec"), at: Self.at(minutes: 1))
    }

    @Test("a note's signature (e-Office context, no login attribute) over the challenge bytes does not log in")
    func noteSignatureRefused() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let note = try Fixture.sign(
            challenge.canonicalBytes, certificate: try Fixture.certificate("officer-rsa"), key: try Fixture.key("officer-rsa"),
            chain: try Fixture.individualChain, time: Self.at(minutes: 0.5))
        #expect { try service.access.login(challenge: challenge.canonicalBytes, signature: note, at: Self.at(minutes: 1)) } throws: {
            Self.code($0) == "login-refused" && ($0 as? AccessError)?.reason.contains("not a login signature") == true
        }
    }

    @Test("a login signature claiming a signing time outside the challenge's lifetime is refused")
    func signingTimeOutsideChallenge() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let backdated = try Self.loginSignature(challenge, at: Self.at(minutes: -60 * 24))
        #expect { try service.access.login(challenge: challenge.canonicalBytes, signature: backdated, at: Self.at(minutes: 1)) } throws: {
            Self.code($0) == "login-refused" && ($0 as? AccessError)?.reason.contains("outside the challenge's lifetime") == true
        }
    }

    @Test("a login signature offered to FileHistory.append as a note is refused, and nothing is stored")
    func loginSignatureIsNoNote() throws {
        let folder = try TemporaryFolder("signservice-access-history")
        let store = try SQLiteHistoryStore(folder: folder.path("store"))
        let docKey = try Fixture.key("docsigner")
        let sealer = CheckpointSigner(certificate: try Fixture.certificate("docsigner")) { try docKey.sign($0) }
        let history = FileHistory(store: store, verifier: try Self.verifier())
        try store.createFile(FileRecord(number: "DIT-12/3/2026-IT", subject: "Laptops", department: "IT"))
        let challenge = try LoginChallenge.issue(service: Self.service, at: Self.t0, lifetime: 300)
        #expect {
            try history.append(
                file: "DIT-12/3/2026-IT", kind: .note, noteID: "N-1", content: challenge.canonicalBytes,
                signature: try Self.loginSignature(challenge), at: Self.at(minutes: 1))
        } throws: {
            ($0 as? HistoryError)?.code == .signatureNotValid
                && ($0 as? HistoryError)?.reason.contains("a login signature cannot be a note or an approval") == true
        }
        #expect(try store.entries(of: "DIT-12/3/2026-IT").isEmpty && store.head(of: "DIT-12/3/2026-IT").size == 0)
    }

    @Test("a signature carrying both the login attribute and an e-Office context is FORMAT_FAILURE: it neither logs in nor appends")
    func loginAndContextTogether() throws {
        let service = try Service()
        try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let note = try CMSSurgery(
            try Fixture.sign(
                challenge.canonicalBytes, certificate: try Fixture.certificate("officer-rsa"), key: try Fixture.key("officer-rsa"),
                chain: try Fixture.individualChain, time: Self.at(minutes: 0.5)))
        let contextOID = try DERTree.parse(try DER.objectIdentifier(EOfficeContext.oid)).content
        let context = try #require(note.signedAttributes.first { CMSSurgery.oid(of: $0) == contextOID })
        var both = try CMSSurgery(try Self.loginSignature(challenge))
        both.signedAttributes.append(context)
        try both.resign(with: try Fixture.key("officer-rsa"))

        let verdict = try Self.verifier().verify(signature: both.bytes, content: .bytes(challenge.canonicalBytes), at: Self.at(minutes: 1))
        #expect(verdict.subIndication == .formatFailure, "\(verdict.summary)")
        #expect(verdict.summary.contains("both a SignService login and an e-Office context"), "\(verdict.summary)")
        #expect(verdict.login != nil && verdict.context != nil)
        #expect { try service.access.login(challenge: challenge.canonicalBytes, signature: both.bytes, at: Self.at(minutes: 1)) } throws: {
            Self.code($0) == "login-refused"
        }
    }

    // MARK: Sessions and keys

    @Test("a session lives its lifetime and no longer; logged out or never issued, it is unknown")
    func sessionExpiry() throws {
        let service = try Service()
        let officer = try service.enrol("officer-rsa", .officer)
        let challenge = try service.access.challenge(at: Self.t0)
        let loggedInAt = Self.at(minutes: 1)
        let session = try service.access.login(challenge: challenge.canonicalBytes, signature: try Self.loginSignature(challenge), at: loggedInAt)
        #expect(try service.access.principal("Bearer \(session.token)", at: Self.at(minutes: 30.9)) == .member(officer))
        #expect { try service.access.principal("Bearer \(session.token)", at: Self.at(minutes: 31)) } throws: { Self.code($0) == "session-expired" }
        #expect { try service.access.principal("Bearer \(Base64URL.encode(Array(repeating: 7, count: 32)))", at: loggedInAt) } throws: {
            Self.code($0) == "unauthenticated"
        }
        for header in [nil, "", session.token, "Basic \(session.token)"] {
            #expect { try service.access.principal(header, at: loggedInAt) } throws: { Self.code($0) == "unauthenticated" }
        }
        #expect(try service.access.logout(token: session.token))
        #expect { try service.access.principal("Bearer \(session.token)", at: Self.at(minutes: 2)) } throws: { Self.code($0) == "unauthenticated" }

        // A member removed from the roster loses their live session at once.
        let again = try service.access.challenge(at: Self.t0)
        let second = try service.access.login(challenge: again.canonicalBytes, signature: try Self.loginSignature(again), at: loggedInAt)
        #expect(try service.store.removeMember(fingerprint: officer.fingerprint))
        #expect { try service.access.principal("Bearer \(second.token)", at: Self.at(minutes: 2)) } throws: { Self.code($0) == "unauthenticated" }
    }

    @Test("API keys: an unknown or revoked key is refused; a made key names its machine; the key text is never stored")
    func apiKeys() throws {
        let service = try Service()
        #expect { try service.access.principal("ApiKey ssk_\(Base64URL.encode(Array(repeating: 1, count: 32)))", at: Self.t0) } throws: {
            Self.code($0) == "unknown-key"
        }
        let (key, secret) = try service.access.createKey(name: "e-Office server", scopes: ["append", "read-file"], department: "IT", at: Self.t0)
        #expect(secret.hasPrefix("ssk_") && Base64URL.decode(String(secret.dropFirst(4)))?.count == 32)
        #expect(try service.access.principal("ApiKey \(secret)", at: Self.t0) == .machine(key))
        #expect(try service.store.keys() == [key])
        #expect { try service.access.createKey(name: "monitor", scopes: ["read-everything"], at: Self.t0) } throws: { Self.code($0) == "invalid-request" }

        // Every byte the store wrote (database, WAL, shared memory): the key's hash is there, its text is not.
        let folder = service.folder.path("access")
        let written = try FileManager.default.contentsOfDirectory(atPath: folder).flatMap {
            Array(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\($0)")))
        }
        func contains(_ needle: String) -> Bool {
            let bytes = Array(needle.utf8)
            return written.count >= bytes.count && (0...(written.count - bytes.count)).contains { written[$0..<$0 + bytes.count].elementsEqual(bytes) }
        }
        #expect(contains(Hex.encode(SHA256Hasher.hash(Array(secret.utf8)))), "the store holds the key's SHA-256 (so the search reads the right bytes)")
        #expect(!contains(secret) && !contains(String(secret.dropFirst(4))), "the key's text is nowhere in the store's files")

        #expect(try service.store.revokeKey(id: key.id))
        #expect { try service.access.principal("ApiKey \(secret)", at: Self.t0) } throws: { Self.code($0) == "unknown-key" }
    }

    // MARK: Who may do what

    static func member(_ role: RosterRole, department: String = "IT", minister: String? = nil) -> Principal {
        .member(
            RosterMember(
                fingerprint: String(repeating: "a", count: 64), name: "\(role.rawValue) of \(department)", department: department, role: role,
                minister: minister))
    }

    static func allowed(_ principal: Principal, _ action: RecordsAction, department: String?, minister: String? = nil, kind: EntryKind? = nil) -> Bool {
        do {
            try AccessRules.authorize(principal, action, department: department, minister: minister, kind: kind)
            return true
        } catch {
            #expect(error.code == .forbidden)
            return false
        }
    }

    @Test("an officer reads, creates and appends in their own department only, and manages nothing")
    func officerRules() {
        let officer = Self.member(.officer)
        for action in [RecordsAction.listFiles, .readFile, .createFile, .append, .requestApproval, .exportBundle] {
            #expect(Self.allowed(officer, action, department: "IT"), "\(action)")
            #expect(!Self.allowed(officer, action, department: "Finance"), "\(action) in another department")
        }
        #expect(!Self.allowed(officer, .listFiles, department: nil), "not across every department")
        for action in [RecordsAction.uploadScan, .readReport, .manageRoster, .manageKeys] {
            #expect(!Self.allowed(officer, action, department: "IT", minister: "Minister of IT"), "\(action)")
        }
        #expect(Self.allowed(officer, .verify, department: nil))
        #expect(Self.member(.officer).departmentLimit == "IT")
    }

    @Test("a PPS uploads only for their own Minister and reads their department's files; a Minister appends approvals only")
    func ppsAndMinisterRules() {
        let pps = Self.member(.pps, minister: "Shri R. K. Singh")
        #expect(Self.allowed(pps, .uploadScan, department: "IT", minister: "Shri R. K. Singh"))
        #expect(!Self.allowed(pps, .uploadScan, department: "IT", minister: "Smt. A. Devi"), "another Minister")
        #expect(!Self.allowed(pps, .uploadScan, department: "IT", minister: nil))
        #expect(Self.allowed(pps, .readFile, department: "IT") && !Self.allowed(pps, .readFile, department: "Finance"))
        for action in [RecordsAction.append, .createFile, .requestApproval, .readReport, .manageRoster] {
            #expect(!Self.allowed(pps, action, department: "IT"), "\(action)")
        }

        let minister = Self.member(.minister, minister: "Shri R. K. Singh")
        #expect(Self.allowed(minister, .append, department: "IT", kind: .approval))
        #expect(!Self.allowed(minister, .append, department: "IT", kind: .note), "a Minister's entries are approvals")
        #expect(!Self.allowed(minister, .append, department: "IT"))
        #expect(!Self.allowed(minister, .append, department: "Finance", kind: .approval), "another department")
        #expect(!Self.allowed(minister, .uploadScan, department: "IT", minister: "Shri R. K. Singh"))
    }

    @Test("the nodal officer reads the department's report and files; an auditor reads everything and writes nothing; an admin manages")
    func nodalAuditorAdminRules() {
        let nodal = Self.member(.nodal)
        #expect(Self.allowed(nodal, .readReport, department: "IT") && Self.allowed(nodal, .readFile, department: "IT"))
        #expect(!Self.allowed(nodal, .readReport, department: "Finance") && !Self.allowed(nodal, .readReport, department: nil))
        #expect(!Self.allowed(nodal, .append, department: "IT") && !Self.allowed(nodal, .createFile, department: "IT"))

        let auditor = Self.member(.auditor)
        for department in ["IT", "Finance", nil] {
            for action in [RecordsAction.listFiles, .readFile, .readReport, .exportBundle] {
                #expect(Self.allowed(auditor, action, department: department), "\(action) \(department ?? "all")")
            }
            for action in [RecordsAction.createFile, .append, .requestApproval, .uploadScan, .manageRoster, .manageKeys] {
                #expect(!Self.allowed(auditor, action, department: department, minister: "Shri R. K. Singh", kind: .approval), "auditor \(action)")
            }
        }
        #expect(auditor.departmentLimit == nil)

        let admin = Self.member(.admin)
        #expect(Self.allowed(admin, .manageRoster, department: nil) && Self.allowed(admin, .manageKeys, department: nil))
        #expect(Self.allowed(admin, .readFile, department: "IT") && !Self.allowed(admin, .readFile, department: "Finance"))
        #expect(!Self.allowed(admin, .append, department: "IT") && !Self.allowed(admin, .createFile, department: "IT"))
        for role in [RosterRole.officer, .pps, .minister, .nodal, .auditor] {
            #expect(!Self.allowed(Self.member(role, minister: "M"), .manageRoster, department: nil), "\(role) manages the roster")
            #expect(!Self.allowed(Self.member(role, minister: "M"), .manageKeys, department: nil), "\(role) manages keys")
        }
    }

    @Test("an API key does its scopes only, in its department when it names one; it manages the roster only when scoped so")
    func keyRules() {
        let key = APIKey(id: "0011223344556677", name: "e-Office", scopes: ["append", "read-file"], department: "IT", created: Self.t0)
        #expect(Self.allowed(.machine(key), .append, department: "IT") && Self.allowed(.machine(key), .readFile, department: "IT"))
        #expect(!Self.allowed(.machine(key), .append, department: "Finance") && !Self.allowed(.machine(key), .readFile, department: nil))
        for action in RecordsAction.allCases where ![.append, .readFile].contains(action) {
            #expect(!Self.allowed(.machine(key), action, department: "IT"), "\(action) unscoped")
        }
        let everywhere = APIKey(id: "8899aabbccddeeff", name: "monitor", scopes: ["read-report", "list-files"], created: Self.t0)
        #expect(Self.allowed(.machine(everywhere), .readReport, department: nil) && Self.allowed(.machine(everywhere), .listFiles, department: "Finance"))
        #expect(!Self.allowed(.machine(everywhere), .manageRoster, department: nil))
        let admin = APIKey(id: "0123456789abcdef", name: "provisioning", scopes: ["manage-roster"], created: Self.t0)
        #expect(Self.allowed(.machine(admin), .manageRoster, department: nil) && !Self.allowed(.machine(admin), .manageKeys, department: nil))
    }

    @Test("an append's signer must be the logged-in member; a key appends others' signatures only with append-any-signer, for roster officers")
    func signerChecks() throws {
        let service = try Service()
        let officer = try service.enrol("officer-rsa", .officer)
        try service.enrol("officer-ec", .officer, department: "Finance")
        try service.enrol("pps", .pps, minister: "Shri R. K. Singh")
        let rsa = try Fixture.certificate("officer-rsa").sha256Fingerprint, ec = try Fixture.certificate("officer-ec").sha256Fingerprint
        let pps = try Fixture.certificate("pps").sha256Fingerprint
        try service.access.checkSigner(.member(officer), fingerprint: rsa)
        #expect { try service.access.checkSigner(.member(officer), fingerprint: ec) } throws: { Self.code($0) == "signer-mismatch" }

        let relay = try service.access.createKey(name: "e-Office", scopes: ["append"], department: "IT", at: Self.t0).key
        #expect { try service.access.checkSigner(.machine(relay), fingerprint: rsa) } throws: { Self.code($0) == "signer-mismatch" }
        let anySigner = try service.access.createKey(name: "e-Office", scopes: ["append", APIKey.appendAnySigner], department: "IT", at: Self.t0).key
        try service.access.checkSigner(.machine(anySigner), fingerprint: rsa)
        #expect { try service.access.checkSigner(.machine(anySigner), fingerprint: ec) } throws: { Self.code($0) == "signer-mismatch" }
        #expect { try service.access.checkSigner(.machine(anySigner), fingerprint: pps) } throws: { Self.code($0) == "signer-mismatch" }
        let stranger = try Fixture.certificate("minister").sha256Fingerprint
        #expect { try service.access.checkSigner(.machine(anySigner), fingerprint: stranger) } throws: { Self.code($0) == "signer-mismatch" }
    }

    // MARK: Values

    @Test("roster members are validated: fingerprint, fields, a PPS names their Minister; the store replaces by fingerprint")
    func rosterValidation() throws {
        let fingerprint = String(repeating: "0f", count: 32)
        let good = RosterMember(fingerprint: fingerprint, name: "Anita Sharma", department: "IT", role: .officer)
        try good.validate()
        let bad = [
            RosterMember(fingerprint: fingerprint.uppercased(), name: "A", department: "IT", role: .officer),
            RosterMember(fingerprint: String(fingerprint.dropLast()), name: "A", department: "IT", role: .officer),
            RosterMember(fingerprint: fingerprint, name: "", department: "IT", role: .officer),
            RosterMember(fingerprint: fingerprint, name: "A\nB", department: "IT", role: .officer),
            RosterMember(fingerprint: fingerprint, name: String(repeating: "x", count: 201), department: "IT", role: .officer),
            RosterMember(fingerprint: fingerprint, name: "A", department: "IT", role: .pps),
            RosterMember(fingerprint: fingerprint, name: "A", department: "IT", role: .minister),
            RosterMember(fingerprint: fingerprint, name: "A", department: "IT", role: .officer, minister: "M"),
        ]
        for member in bad {
            #expect(throws: AccessError.self, "\(member)") { try member.validate() }
        }

        let service = try Service()
        try service.access.putMember(good)
        var moved = good
        moved.department = "Finance"
        try service.access.putMember(moved)
        #expect(try service.store.members() == [moved])
        #expect { try service.access.putMember(bad[5]) } throws: { Self.code($0) == "invalid-request" }
        #expect(try service.store.members() == [moved], "a refused member is not stored")
    }

    @Test("a challenge reads back only from its canonical bytes")
    func challengeText() throws {
        let challenge = try LoginChallenge(service: Self.service, nonce: Array(0..<32), issued: Self.t0, expires: Self.at(minutes: 5))
        let text = String(decoding: challenge.canonicalBytes, as: UTF8.self)
        #expect(
            text == "SignService login challenge\nversion: 1\nservice: \(Self.service)\nnonce: \(Hex.encode(Array(0..<32)))\n"
                + "issued: 2026-11-23T10:00:00Z\nexpires: 2026-11-23T10:05:00Z\n")
        #expect(try LoginChallenge(canonical: challenge.canonicalBytes) == challenge)
        for variant in [
            text.replacingOccurrences(of: "\n", with: "\r\n"), text.replacingOccurrences(of: "service: ", with: "service:  "),
            text + "extra: 1\n", String(text.dropLast()), text.uppercased(),
            text.replacingOccurrences(of: Hex.encode(Array(0..<32)), with: Hex.encode(Array(0..<32)).uppercased()),
        ] {
            #expect(throws: AccessError.self, "\(variant)") { try LoginChallenge(canonical: Array(variant.utf8)) }
        }
        #expect(throws: AccessError.self) { try LoginChallenge(service: "a\nb", nonce: Array(0..<32), issued: Self.t0, expires: Self.at(minutes: 5)) }
        #expect(LoginBinding(der: LoginBinding(challenge).der) == LoginBinding(challenge))
        #expect(LoginBinding(der: LoginBinding(service: "s", nonce: [1, 2]).der) == nil, "a nonce of another size does not read")
    }

    @Test("the PIN dialog of a login says LOGIN and the service, and shows no file")
    func loginPrompt() {
        let prompt = SigningPrompt(
            tokenLabel: "Anita Sharma", signerName: "Anita Sharma", pinState: PINState(), request: nil,
            login: LoginBinding(service: Self.service, nonce: Array(repeating: 0, count: 32)), loginOrigin: "https://eoffice.mn.gov.in")
        #expect(prompt.dialogText.contains("LOGIN to \(Self.service), not a note"), "\(prompt.dialogText)")
        #expect(prompt.dialogText.contains("Asked by https://eoffice.mn.gov.in"), "\(prompt.dialogText)")
        #expect(prompt.terminalText.contains("LOGIN to \(Self.service)"), "\(prompt.terminalText)")
        #expect(!prompt.dialogText.contains("File "))
    }
}
