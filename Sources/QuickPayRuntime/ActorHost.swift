import Foundation
import Logging
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// Where an actor process listens and whom it talks to.
public struct HostConfig {
    public var name: String
    /// The ROUTER endpoint this actor serves, such as `tcp://127.0.0.1:7001`.
    public var bind: String
    /// The REP endpoint of the control socket (health, state, actions), if any.
    public var control: String?
    public var peers: [PeerName: String] = [:]
    public var maximumFrameBytes = ProtocolLimits.defaultMaximumFrameBytes
    /// How often an unanswered peer request is sent again (same request id) before its deadline.
    public var retryIntervalMilliseconds = 500
    public var tickIntervalMilliseconds = 1000
    /// CURVE on the server and control sockets; nil: plaintext (`--insecure`).
    public var serverSecurity: ServerSecurity?
    /// How the peer sockets connect.
    public var clientSecurity: ClientSecurity = .plaintext

    public init(name: String, bind: String, control: String?) {
        self.name = name
        self.bind = bind
        self.control = control
    }
}

/// Hosts one `ServerActor` on ZeroMQ: a ROUTER for what it serves, a DEALER per peer, a REP
/// control socket, and one poll loop. Frames are decoded strictly before the actor sees them;
/// outputs are sent only after the actor's step (and its commit) is done. Peer requests are
/// retried under the same request id until their deadline; then the actor hears `nil`.
public final class ActorHost<Actor: ServerActor> {
    public var actor: Actor
    let config: HostConfig
    let context: Context
    let server: Socket
    let controlSocket: Socket?
    let gate: CurveGate?
    var peerSockets: [PeerName: Socket] = [:]
    var inFlight: [RequestID: Outgoing] = [:]
    let codec: WireCodec
    public let clock: DeploymentClock
    public var logger: Logger
    /// Crash points armed by environment or control: `after-commit:<message type>`.
    public var crashPoints: Set<String>
    /// Actor-specific control actions; `health`, `clock` and `crash` are built in.
    public var controlActions: [String: (inout Actor, JSONObject, Timestamp) throws -> (JSONObject, [Output])] = [:]
    var nextTickMilliseconds: Int64 = 0

    struct Outgoing {
        let peer: PeerName
        let frame: [UInt8]
        let deadline: Int64
        var nextRetry: Int64
    }

    public init(actor: Actor, config: HostConfig, clock: DeploymentClock = DeploymentClock()) throws {
        self.actor = actor
        self.config = config
        self.clock = clock
        self.codec = WireCodec(maximumFrameBytes: config.maximumFrameBytes)
        self.logger = Logger(label: config.name)
        self.crashPoints = Set((ProcessInfo.processInfo.environment["QUICKPAY_CRASH_POINTS"] ?? "").split(separator: ",").map(String.init))
        let context = try Context()
        self.context = context
        gate = try config.serverSecurity.map { try CurveGate(context: context, security: $0, logger: Logger(label: config.name)) }
        server = try context.socket(.router)
        try server.setMaximumMessageSize(bytes: Int64(config.maximumFrameBytes))
        try server.setReceiveHighWaterMark(10_000)
        try server.setSendHighWaterMark(10_000)
        try server.setRouterMandatory(true)
        try gate?.serve(server, domain: ServerSecurity.publicDomain)
        try server.bind(config.bind)
        if let endpoint = config.control {
            let socket = try context.socket(.reply)
            try gate?.serve(socket, domain: ServerSecurity.controlDomain)
            try socket.bind(endpoint)
            controlSocket = socket
        } else {
            controlSocket = nil
        }
    }

    /// The endpoint actually bound (a wildcard port resolved).
    public var boundEndpoint: String { (try? server.lastEndpoint()) ?? config.bind }

    /// Runs until SIGTERM or SIGINT.
    public func run() {
        logger.info(
            "serving",
            metadata: ["bind": "\(boundEndpoint)", "control": "\(config.control ?? "-")", "transport": "\(gate == nil ? "plaintext (--insecure)" : "CURVE")"])
        while !Signals.stopRequested {
            do {
                try step()
            } catch {
                logger.error("poll loop error", metadata: ["error": "\(error)"])
            }
        }
        logger.info("stopping on signal")
    }

