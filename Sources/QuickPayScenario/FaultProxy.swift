import Foundation
import QuickPayCore
import QuickPayProtocol
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import ZeroMQ

/// A message-level fault proxy a scenario puts between two actors (tc netem is not available
/// here, so latency and loss are injected in the application). The upstream actor connects to
/// the proxy as if it were the downstream server; the proxy forwards every message, except that
/// rules drop, delay, duplicate or reorder messages of a chosen type in a chosen direction.
/// It runs on its own thread, with its own sockets.
public final class FaultProxy: @unchecked Sendable {
    public enum Direction: String, Sendable { case request, reply }
    public enum Action: Sendable, Equatable {
        case drop
        case delay(milliseconds: Int)
        case duplicate
        /// Hold the message until the next one in the same direction has passed.
        case reorder
    }

    public struct Rule: Sendable {
        public let type: String
        public let direction: Direction
        public let action: Action
        public var remaining: Int
        public init(type: String, direction: Direction, action: Action, count: Int) {
            self.type = type
            self.direction = direction
            self.action = action
            remaining = count
        }
    }

    public let name: String
    public let frontend: String
    let backend: String
    let curve: (front: CurveKeyPair, back: ClientSecurity)?
    /// What passed through and what the proxy did with it, for the run report (its own log).
    let trace: MessageTrace?
    private let lock = NSLock()
    private var rules: [Rule] = []
    private var applied: [String: Int] = [:]
    private var stopping = false
    private var failure: String?
    private let stopped = DispatchSemaphore(value: 0)

    /// Starts forwarding from `frontend` (which it binds) to `backend`.
    /// `curve`: the key pair the proxy shows upstream and how it connects downstream (see
    /// `ActorDeployment.proxyKeys`); nil: plaintext.
    public init(
        name: String, frontend: String, backend: String, curve: (front: CurveKeyPair, back: ClientSecurity)? = nil, trace: MessageTrace? = nil
    ) throws {
        self.trace = trace
        trace?.serving(bind: frontend)
        self.name = name
        self.frontend = frontend
        self.backend = backend
        self.curve = curve
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do {
                try self.run(ready: ready)
            } catch {
                self.lock.lock()
                self.failure = "\(error)"
                self.lock.unlock()
                ready.signal()  // harmless if the proxy had started: nobody waits any more
            }
            self.stopped.signal()
        }
        thread.start()
        ready.wait()
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw ScenarioError("proxy \(name): \(failure)") }
    }

    public func add(_ rule: Rule) {
        lock.lock()
        rules.append(rule)
        lock.unlock()
    }

    /// A rule's count for "until cleared".
    public static let untilCleared = Int.max

    /// Removes the rules of `type` in `direction` (those set until cleared, say).
    public func clear(type: String, direction: Direction) {
        lock.lock()
        rules.removeAll { $0.type == type && $0.direction == direction }
        lock.unlock()
    }

    /// How many messages each fault has touched, by "direction type action".
    public var report: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return applied
    }

    /// Rules that never met a matching message: a scenario whose fault never happened proves
    /// nothing, so the runner fails it.
    public var unusedRules: [String] {
        lock.lock()
        defer { lock.unlock() }
        return rules.filter { $0.remaining > 0 && $0.remaining != Self.untilCleared }.map { "\($0.direction.rawValue) \($0.type) \($0.action) (\($0.remaining) left)" }
    }

    /// False once the forwarding thread has ended on an error.
    public var isAlive: Bool {
        lock.lock()
        defer { lock.unlock() }
        return failure == nil
    }

    public var failureText: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        stopped.wait()
    }

    /// The action for a message, consuming one use of the matching rule.
    func action(for frame: [UInt8], direction: Direction) -> Action? {
        guard let envelope = try? WireCodec().decode(frame) else { return nil }
        let type = envelope.body.typeName
        lock.lock()
        defer { lock.unlock() }
        // A message is matched by its own type (a reply by the reply's type, e.g. load_reply).
        guard let index = rules.firstIndex(where: { $0.direction == direction && $0.remaining > 0 && ($0.type == type || $0.type == "*") }) else { return nil }
        if rules[index].remaining != Self.untilCleared { rules[index].remaining -= 1 }
        applied["\(direction.rawValue) \(type) \(rules[index].action)", default: 0] += 1
        return rules[index].action
    }

    struct Held {
        let due: Int64
        let toBackend: Bool
        let client: [UInt8]
        let frame: [UInt8]
    }

    private func run(ready: DispatchSemaphore) throws {
        let context = try Context()
        let front = try context.socket(.router)
        try front.setRouterMandatory(false)
        if let curve { try front.makeCurveServer(curve.front) }
        try front.bind(frontend)
        ready.signal()
        var backs: [[UInt8]: Socket] = [:]
        var held: [Held] = []
        var reordered: [Direction: Held] = [:]

        func back(_ client: [UInt8]) throws -> Socket {
            if let socket = backs[client] { return socket }
            let socket = try context.socket(.dealer)
            try curve?.back.secure(socket, for: backend)
            try socket.connect(backend)
            backs[client] = socket
            return socket
        }
        func forward(_ message: Held) throws {
            trace?.record(.send, message.frame, peer: message.toBackend ? backend : "")
            if message.toBackend { try back(message.client).send(message.frame, flags: .dontWait) }
            else { try front.send(multipart: [message.client, message.frame], flags: .dontWait) }
        }
        func pass(_ message: Held, direction: Direction) throws {
            let decided = action(for: message.frame, direction: direction)
            trace?.record(.recv, message.frame, peer: message.toBackend ? "" : backend, note: decided.map { "\($0)" })
            switch decided {
            case .drop?: return
            case .delay(let milliseconds)?:
                held.append(Held(due: monotonicMilliseconds() + Int64(milliseconds), toBackend: message.toBackend, client: message.client, frame: message.frame))
                return
            case .duplicate?:
                try forward(message)
                try forward(message)
            case .reorder?:
                if let earlier = reordered[direction] { try forward(earlier) }
                reordered[direction] = message
                return
            case nil:
                try forward(message)
            }
            if let waiting = reordered.removeValue(forKey: direction) { try forward(waiting) }
        }

        while true {
            lock.lock()
            let stop = stopping
            lock.unlock()
            if stop { return }
            var poller = Poller()
            poller.register(front)
            let clients = Array(backs.keys)
            for client in clients { poller.register(backs[client]!) }
            let events = try poller.poll(timeoutMilliseconds: 20)
            if events[0].contains(.readable) {
                while let frames = try front.receive(flags: .dontWait, maximumFrames: 2), frames.count == 2 {
                    try pass(Held(due: 0, toBackend: true, client: frames[0], frame: frames[1]), direction: .request)
                }
            }
            for (offset, client) in clients.enumerated() where events[offset + 1].contains(.readable) {
                while let frames = try backs[client]!.receive(flags: .dontWait, maximumFrames: 1) {
                    try pass(Held(due: 0, toBackend: false, client: client, frame: frames[0]), direction: .reply)
                }
            }
            let now = monotonicMilliseconds()
            for message in held where message.due <= now { try forward(message) }
            held.removeAll { $0.due <= now }
        }
    }
}
