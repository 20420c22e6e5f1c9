import ArgumentParser
import Foundation
import QuickPayLoad
import ZeroMQ

/// `quickpay bench zmq`: the raw ZeroMQ baseline through the same binding the actors use, so
/// protocol figures can be given as ratios to what the transport alone does on this machine.
struct ZmqBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmq",
        abstract: "REQ/REP round trips/s and pipelined DEALER/ROUTER messages/s on TCP loopback, plain and with CURVE.",
        discussion: """
            Each figure is the median of --rounds rounds of about --seconds each, with an echo server on
            its own thread, and the round trip again with the server in another process (as a merchant
            is). Example:
              swift build -c release && .build/release/quickpay bench zmq --seconds 1 --rounds 3 --sync-folder runs
            """
    )

    @Option(help: "Seconds per round.") var seconds: Double = 0.5
    @Option(help: "Rounds per figure (the median is reported).") var rounds: Int = 3
    @Option(help: "Message size in bytes (a single-coin payment is 78).") var bytes: Int = 78
    @Flag(help: "Skip the CURVE measurements.") var plainOnly = false
    @Option(help: "Also time round trips to a server in another process that writes 4 KiB and fdatasyncs it in this folder before each reply.")
    var syncFolder: String?

    func run() throws {
        let meter = RateMeter(seconds: seconds, rounds: max(1, rounds))
        print("quickpay bench zmq: \(bytes)-byte messages, TCP loopback, median of \(meter.rounds) rounds of \(meter.seconds) s")
        for curve in plainOnly ? [false] : [false, true] {
            let label = curve ? "CURVE" : "plain"
            let roundTrips = try measure(curve: curve, pipelined: false, meter: meter)
            let pipelined = try measure(curve: curve, pipelined: true, meter: meter)
            print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  REQ/REP round trips   \(grouped(roundTrips).leftPadded(12)) /s  (\(String(format: "%.1f", 1e6 / roundTrips)) µs each)")
            print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  DEALER/ROUTER echoed  \(grouped(pipelined).leftPadded(12)) /s  (1000 in flight)")
            let across = try measureAcrossProcesses(curve: curve, syncFolder: nil, meter: meter)
            print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  REQ/REP, other process \(grouped(across).leftPadded(11)) /s  (\(String(format: "%.1f", 1e6 / across)) µs each)")
            if let syncFolder {
                let durable = try measureAcrossProcesses(curve: curve, syncFolder: syncFolder, meter: meter)
                print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  ... + 4 KiB fdatasync \(grouped(durable).leftPadded(11)) /s  (\(String(format: "%.1f", 1e6 / durable)) µs each: the server syncs before each reply)")
            }
        }
    }

    /// Starts an echo server (REP, or ROUTER for pipelining) on its own thread and measures.
    func measure(curve: Bool, pipelined: Bool, meter: RateMeter) throws -> Double {
        let context = try Context()
        let serverKeys = try CurveKeyPair.generate()
        let ready = DispatchSemaphore(value: 0)
        let endpointBox = EndpointBox()
        let server = Thread {
            do {
                let socket = try context.socket(pipelined ? .router : .reply)
                if curve { try socket.makeCurveServer(serverKeys) }
                try socket.setSendHighWaterMark(100_000)
                try socket.setReceiveHighWaterMark(100_000)
                try socket.setReceiveTimeout(milliseconds: 200)
                try socket.bind("tcp://127.0.0.1:*")
                endpointBox.set(try socket.lastEndpoint())
                ready.signal()
                while !endpointBox.stopped {
                    guard let frames = try socket.receive() else { continue }
                    try socket.send(multipart: frames)
                }
            } catch {
                endpointBox.set("error: \(error)")
                ready.signal()
            }
        }
        server.start()
        ready.wait()
        defer { endpointBox.stop() }
        let endpoint = endpointBox.value
        guard endpoint.hasPrefix("tcp://") else { throw ValidationError(endpoint) }
        return try measureClient(context: context, endpoint: endpoint, serverKey: curve ? serverKeys.publicKey : nil, pipelined: pipelined, meter: meter).rate
    }

    /// The REQ/REP round trip to an echo server in another process (`quickpay bench
    /// echo-server`), as a payment crosses from a customer to a merchant: each side then has its
    /// own ZeroMQ I/O thread, where `measure` shares one between client and server. With
    /// `syncFolder`, the server writes 4 KiB to a file there and `fdatasync`s it before each
    /// reply: the floor under any durable payment made one at a time on this machine, whatever
    /// the merchant does besides.
    func measureAcrossProcesses(curve: Bool, syncFolder: String?, meter: RateMeter) throws -> Double {
        let serverKeys = try CurveKeyPair.generate()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["bench", "echo-server"] + (curve ? ["--curve"] : []) + (syncFolder.map { ["--sync-folder", $0] } ?? [])
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var stopped = false
        defer {
            if !stopped {
                try? input.fileHandleForWriting.close()
                process.waitUntilExit()
            }
        }
        // The secret key goes over the pipe, not the command line (which `ps` shows). A server
        // that died at once makes the write fail (EPIPE), not this process.
        signal(SIGPIPE, SIG_IGN)
        try input.fileHandleForWriting.write(contentsOf: Data((curve ? serverKeys.secretKey.z85 : "-").utf8 + [0x0a]))
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != 0x0a { line.append(byte) }
        let endpoint = String(decoding: line, as: UTF8.self)
        guard endpoint.hasPrefix("tcp://") else { throw ValidationError("echo server: \(endpoint.isEmpty ? "exited without an endpoint" : endpoint)") }
        let context = try Context()
        let measured = try measureClient(context: context, endpoint: endpoint, serverKey: curve ? serverKeys.publicKey : nil, pipelined: false, meter: meter)
        // Closing its standard input stops the server, which then says how many requests it
        // answered and how many of its replies waited for a sync: the figure stands only if
        // every one of ours did.
        try input.fileHandleForWriting.close()
        let account = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        stopped = true
        let expected = "served \(measured.requests), synced \(syncFolder == nil ? 0 : measured.requests)"
        guard process.terminationStatus == 0, account == expected else {
            throw ValidationError("echo server: expected \"\(expected)\", it said \"\(account)\" (exit \(process.terminationStatus))")
        }
        return measured.rate
    }

    /// Round trips (or pipelined echoes) per second, and the requests sent in all (warm-up included).
    private func measureClient(context: Context, endpoint: String, serverKey: CurveKey?, pipelined: Bool, meter: RateMeter) throws -> (rate: Double, requests: Int) {
        let client = try context.socket(pipelined ? .dealer : .request)
        if let serverKey { try client.makeCurveClient(try CurveKeyPair.generate(), serverKey: serverKey) }
        try client.setSendHighWaterMark(100_000)
        try client.setReceiveHighWaterMark(100_000)
        try client.setReceiveTimeout(milliseconds: 5000)
        try client.connect(endpoint)
        let payload = [UInt8](repeating: 0x5a, count: bytes)
        // Warm up: the connection (and CURVE handshake) is not part of the figure.
        try client.send(payload)
        guard try client.receive() != nil else { throw ValidationError("the echo server at \(endpoint) did not answer in 5 s") }
        var failure: Error?
        let batch = pipelined ? 1000 : 100
        var requests = 1
        let rate = meter.operationsPerSecond(batchSize: batch) {
            requests += batch
            do {
                if pipelined {
                    for _ in 0..<batch { try client.send(payload) }
                    for _ in 0..<batch { _ = try client.receive() }
                } else {
                    for _ in 0..<batch {
                        try client.send(payload)
                        _ = try client.receive()
                    }
                }
            } catch {
                failure = error
            }
            return UInt64(batch)
        }
        client.close()
        if let failure { throw failure }
        return (rate, requests)
    }
}

