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
            its own thread. Example:
              swift build -c release && .build/release/quickpay bench zmq --seconds 1 --rounds 3
            """
    )

    @Option(help: "Seconds per round.") var seconds: Double = 0.5
    @Option(help: "Rounds per figure (the median is reported).") var rounds: Int = 3
    @Option(help: "Message size in bytes (a single-coin payment is 78).") var bytes: Int = 78
    @Flag(help: "Skip the CURVE measurements.") var plainOnly = false

    func run() throws {
        let meter = RateMeter(seconds: seconds, rounds: max(1, rounds))
        print("quickpay bench zmq: \(bytes)-byte messages, TCP loopback, median of \(meter.rounds) rounds of \(meter.seconds) s")
        for curve in plainOnly ? [false] : [false, true] {
            let label = curve ? "CURVE" : "plain"
            let roundTrips = try measure(curve: curve, pipelined: false, meter: meter)
            let pipelined = try measure(curve: curve, pipelined: true, meter: meter)
            print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  REQ/REP round trips   \(grouped(roundTrips).leftPadded(12)) /s  (\(String(format: "%.1f", 1e6 / roundTrips)) µs each)")
            print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0))  DEALER/ROUTER echoed  \(grouped(pipelined).leftPadded(12)) /s  (1000 in flight)")
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
        let client = try context.socket(pipelined ? .dealer : .request)
        if curve { try client.makeCurveClient(try CurveKeyPair.generate(), serverKey: serverKeys.publicKey) }
        try client.setSendHighWaterMark(100_000)
        try client.setReceiveHighWaterMark(100_000)
        try client.setReceiveTimeout(milliseconds: 5000)
        try client.connect(endpoint)
        let payload = [UInt8](repeating: 0x5a, count: bytes)
        // Warm up: the connection (and CURVE handshake) is not part of the figure.
        try client.send(payload)
        _ = try client.receive()
        var failure: Error?
        let batch = pipelined ? 1000 : 100
        let rate = meter.operationsPerSecond(batchSize: batch) {
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
        return rate
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