    func step() throws {
        var poller = Poller()
        poller.register(server)
        if let controlSocket { poller.register(controlSocket) }
        let peers = Array(peerSockets)
        for (_, socket) in peers { poller.register(socket) }
        let gateSockets = gate?.sockets ?? []
        for socket in gateSockets { poller.register(socket) }
        let events = try poller.poll(timeoutMilliseconds: nextTimeout())
        // Authentication first: a handshake waits on the ZAP answer.
        if let gate, events.suffix(gateSockets.count).contains(where: { $0.contains(.readable) }) { try gate.service() }
        if events[0].contains(.readable) { try drainServer() }
        var position = 1
        if let controlSocket {
            if events[position].contains(.readable) { try serveControl(controlSocket) }
            position += 1
        }
        for (offset, (peer, socket)) in peers.enumerated() where events[position + offset].contains(.readable) {
            try drainPeer(peer, socket)
        }
        try runTimers()
    }

    func nextTimeout() -> Int {
        let now = monotonicMilliseconds()
        var next = max(nextTickMilliseconds, now + 10)
        for outgoing in inFlight.values { next = min(next, outgoing.nextRetry, outgoing.deadline) }
        return Int(min(max(next - now, 0), 100))
    }

    // MARK: Serving

    /// Reads and handles up to 256 waiting requests. With a store that can group commits, they
    /// all commit in one transaction (one sync to disk) before any of their outputs is sent; if
    /// that commit fails, none of them took effect and each is answered UNAVAILABLE.
    func drainServer() throws {
        var handled: [(client: ClientID, requestID: RequestID, type: String, outputs: [Output])] = []
        let work = { [self] in
            try receiveAndHandle { client, envelope, outputs in
                handled.append((client, envelope.requestID, envelope.body.typeName, outputs))
            }
        }
        if let group = actor.groupCommitter {
            do {
                try group.inGroup(work)
            } catch {
                logger.error("group commit failed: none of its \(handled.count) requests took effect", metadata: ["error": "\(error)"])
                for entry in handled {
                    for output in entry.outputs {
                        switch output {
                        case .request: send(output)
                        case .push: continue
                        case .reply(let client, let envelope):
                            send(.reply(to: client, envelope.reply(.error(QuickPayError(.unavailable, "storage failed; nothing was done: retry")))))
                        }
                    }
                }
                return
            }
        } else {
            try work()
        }
        for entry in handled where crashPoints.contains("after-commit:\(entry.type)") {
            logger.critical("crash point after-commit:\(entry.type): killing the process before it replies")
            kill(getpid(), SIGKILL)
        }
        for entry in handled {
            for output in entry.outputs { send(output) }
        }
    }

    func receiveAndHandle(_ done: (ClientID, Envelope, [Output]) -> Void) throws {
        for _ in 0..<256 {
            let received: Result<(frames: [[UInt8]], userID: String?)?, ZMQError> = Result { () throws(ZMQError) in
                try server.receiveAuthenticated(flags: .dontWait, maximumFrames: 3)
            }
            guard case .success(let maybeMessage) = received else {
                logger.warning("refused a message", metadata: ["error": "\(received)"])
                continue
            }
            guard let (frames, userID) = maybeMessage else { return }
            guard frames.count == 2 else {
                logger.warning("refused a message of \(frames.count - 1) frames; a QuickPay message is one frame")
                continue
            }
            let client = ClientID(frames[0], key: userID.flatMap(CurveKey.init(z85:)).map(Bytes32.init))
            let envelope: Envelope
            do {
                envelope = try codec.decode(frames[1])
            } catch {
                logger.warning("malformed frame", metadata: ["bytes": "\(frames[1].count)", "error": "\(error.message)"])
                let requestID = codec.requestID(of: frames[1]) ?? RequestID(Bytes16(high: 0, low: 0))
                send(.reply(to: client, Envelope(requestID: requestID, body: .error(error))))
                continue
            }
            let outputs = actor.handle(envelope, from: client, now: clock.now)
            logger.debug("handled", metadata: ["type": "\(envelope.body.typeName)", "request": "\(envelope.requestID)"])
            done(client, envelope, outputs)
        }
    }

    func send(_ output: Output) {
        do {
            switch output {
            case .reply(let client, let envelope), .push(let client, let envelope):
                try server.send(multipart: [client.routingID, codec.encode(envelope)], flags: .dontWait)
            case .request(let peer, let envelope, let deadline):
                let frame = codec.encode(envelope)
                let now = monotonicMilliseconds()
                inFlight[envelope.requestID] = Outgoing(
                    peer: peer, frame: frame, deadline: now + Int64(deadline), nextRetry: now + Int64(config.retryIntervalMilliseconds))
                try peerSocket(peer).send(frame, flags: .dontWait)
            }
        } catch {
            logger.warning("could not send", metadata: ["error": "\(error)"])
        }
    }

