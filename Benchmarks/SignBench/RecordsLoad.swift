import ArgumentParser
import Foundation
import SignKit
import Synchronization
import TestSupport

/// The timed part of `SignBench records`: threads, each a simulated officer's desk, appending notes.
struct Load {
    let instances: [Int]
    let people: Department
    let sessions: [String]
    /// File numbers by department index.
    let numbers: [[String]]
    let clients: Int
    let warmup: Double
    let seconds: Double
    let extractBytes: Int
    /// Notes per request (1: POST /v1/files/{file}/entries; more: POST /v1/entries).
    var batch = 1
    /// Each desk appends only to the files of its own inbox (the department's files dealt out among the desks), as
    /// an e-Office file is with one officer at a time; otherwise any file of the officer's department, at random.
    var inbox = false

    struct Result {
        var appended = 0
        var conflicts = 0
        var headMoved = 0
        var staleHead = 0
        var errors = 0
        var errorSamples = [String]()
        var rate = 0.0
        var p50 = 0.0
        var p99 = 0.0
        var meanSign = 0.0
        var meanPost = 0.0
        var cpu = CPUUsage.Report()
        var sample: (signature: [UInt8], content: [UInt8])?
    }

    /// What one thread saw in the timed window (written by that thread only, read after it ended).
    final class Desk: @unchecked Sendable {
        var latencies = [Double]()
        var signSeconds = 0.0
        var postSeconds = 0.0
        var posts = 0
        var conflicts = 0
        var headMoved = 0
        var staleHead = 0
        var errors = 0
        var errorSamples = [String]()
        var sample: (signature: [UInt8], content: [UInt8])?

        /// POSTs `body` as the officer's session: the answer, when it came, and whether it falls in the timed
        /// `window` (then the signing and the POST are counted); nil when it failed to arrive (counted as an error
        /// once the window has begun).
        func post(
            _ body: [UInt8], to path: String, on connection: BenchConnection, session: String, signStart: ContinuousClock.Instant,
            window: ClosedRange<ContinuousClock.Instant>
        ) -> (answer: (status: Int, body: [UInt8]), end: ContinuousClock.Instant, counted: Bool)? {
            let postStart = ContinuousClock.now
            let answer: (status: Int, body: [UInt8])
            do {
                answer = try connection.send(
                    method: "POST", path: path, headers: ["Authorization": "Bearer \(session)", "Content-Type": "application/json"], body: body)
            } catch {
                if ContinuousClock.now >= window.lowerBound {
                    errors += 1
                    errorSamples.append("POST to port \(connection.port): \(error)")
                }
                return nil
            }
            let end = ContinuousClock.now
            let counted = window.contains(end)
            if counted {
                signSeconds += (postStart - signStart).seconds
                postSeconds += (end - postStart).seconds
                posts += 1
            }
            return (answer, end, counted)
        }
    }

    /// The heads every desk knows: updated from each 201 (the new entry) and each 409 (the head it names), as an
    /// e-Office page reads the head before asking for a signature.
    final class Heads: Sendable {
        let map = Mutex<[String: [UInt8]]>([:])
        func get(_ file: String) -> [UInt8] { map.withLock { $0[file] } ?? HistoryEntry.genesis }
        func set(_ file: String, _ head: [UInt8]) { map.withLock { $0[file] = head } }
    }

    func run(usage: CPUUsage) throws -> Result {
        let heads = Heads()
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + .seconds(warmup), measureUntil = measureFrom + .seconds(seconds)
        let desks = (0..<clients).map { _ in Desk() }
        let context = UncheckedBox(self)
        let before = Mutex<CPUUsage.Sample?>(nil)
        let group = DispatchGroup()
        for (index, desk) in desks.enumerated() {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                if context.value.batch > 1 {
                    context.value.batchDesk(index, desk, heads: heads, measureFrom: measureFrom, measureUntil: measureUntil)
                } else {
                    context.value.desk(index, desk, heads: heads, measureFrom: measureFrom, measureUntil: measureUntil)
                }
            }
        }
        // CPU times at the edges of the timed window.
        Thread.sleep(until: measureFrom)
        before.withLock { $0 = usage.sample() }
        Thread.sleep(until: measureUntil)
        let after = usage.sample()
        group.wait()

