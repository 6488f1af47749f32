// Appends notes to a file history in a loop, printing each committed sequence number: the process the kill -9
// test interrupts at random moments. Signatures are made with TestCerts' software keys (officer-ec for the notes,
// the document signer for checkpoints) so that the loop is fast; everything else is the real append path. Entry n is
// signed and appended n seconds after TestTime.now, so that no verdict depends on the clock.
// Usage: HistoryAppender STORE FILE-NUMBER TESTCERTS-FOLDER
import Foundation
import SignKit
import TestSupport

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: HistoryAppender STORE FILE-NUMBER TESTCERTS\n".utf8))
    exit(3)
}
let (folder, number, certs) = (arguments[1], arguments[2], arguments[3])
do {
    let store = try SQLiteHistoryStore(folder: folder)
    if try store.file(number) == nil {
        try store.createFile(FileRecord(number: number, subject: "kill -9 test", department: "Testing"))
    }
    let officer = try CertificateFolder.load(file: "\(certs)/certs/officer-ec.crt")[0]
    let officerKey = try SoftwareKey(pemFile: "\(certs)/keys/officer-ec.key")
    let chain = try CertificateFolder.load(file: "\(certs)/ca/chain-individual.pem")
    let docSigner = try CertificateFolder.load(file: "\(certs)/certs/docsigner.crt")[0]
    let docKey = try SoftwareKey(pemFile: "\(certs)/keys/docsigner.key")
    let sealer = CheckpointSigner(certificate: docSigner, chain: try CertificateFolder.load(file: "\(certs)/ca/chain-docsigner.pem")) {
        try docKey.sign($0)
    }
    let verifier = Verifier(
        trust: try TrustStore.load(directory: "\(certs)/trust"),
        revocation: RevocationChecker(options: RevocationOptions(online: true, cacheDirectory: folder + "/cache", timeout: 3)))
    let history = FileHistory(store: store, verifier: verifier)
    // The department log over the same store: a tree head signed after every append, so kills land while heads are
    // being signed as often as while entries are being appended.
    let log = try DepartmentLog(origin: "records.crash.example.gov.in/log", store: store)
    try log.rebuild()
    while true {
        let head = try store.head(of: number)
        let note = "N-\(head.size + 1)"
        let time = TestTime.now.addingTimeInterval(Double(head.size + 1))
        let content = Array("File \(number), note \(note): \(String(repeating: "text ", count: Int.random(in: 1...400)))\n".utf8)
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: number, noteID: note, previousEntryHash: head.hash),
            commitment: .proofOfOrigin, signingTime: time, chain: chain)
        let signature = try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: officer, parameters: parameters) {
            try officerKey.sign($0)
        }
        let (entry, _, _) = try history.append(file: number, kind: .note, noteID: note, content: content, signature: signature, at: time)
        // Written straight to the descriptor: the line is out before the next append starts.
        let line = Array("\(entry.sequence)\n".utf8)
        _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        try log.publish(signer: sealer, at: time)
    }
} catch {
    FileHandle.standardError.write(Data("HistoryAppender: \(error)\n".utf8))
    exit(1)
}
