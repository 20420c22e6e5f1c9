import Foundation
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// ATTACKS 28: logins with wrong passwords, as fast as one client can send them, from a thread
/// of the attacker's process on a connection of its own (its own client key), while the
/// scenario goes on. The answers are counted by code for `flood-report`.
final class LoginFlood: @unchecked Sendable {
    static let current = LoginFlood()

    private let condition = NSCondition()
    private var answers: [String: Int] = [:]
    private var sent = 0
    private var received = 0
    private var running = false

    func start(_ client: CustomerClient, endpoint: String, username: String, count: Int) throws -> JSONObject {
        let user = try Username(username)
        condition.lock()
        guard !running else {
            condition.unlock()
            throw QuickPayError(.conflict, "a login flood is running")
        }
        running = true
        answers = [:]
        sent = count
        received = 0
        condition.unlock()
        let socket = try client.zmqContext.socket(.dealer)
        try client.clientSecurity.secure(socket, for: endpoint)
        try socket.setSendHighWaterMark(Int32(max(count, 1000)))
        try socket.connect(endpoint)
        nonisolated(unsafe) let flooder = socket
        let thread = Thread { [self] in
            let socket = flooder
            defer { socket.close() }
            let codec = WireCodec()
            var generator = SystemRandomNumberGenerator()
            for attempt in 0..<count {
                let guess = try! Password("guess-\(attempt)-\(UInt32.random(in: 0...UInt32.max, using: &generator))")
                _ = try? socket.send(codec.encode(Envelope(requestID: .random(using: &generator), body: .login(LoginRequest(username: user, password: guess)))), flags: .dontWait)
            }
            // Every answer, or a minute of silence.
            try? socket.setReceiveTimeout(milliseconds: 60_000)
            for _ in 0..<count {
                guard let frames = try? socket.receive(), let frame = frames.last else { break }
                let code: String
                switch (try? codec.decode(frame))?.body {
                case .error(let error)?: code = error.code.name
                case let body?: code = body.typeName
                case nil: code = "MALFORMED_ANSWER"
                }
                condition.lock()
                answers[code, default: 0] += 1
                received += 1
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
        return ["ok": true, "sending": count]
    }

    /// Waits until the flood has every answer (or gave up), then counts them by code.
    func report() -> JSONObject {
        condition.lock()
        defer { condition.unlock() }
        while running { condition.wait() }
        return ["ok": true, "sent": sent, "answered": received, "answers": answers]
    }
}

/// An honest customer's latency, measured one request at a time by its own process: a balance
/// request, a load of one Re 1 coin and a Re 1 payment, `count` times.
enum HonestLatency {
    static func measure(_ client: CustomerClient, receiver: ReceiverID, count: Int) throws -> JSONObject {
        var samples: [String: [Double]] = [:]
        func timed(_ name: String, _ work: () throws -> Void) rethrows {
            let started = DispatchTime.now().uptimeNanoseconds
            try work()
            samples[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        }
        for _ in 0..<max(1, count) {
            try timed("balance") { _ = try client.balance() }
            try timed("load") { _ = try client.load(receiver: receiver, counts: [.rs1: 1]) }
            try timed("pay") { _ = try client.pay(receiver: receiver, amount: Amount(paise: 100), order: "") }
        }
        return samples.reduce(into: ["ok": true] as JSONObject) { $0[$1.key] = figures($1.value) }
    }

    static func figures(_ samples: [Double]) -> JSONObject {
        let sorted = samples.sorted()
        func rank(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)] }
        return ["count": sorted.count, "p50_ms": rank(0.50), "p99_ms": rank(0.99), "max_ms": sorted.last ?? 0]
    }
}