        var result = Result()
        var latencies = [Double](), signTime = 0.0, postTime = 0.0, posts = 0
        for desk in desks {
            latencies += desk.latencies
            result.conflicts += desk.conflicts
            result.headMoved += desk.headMoved
            result.staleHead += desk.staleHead
            result.errors += desk.errors
            result.errorSamples += desk.errorSamples.prefix(max(0, 5 - result.errorSamples.count))
            signTime += desk.signSeconds
            postTime += desk.postSeconds
            posts += desk.posts
            if result.sample == nil { result.sample = desk.sample }
        }
        latencies.sort()
        result.appended = latencies.count
        result.rate = Double(latencies.count) / seconds
        if !latencies.isEmpty {
            result.p50 = latencies[latencies.count / 2]
            result.p99 = latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.99).rounded(.up)) - 1)]
        }
        result.meanSign = posts == 0 ? 0 : signTime / Double(posts)
        result.meanPost = posts == 0 ? 0 : postTime / Double(posts)
        if let first = before.withLock({ $0 }) { result.cpu = usage.report(from: first, to: after) }
        return result
    }

    /// One desk: its officers in turn (every officer of the roster signs during the run), a file of the officer's
    /// department, a note signed over the head it knows, POSTed to A and B alternately.
    func desk(_ index: Int, _ desk: Desk, heads: Heads, measureFrom: ContinuousClock.Instant, measureUntil: ContinuousClock.Instant) {
        let mine = Array(stride(from: index, to: people.officers.count, by: clients))
        let connections = instances.map { BenchConnection(port: UInt16($0)) }
        var generator = SystemRandomNumberGenerator()
        var turn = 0, counter = 0
        let filler = String(repeating: "The file is put up for orders. ", count: extractBytes / 31 + 1)
        while ContinuousClock.now < measureUntil {
            let officerIndex = mine[turn % mine.count]
            turn += 1
            let officer = people.officers[officerIndex]
            let session = sessions[officerIndex]
            let files = numbers[officer.departmentIndex]
            let number = files[Int.random(in: 0..<files.count, using: &generator)]
            // Until this note is in (or fails): a 409 means another desk got there first; sign again over that head.
            var attempts = 0
            while attempts < 20 {
                attempts += 1
                counter += 1
                let noteID = "N-\(index)-\(counter)"
                let content = Array("File \(number), note \(noteID) by \(officer.issued.name): \(filler)".utf8.prefix(extractBytes))
                let signStart = ContinuousClock.now
                let signature: [UInt8]
                do {
                    signature = try sign(content, by: officer, file: number, note: noteID, over: heads.get(number))
                } catch {
                    desk.errors += 1
                    desk.errorSamples.append("signing: \(error)")
                    break
                }
                let body = Array(
                    (try? JSONOutput.encoder(pretty: false).encode(AppendRequestBody(kind: .note, noteID: noteID, content: content, signature: signature)))
                        ?? Data())
                let connection = connections[counter % connections.count]
                let postStart = ContinuousClock.now
                guard
                    let (answer, end, counted) = desk.post(
                        body, to: "/v1/files/\(Self.segment(number))/entries", on: connection, session: session, signStart: signStart,
                        window: measureFrom...measureUntil)
                else { break }
                if answer.status == 201 {
                    guard let appended = try? JSONDecoder().decode(AppendAnswer.self, from: Data(answer.body)),
                        let hash = Hex.decode(appended.entry.hash)
                    else {
                        if counted { desk.errors += 1 }
                        desk.errorSamples.append("a 201 whose body does not read")
                        break
                    }
                    heads.set(number, hash)
                    guard appended.indication == Indication.totalPassed.rawValue else {
                        if counted { desk.errors += 1 }
                        desk.errorSamples.append("appended with \(appended.indication)")
                        break
                    }
                    if counted {
                        desk.latencies.append((end - postStart).seconds)
                        if desk.sample == nil { desk.sample = (signature, content) }
                    }
                    break
                }
                let error = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(answer.body))
                if answer.status == 409, let named = Self.namedHead(error?.error ?? "") {
                    if counted {
                        desk.conflicts += 1
                        if error?.code == "head-moved" { desk.headMoved += 1 } else { desk.staleHead += 1 }
                    }
                    heads.set(number, named)
                    continue
                }
                if counted || ContinuousClock.now >= measureFrom {
                    desk.errors += 1
                    if desk.errorSamples.count < 5 {
                        desk.errorSamples.append(
                            "HTTP \(answer.status) from port \(connection.port): \(error?.error ?? String(decoding: answer.body.prefix(200), as: UTF8.self))")
                    }
                }
                break
            }
        }
    }

    /// One desk posting `batch` notes at a time: its officers in turn, each signing a note for each of `batch` files of
    /// the department over the heads it knows, POSTed together to A and B alternately. A refused note is not sent
    /// again (the next round signs over the head its 409 named).
    func batchDesk(_ index: Int, _ desk: Desk, heads: Heads, measureFrom: ContinuousClock.Instant, measureUntil: ContinuousClock.Instant) {
        let mine = Array(stride(from: index, to: people.officers.count, by: clients))
        let connections = instances.map { BenchConnection(port: UInt16($0)) }
        var turn = 0, counter = 0
        let filler = String(repeating: "The file is put up for orders. ", count: extractBytes / 31 + 1)
        while ContinuousClock.now < measureUntil {
            let officerIndex = mine[turn % mine.count]
            turn += 1
            let officer = people.officers[officerIndex]
            let department = numbers[officer.departmentIndex]
            let choice = inbox ? department.enumerated().filter { $0.offset % clients == index }.map(\.element) : department
            let files = choice.shuffled().prefix(batch)
            let signStart = ContinuousClock.now
            var items = [BatchAppendRequestBody.Item]()
            var sample: (signature: [UInt8], content: [UInt8])?
            do {
                for number in files {
                    counter += 1
                    let noteID = "N-\(index)-\(counter)"
                    let content = Array("File \(number), note \(noteID) by \(officer.issued.name): \(filler)".utf8.prefix(extractBytes))
                    let signature = try sign(content, by: officer, file: number, note: noteID, over: heads.get(number))
                    items.append(BatchAppendRequestBody.Item(file: number, kind: .note, noteID: noteID, content: content, signature: signature))
                    if sample == nil { sample = (signature, content) }
                }
            } catch {
                desk.errors += 1
                desk.errorSamples.append("signing: \(error)")
                continue
            }
            let body = Array((try? JSONOutput.encoder(pretty: false).encode(BatchAppendRequestBody(entries: items))) ?? Data())
            let connection = connections[turn % connections.count]
            let postStart = ContinuousClock.now
            guard
                let (answer, end, counted) = desk.post(
                    body, to: "/v1/entries", on: connection, session: sessions[officerIndex], signStart: signStart, window: measureFrom...measureUntil)
            else { continue }
            guard answer.status == 200, let batch = try? JSONDecoder().decode(BatchAppendAnswer.self, from: Data(answer.body)) else {
                if counted {
                    desk.errors += items.count
                    desk.errorSamples.append("HTTP \(answer.status) from port \(connection.port): \(String(decoding: answer.body.prefix(200), as: UTF8.self))")
                }
                continue
            }
            for result in batch.results {
                if result.status == 201, let appended = result.appended, let hash = Hex.decode(appended.entry.hash) {
                    heads.set(result.file, hash)
                    if counted {
                        if appended.indication == Indication.totalPassed.rawValue {
                            desk.latencies.append((end - postStart).seconds)
                        } else {
                            desk.errors += 1
                        }
                        if desk.sample == nil { desk.sample = sample }
                    }
                } else if result.status == 409, let named = Self.namedHead(result.error ?? "") {
                    heads.set(result.file, named)
                    if counted {
                        desk.conflicts += 1
                        if result.code == "head-moved" { desk.headMoved += 1 } else { desk.staleHead += 1 }
                    }
                } else if counted {
                    desk.errors += 1
                    if desk.errorSamples.count < 5 { desk.errorSamples.append("item HTTP \(result.status): \(result.error ?? "?")") }
                }
            }
        }
    }

    /// A note signed as the officer's token would: CAdES over the file's head, with the sub-CA in the chain.
    func sign(_ content: [UInt8], by officer: Department.Officer, file number: String, note noteID: String, over head: [UInt8]) throws -> [UInt8] {
        let parameters = SignatureParameters(
            context: EOfficeContext(fileNumber: number, noteID: noteID, previousEntryHash: head), commitment: .proofOfOrigin,
            signingTime: Date(), chain: [people.subCA.certificate])
        return try CAdES.signDetached(contentDigest: SHA256Hasher.hash(content), certificate: officer.issued.certificate, parameters: parameters) {
            try officer.key.sign($0)
        }
    }

    /// The head a 409 names: the last 64-digit hex in its message, or the empty file's head ("the file's head is empty").
    static func namedHead(_ message: String) -> [UInt8]? {
        if let range = message.range(of: "[0-9a-f]{64}", options: [.regularExpression, .backwards]) { return Hex.decode(String(message[range])) }
        return message.contains("head is empty") ? HistoryEntry.genesis : nil
    }

    /// A file number as one path segment ("GAD-11011/3/2026" -> "GAD-11011%2F3%2F2026").
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// CPU time of the instances, PostgreSQL (the postmaster and its backends), this process (the simulated officers)
/// and the whole machine, from /proc.
struct CPUUsage {
    let pids: [String: [Int32]]
    let postmaster: Int32?

