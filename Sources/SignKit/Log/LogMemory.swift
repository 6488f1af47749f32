import Foundation

/// What a monitor, a witness or a verifier remembers of one department log between runs (docs/history.md "Monitors
/// and witnesses"), in a folder of its own under the state folder it is given:
///
/// ```
/// <state>/<first 16 hex digits of SHA-256(origin)>/
///     origin              the log's origin, as a check
///     log.pem             the log's certificate, pinned at first use (or given)
///     head.checkpoint     the last tree head verified (its signed note)
///     files/<sha256>.json per file verified: the leaf index and leaf hash of each entry
///     evidence/<time>/    a contradiction found: the remembered and the received head, and the report in words
/// ```
///
/// Everything is written whole (AtomicFile): a crash leaves the old state or the new, never half of one.
public struct LogMemory: Sendable {
    public let origin: String
    public let folder: String

    public init(state: String, origin: String) throws {
        self.origin = origin
        folder = state + "/" + Hex.encode(SHA256Hasher.hash(Array(origin.utf8)).prefix(8))
        do {
            try FileManager.default.createDirectory(atPath: folder + "/files", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let originFile = folder + "/origin"
            if let stored = try? String(contentsOfFile: originFile, encoding: .utf8) {
                guard stored == origin else { throw LogError(.invalidRequest, "\(folder) remembers the log \(stored), not \(origin)") }
            } else {
                try AtomicFile.write(Array(origin.utf8), to: originFile, mode: 0o600)
            }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError(.invalidRequest, "cannot keep the log's state in \(folder): \(error)")
        }
    }

    // MARK: The log's key

    /// The log's certificate, pinned at first use.
    public func certificate() -> X509Certificate? {
        (try? String(contentsOfFile: folder + "/log.pem", encoding: .utf8)).flatMap { try? X509Certificate.fromPEM($0).first }
    }

    public func pin(certificate: X509Certificate) throws {
        try write(Array(PEM.encode(certificate.der, label: "CERTIFICATE").utf8), to: folder + "/log.pem")
    }

    // MARK: The last head

    /// The last head verified: its signed note as received, and what it states.
    public func head() -> (note: String, head: TreeHead)? {
        guard let text = try? String(contentsOfFile: folder + "/head.checkpoint", encoding: .utf8),
            let note = try? SignedNote(parsing: text), let head = try? TreeHead(checkpoint: note.text)
        else { return nil }
        return (text, head)
    }

    public func remember(head note: String) throws {
        try write(Array(note.utf8), to: folder + "/head.checkpoint")
    }

    // MARK: Files' leaves

    /// A file's entries as verified before: sequence -> (leaf index, leaf hash in hex).
    public struct FileLeaves: Codable, Sendable, Equatable {
        public var file: String
        /// When they were verified, and under which tree head size.
        public var verifiedAt: Date
        public var treeSize: Int
        public var leaves: [String: Leaf]

        public struct Leaf: Codable, Sendable, Equatable {
            public var leafIndex: Int
            public var leafHash: String

            public init(leafIndex: Int, leafHash: String) {
                self.leafIndex = leafIndex
                self.leafHash = leafHash
            }
        }

        public init(file: String, verifiedAt: Date, treeSize: Int, leaves: [String: Leaf]) {
            self.file = file
            self.verifiedAt = verifiedAt
            self.treeSize = treeSize
            self.leaves = leaves
        }
    }

    public func leaves(of file: String) -> FileLeaves? {
        guard let data = FileManager.default.contents(atPath: leavesPath(file)) else { return nil }
        return try? JSONOutput.decoder().decode(FileLeaves.self, from: data)
    }

    public func remember(_ leaves: FileLeaves) throws {
        try write(Array(try JSONOutput.encoder(pretty: false).encode(leaves)), to: leavesPath(leaves.file))
    }

    private func leavesPath(_ file: String) -> String {
        folder + "/files/" + Hex.encode(SHA256Hasher.hash(Array(file.utf8))) + ".json"
    }

    // MARK: Evidence

    /// Keeps both heads of a contradiction and the report; returns the folder.
    public func keepEvidence(remembered: String, received: String, report: String, at time: Date) throws -> String {
        let stamp = UTCTimeText.format(time).filter { $0 != ":" && $0 != "-" }
        let place = folder + "/evidence/" + stamp + "-" + Hex.encode(SHA256Hasher.hash(Array(received.utf8)).prefix(4))
        do {
            try FileManager.default.createDirectory(atPath: place, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LogError(.invalidRequest, "cannot keep evidence in \(place): \(error)")
        }
        try write(Array(remembered.utf8), to: place + "/remembered.checkpoint")
        try write(Array(received.utf8), to: place + "/received.checkpoint")
        try write(Array(report.utf8), to: place + "/report.txt")
        return place
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(bytes, to: path, mode: 0o600)
        } catch {
            throw LogError(.invalidRequest, "cannot write \(path): \(error)")
        }
    }
}

/// How a newly received tree head stands to the one remembered (RFC 9162 section 8.1.4 and the C2SP witness's rule:
/// a head is accepted only when it extends the last one, proven by a consistency proof).
public enum HeadComparison: Sendable, Equatable {
    /// Nothing was remembered: the head is the first seen (trust on first use).
    case first
    /// The same head again.
    case unchanged
    /// A larger tree, consistent with the remembered one.
    case extended
    /// Two different heads for one size: the log forked or its entries were rewritten.
    case fork(String)
    /// A smaller tree than one already signed: entries were removed.
    case rollback(String)
    /// A larger tree whose consistency proof with the remembered one does not hold (or could not be had).
    case inconsistent(String)

    /// Compares `received` with `remembered`; `proof` fetches the consistency proof between two sizes.
    public static func compare(
        remembered: TreeHead?, received: TreeHead, proof: (_ oldSize: Int, _ newSize: Int) throws -> ConsistencyProof
    ) -> HeadComparison {
        guard let remembered else { return .first }
        if received.size < remembered.size {
            return .rollback(
                "the log's tree went back from \(remembered.size) leaves to \(received.size): leaves \(received.size) to \(remembered.size - 1) were removed")
        }
        if received.size == remembered.size {
            return received.rootHash == remembered.rootHash
                ? .unchanged
                : .fork(
                    "two different signed tree heads for size \(received.size) (roots \(Hex.encode(remembered.rootHash)) and "
                        + "\(Hex.encode(received.rootHash))): the log's entries were rewritten or it shows different histories to different people")
        }
        do {
            let consistency = try proof(remembered.size, received.size)
            guard consistency.oldSize == remembered.size, consistency.newSize == received.size else {
                return .inconsistent("the log answered a consistency proof for other sizes than \(remembered.size) and \(received.size)")
            }
            try consistency.verify(oldRoot: remembered.rootHash, newRoot: received.rootHash)
            return .extended
        } catch {
            return .inconsistent(
                "the tree head of \(received.size) leaves does not extend the remembered one of \(remembered.size): "
                    + "\((error as? any CodedError)?.codedDescription ?? "\(error)")")
        }
    }

    /// The words of a contradiction; nil when the head is acceptable.
    public var problem: String? {
        switch self {
        case .first, .unchanged, .extended: nil
        case .fork(let words), .rollback(let words), .inconsistent(let words): words
        }
    }
}