/// `quickpay bench echo-server`: the other process of `ZmqBench.measureAcrossProcesses`. Reads
/// the CURVE secret key (z85, or "-" without CURVE) from its first line of standard input, binds
/// a REP socket on a free loopback port, prints the endpoint and echoes until standard input
/// closes; then prints "served N, synced M". With --sync-folder, each reply waits for a 4 KiB write
/// and its `fdatasync` in a file there (`SyncProbe`, as the load command's disk baseline).
struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server", abstract: "The echo server of the load command's cross-process baselines (started by it).", shouldDisplay: false)

    @Flag(help: "Serve over CURVE (the secret key is read from standard input).") var curve = false
    @Option(help: "Write 4 KiB and fdatasync it in this folder before each reply.") var syncFolder: String?

    func run() throws {
        guard let keyLine = readLine() else { throw ValidationError("no key line on standard input") }
        let context = try Context()
        let socket = try context.socket(.reply)
        if curve {
            guard let secret = CurveKey(z85: keyLine) else { throw ValidationError("the key line is not a z85 CURVE key") }
            try socket.makeCurveServer(try CurveKeyPair(secretKey: secret))
        }
        try socket.setReceiveTimeout(milliseconds: 200)
        try socket.bind("tcp://127.0.0.1:*")
        let probe = try syncFolder.map { try SyncProbe(folder: $0) }
        print(try socket.lastEndpoint())
        fflush(nil)
        let stop = EndpointBox()
        Thread.detachNewThread {
            while readLine() != nil {}
            stop.stop()
        }
        var served = 0
        var synced = 0
        while !stop.stopped {
            guard let frames = try socket.receive() else { continue }
            if let probe {
                try probe.writeAndSync()
                synced += 1
            }
            try socket.send(multipart: frames)
            served += 1
        }
        print("served \(served), synced \(synced)")
    }
}

/// The server thread's endpoint and the stop flag, shared with the measuring thread.
final class EndpointBox: @unchecked Sendable {
    private let lock = NSLock()
    private var endpoint = ""
    private var stopping = false
    func set(_ value: String) { lock.lock(); endpoint = value; lock.unlock() }
    var value: String { lock.lock(); defer { lock.unlock() }; return endpoint }
    func stop() { lock.lock(); stopping = true; lock.unlock() }
    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
}