    struct Sample {
        var seconds: [String: Double] = [:]
        var machineBusy = 0.0
        var machineTotal = 0.0
        var time = ContinuousClock.now
    }

    struct Report {
        var cores: [(String, Double)] = []
        var wall = 0.0
        var machineBusyCores = 0.0

        func lines(appends: Int, cores count: Int) -> [String] {
            guard wall > 0 else { return [] }
            var lines = [String]()
            var ours = 0.0
            for (name, used) in cores {
                ours += used
                lines.append(
                    String(
                        format: "CPU %@: %.2f cores, %.2f ms per append", name.padding(toLength: 26, withPad: " ", startingAt: 0), used,
                        appends == 0 ? 0 : 1000 * used * wall / Double(appends)))
            }
            lines.append(
                String(
                    format: "CPU whole machine: %.2f of %d cores busy (%.2f outside the processes above: other users of the machine)",
                    machineBusyCores, count, max(0, machineBusyCores - ours)))
            return lines
        }
    }

    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime of a process, seconds (nil when it is gone).
    static func cpu(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state(0) ppid(1) ... utime(11) stime(12).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticks
    }

    static func parent(_ pid: Int32) -> Int32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    func sample() -> Sample {
        var sample = Sample()
        for (name, list) in pids { sample.seconds[name] = list.compactMap(Self.cpu).reduce(0, +) }
        sample.seconds["this process (officers)"] = Self.cpu(getpid()) ?? 0
        if let postmaster {
            // Backends come and go (pgbench's); the service's pools keep theirs for the whole window.
            var total = Self.cpu(postmaster) ?? 0
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry), Self.parent(pid) == postmaster else { continue }
                total += Self.cpu(pid) ?? 0
            }
            sample.seconds["PostgreSQL (all backends)"] = total
        }
        if let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first {
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if values.count >= 5 {
                sample.machineTotal = values.reduce(0, +) / Self.ticks
                sample.machineBusy = sample.machineTotal - (values[3] + values[4]) / Self.ticks
            }
        }
        sample.time = ContinuousClock.now
        return sample
    }

    func report(from first: Sample, to last: Sample) -> Report {
        var report = Report()
        report.wall = (last.time - first.time).seconds
        guard report.wall > 0 else { return report }
        for name in last.seconds.keys.sorted() {
            report.cores.append((name, ((last.seconds[name] ?? 0) - (first.seconds[name] ?? 0)) / report.wall))
        }
        report.machineBusyCores = (last.machineBusy - first.machineBusy) / report.wall
        return report
    }
}

extension Thread {
    static func sleep(until instant: ContinuousClock.Instant) {
        let left = (instant - ContinuousClock.now).seconds
        if left > 0 { sleep(forTimeInterval: left) }
    }
}