    func peerSocket(_ peer: PeerName) throws -> Socket {
        if let socket = peerSockets[peer] { return socket }
        guard let endpoint = config.peers[peer] else { throw ZMQError(errno: EHOSTUNREACH, operation: "no endpoint for \(peer)") }
        let socket = try context.socket(.dealer)
        try socket.setMaximumMessageSize(bytes: Int64(config.maximumFrameBytes))
        try socket.setSendHighWaterMark(10_000)
        try socket.setReceiveHighWaterMark(10_000)
        // A peer cut off by the network (a partition, not a closed socket) is noticed within
        // seconds: the connection is dropped and libzmq reconnects, and the retries above go
        // out on the new connection once the link is back.
        try socket.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 3000, timeToLiveMilliseconds: 6000)
        try config.clientSecurity.secure(socket, for: endpoint)
        try socket.connect(endpoint)
        peerSockets[peer] = socket
        return socket
    }

    func drainPeer(_ peer: PeerName, _ socket: Socket) throws {
        for _ in 0..<256 {
            guard let frames = try socket.receive(flags: .dontWait, maximumFrames: 1) else { return }
            guard let envelope = try? codec.decode(frames[0]) else {
                logger.warning("malformed reply from \(peer)")
                continue
            }
            // A late or duplicate answer (to a retry) finds nothing in flight and is dropped.
            guard inFlight.removeValue(forKey: envelope.requestID) != nil else { continue }
            for output in actor.handlePeerReply(envelope, requestID: envelope.requestID, from: peer, now: clock.now) { send(output) }
        }
    }

    func runTimers() throws {
        let now = monotonicMilliseconds()
        for (requestID, outgoing) in inFlight {
            if now >= outgoing.deadline {
                inFlight[requestID] = nil
                logger.warning("no answer from \(outgoing.peer) before the deadline", metadata: ["request": "\(requestID)"])
                for output in actor.handlePeerReply(nil, requestID: requestID, from: outgoing.peer, now: clock.now) { send(output) }
            } else if now >= outgoing.nextRetry {
                inFlight[requestID]?.nextRetry = now + Int64(config.retryIntervalMilliseconds)
                _ = try? peerSocket(outgoing.peer).send(outgoing.frame, flags: .dontWait)
            }
        }
        if now >= nextTickMilliseconds {
            nextTickMilliseconds = now + Int64(config.tickIntervalMilliseconds)
            for output in actor.tick(now: clock.now) { send(output) }
        }
    }

    // MARK: Control

    func serveControl(_ socket: Socket) throws {
        guard let frames = try socket.receive(flags: .dontWait) else { return }
        var answer: JSONObject
        if let request = ControlJSON.decode(frames[0]), let action = request["action"] as? String {
            answer = control(action, request)
        } else {
            answer = ControlJSON.failure("MALFORMED", "a control request is a JSON object with an \"action\"")
        }
        try socket.send(ControlJSON.encode(answer))
    }

    func control(_ action: String, _ request: JSONObject) -> JSONObject {
        switch action {
        case "health":
            return [
                "ok": true, "actor": config.name, "pid": Int(getpid()), "bind": boundEndpoint, "clock_offset": clock.offset,
                "transport": gate == nil ? "plaintext" : "curve", "refused_handshakes": gate?.refused ?? 0,
            ]
        case "clock":
            clock.advance(seconds: (request["advance_seconds"] as? NSNumber)?.int64Value ?? 0)
            return ["ok": true, "clock_offset": clock.offset, "now": clock.now.secondsSinceEpoch]
        case "crash":
            guard let point = request["point"] as? String else { return ControlJSON.failure("MALFORMED", "crash needs a point") }
            crashPoints.insert(point)
            return ["ok": true, "armed": Array(crashPoints).sorted()]
        default:
            guard let handler = controlActions[action] else { return ControlJSON.failure("MALFORMED", "unknown action \(action)") }
            do {
                let (answer, outputs) = try handler(&actor, request, clock.now)
                for output in outputs { send(output) }
                return answer
            } catch let error as QuickPayError {
                return ControlJSON.failure(error.code.name, error.message)
            } catch {
                return ControlJSON.failure("INTERNAL", "\(error)")
            }
        }
    }
}
