import Foundation
import Logging
import QuickPayActors
import QuickPayConfig
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import ZeroMQ

/// Where an actor process listens and whom it talks to.
public struct HostConfig {
    public var name: String
    /// The ROUTER endpoint this actor serves, such as `tcp://127.0.0.1:7001`.
    public var bind: String
    /// The endpoint of the control socket (health, state, actions), if any: a ROUTER that REQ
    /// clients talk to.
    public var control: String?
    public var peers: [PeerName: String] = [:]
    /// CURVE on the server and control sockets; nil: plaintext (`--insecure`).
    public var serverSecurity: ServerSecurity?
    /// How the peer sockets connect.
    public var clientSecurity: ClientSecurity = .plaintext
    /// Group commit, retries, retention, crash points: the core's settings.
    public var core = HostCoreConfig()
    /// A deployment started for testing: crash points, clock shifts and fault controls work.
    public var testing = false
    /// Threads for slow jobs (password hashes) and how many may wait for one. 0 runs the jobs
    /// on the poll loop itself, as before the pool existed: only to measure what the pool buys
    /// (`QUICKPAY_WORKERS=0`, scripts/login-flood.sh).
    public var workerThreads = Int(ProcessInfo.processInfo.environment["QUICKPAY_WORKERS"] ?? "") ?? max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
    public var workerQueue = 64
    /// `HOST:PORT` to serve Prometheus metrics on (nil: none), and the data folder they read
    /// file sizes from.
    public var metrics: String?
    public var dataDir: String?

    public init(name: String, bind: String, control: String?) {
        self.name = name
        self.bind = bind
        self.control = control
    }
}

extension ActorSetup {
    public func hostConfig(peers: [PeerName: (endpoint: String, actor: String)], testing: Bool, admit: @escaping (CurveKey) -> Bool = { _ in true }) throws -> HostConfig {
        var config = HostConfig(name: name, bind: bind, control: control)
        config.peers = peers.mapValues(\.endpoint)
        config.serverSecurity = try serverSecurity(admit: admit)
        config.clientSecurity = try clientSecurity(peers: Dictionary(peers.values.map { ($0.endpoint, $0.actor) }, uniquingKeysWith: { a, _ in a }))
        config.testing = testing
        config.core.crashPointsEnabled = testing
        config.metrics = metrics
        config.dataDir = dataDir
        if let seconds = answerRetentionSeconds { config.core.answerRetentionSeconds = seconds }
        return config
    }
}

/// Hosts one `ServerActor` on ZeroMQ: a ROUTER for what it serves, a DEALER per peer, a
/// control socket (a ROUTER that REQ clients talk to), and one poll loop. The loop is a thin
/// shell around `HostCore`, which does the work (decoding, the idempotency stage, group commit,
/// retries, deadlines, crash points): the shell only moves frames between the sockets and the
/// core, and sends what the core returns, which it returns only once the group's commit is
/// durable.
public final class ActorHost<Actor: ServerActor> {
    public private(set) var core: HostCore<Actor>
    let config: HostConfig
    let context: Context
    let server: Socket
    let controlSocket: Socket?
    let gate: CurveGate?
    var peerSockets: [PeerName: Socket] = [:]
    let workers: WorkerPool?
    /// Inputs for the next group that did not come from a socket (jobs the pool refused).
    var carried: [HostInput] = []
    public let clock: DeploymentClock
    public var logger: Logger
    /// Send and receive events for run reports (`QUICKPAY_TRACE_MESSAGES=1`), nil when off.
    let trace = MessageTrace.shared
    /// Live metrics (`--metrics`), nil when off.
    let metrics: ActorMetrics?
    let metricsServer: MetricsServer?
    /// Control actions that read (state dumps): answered from the shell, outside any group.
    public var readActions: [String: (JSONObject) throws -> JSONObject] = [:]
    /// Control actions that change the actor: run by the core as a group of their own.
    public var stepActions: [String: (inout Actor, JSONObject, Timestamp) throws -> (JSONObject, Step<Actor.Batch>)] = [:]
    /// Actions that work only in a deployment started for testing.
    public var testingActions: Set<String> = []
    /// Control actions that can wait for their outcome (`"wait": true` in the request; without
    /// it they are not actions here). `start` runs as a group, as a step action does, and gives
    /// a poll. The poll reads the actor after every turn of the loop, until it gives the answer
    /// or `awaitDeadlineMilliseconds` passes; it may ask for more work, which runs as a group.
    /// The control socket serves other requests meanwhile (its answer waits with the request's
    /// envelope); at most `maximumAwaiting` wait at once.
    public var awaitingActions: [String: (inout Actor, JSONObject, Timestamp) throws -> (ControlPoll, Step<Actor.Batch>)] = [:]
    public typealias ControlPoll = (Actor) throws -> ControlProgress
    public enum ControlProgress {
        case done(JSONObject)
        case waiting
        /// Not done, and the actor is idle on it: this step starts more.
        case more((inout Actor, Timestamp) throws -> Step<Actor.Batch>)
    }
    /// Below the control clients' own 15 s timeout, so that they hear the refusal.
    public var awaitDeadlineMilliseconds: Int64 = 10_000
    /// The control requests waiting for their outcome, oldest first.
    var awaiting: [AwaitingControl] = []
    /// A control request waiting for its outcome: its answer goes back under `envelope` (the
    /// requester's routing id and the REQ delimiter).
    struct AwaitingControl {
        let envelope: [[UInt8]]
        let action: String
        let poll: ControlPoll
        let deadline: Int64
    }
    /// More waiting requests than this are refused (OVERLOADED) rather than held.
    public var maximumAwaiting = 8
    /// Control requests taken per turn of the loop: the serving path comes first.
    static var controlRequestsPerTurn: Int { 8 }

    public init(actor: Actor, journal: any Journal<Actor.Batch>, config: HostConfig, clock: DeploymentClock = DeploymentClock()) throws {
        self.config = config
        self.clock = clock
        self.logger = Logger(label: config.name)
        trace?.buffered = true
        var journal = journal
        if let address = config.metrics {
            let metrics = ActorMetrics(dataDir: config.dataDir)
            self.metrics = metrics
            metricsServer = try MetricsServer(listen: address, metrics: metrics)
            journal = TimedJournal(journal, histogram: metrics.commitLatency)
        } else {
            metrics = nil
            metricsServer = nil
        }
        var core = HostCore(actor: actor, journal: journal, config: config.core)
        if config.testing {
            for point in (ProcessInfo.processInfo.environment["QUICKPAY_CRASH_POINTS"] ?? "").split(separator: ",") { try core.arm(String(point)) }
        }
        self.core = core
        let context = try Context()
        self.context = context
        workers = config.workerThreads > 0 ? try WorkerPool(context: context, threads: config.workerThreads, capacity: config.workerQueue) : nil
        gate = try config.serverSecurity.map { try CurveGate(context: context, security: $0, logger: Logger(label: config.name)) }
        server = try context.socket(.router)
        try server.setMaximumMessageSize(bytes: transportMessageLimit(frameBytes: config.core.maximumFrameBytes, curve: config.serverSecurity != nil))
        try server.setReceiveHighWaterMark(10_000)
        try server.setSendHighWaterMark(10_000)
        try server.setRouterMandatory(true)
        try gate?.serve(server, domain: ServerSecurity.publicDomain)
        try server.bind(config.bind)
        if let endpoint = config.control {
            // A ROUTER, not a REP: an answer that waits (`awaitingActions`) does not hold the
            // socket. REQ clients see no difference.
            let socket = try context.socket(.router)
            try socket.setMaximumMessageSize(bytes: Self.maximumControlBytes)
            try gate?.serve(socket, domain: ServerSecurity.controlDomain)
            try socket.bind(endpoint)
            controlSocket = socket
        } else {
            controlSocket = nil
        }
    }

    /// The endpoint actually bound (a wildcard port resolved).
    public var boundEndpoint: String { (try? server.lastEndpoint()) ?? config.bind }

    func time() -> HostTime { HostTime(milliseconds: monotonicMilliseconds(), now: clock.now) }

    /// Runs until SIGTERM or SIGINT.
    public func run() {
        logger.info(
            "serving",
            metadata: [
                "bind": "\(boundEndpoint)", "control": "\(config.control ?? "-")", "transport": "\(gate == nil ? "plaintext (--insecure)" : "CURVE")",
                "testing": "\(config.testing)", "metrics": "\(metricsServer.map { "http://\($0.endpoint)/metrics" } ?? "-")",
            ])
        while !Signals.stopRequested {
            do {
                try step()
            } catch {
                logger.error("poll loop error", metadata: ["error": "\(error)"])
            }
        }
        trace?.flush()
        logger.info("stopping on signal")
    }

    /// One turn of the poll loop: wait for input or the next timer, hand everything that came to
    /// the core as one group, send what it returns.
    public func step() throws {
        var poller = Poller()
        poller.register(server)
        if let controlSocket { poller.register(controlSocket) }
        let peers = Array(peerSockets)
        for (_, socket) in peers { poller.register(socket) }
        if let workers { poller.register(workers.wake) }
        let gateSockets = gate?.sockets ?? []
        for socket in gateSockets { poller.register(socket) }
        var wait = carried.isEmpty ? max(0, min(core.nextWakeup() - monotonicMilliseconds(), 100)) : 0
        for pending in awaiting { wait = max(0, min(wait, pending.deadline - monotonicMilliseconds())) }
        let events = try poller.poll(timeoutMilliseconds: Int(wait))
        // Authentication first: a handshake waits on the ZAP answer.
        if let gate, events.suffix(gateSockets.count).contains(where: { $0.contains(.readable) }) { try gate.service() }
        var inputs: [HostInput] = []
        // What the group holds, a batch counted as its requests (the group-size metric).
        var weight = 0
        if events[0].contains(.readable) { inputs += receiveRequests(&weight) }
        var position = controlSocket == nil ? 1 : 2
        for (peer, socket) in peers {
            if events[position].contains(.readable) { inputs += receivePeer(peer, socket, &weight) }
            position += 1
        }
        let framesRead = inputs.count
        if let workers, events[position].contains(.readable) { inputs += workers.take() }
        inputs += carried
        carried.removeAll()
        if !inputs.isEmpty {
            deliver(core.drain(inputs, at: time()))
            metrics?.group(inputs: weight + inputs.count - framesRead)
        }
        if let controlSocket, events[1].contains(.readable) { serveControl(controlSocket) }
        deliver(core.advance(to: time()))
        if !awaiting.isEmpty { pollAwaiting() }
        trace?.flush()
        metrics?.depths(open: core.openCount, inFlight: core.inFlightCount, jobs: carried.count + (workers?.pending ?? 0), retriesSent: core.retriesSent, refused: gate?.refused ?? 0)
    }

    /// Up to 256 waiting requests (`GroupBudget`): one group commit.
    func receiveRequests(_ weight: inout Int) -> [HostInput] {
        var inputs: [HostInput] = []
        var budget = GroupBudget()
        defer { weight += budget.requests }
        while !budget.isSpent {
            let received: Result<(frames: [[UInt8]], userID: String?)?, ZMQError> = Result { () throws(ZMQError) in
                try server.receiveAuthenticated(flags: .dontWait, maximumFrames: 3)
            }
            guard case .success(let maybeMessage) = received else {
                logger.warning("refused a message", metadata: ["error": "\(received)"])
                budget.countRefused()
                continue
            }
            guard let (frames, userID) = maybeMessage else { break }
            guard frames.count == 2 else {
                logger.warning("refused a message of \(frames.count - 1) frames; a QuickPay message is one frame")
                budget.countRefused()
                continue
            }
            budget.count(frames[1])
            trace?.record(.recv, frames[1])
            metrics?.received(frames[1], from: frames[0], at: DispatchTime.now().uptimeNanoseconds)
            inputs.append(.request(ClientID(frames[0], key: userID.flatMap(CurveKey.init(z85:)).map(Bytes32.init)), frames[1]))
        }
        return inputs
    }

    func receivePeer(_ peer: PeerName, _ socket: Socket, _ weight: inout Int) -> [HostInput] {
        var inputs: [HostInput] = []
        var budget = GroupBudget()
        defer { weight += budget.requests }
        while !budget.isSpent {
            guard let frames = try? socket.receive(flags: .dontWait, maximumFrames: 1) else { break }
            budget.count(frames[0])
            trace?.record(.recv, frames[0], peer: config.peers[peer] ?? peer.description)
            inputs.append(.peerReply(peer, frames[0]))
        }
        return inputs
    }

    /// Logs what the core says, dies at a crash point, or sends the frames.
    func deliver(_ drained: Drained) {
        for log in drained.logs {
            switch log {
            case .groupFailed: logger.error("\(log)")
            case .crashPoint: logger.critical("\(log)")
            default: logger.warning("\(log)")
            }
        }
        if drained.crash != nil {
            trace?.flush()
            kill(getpid(), SIGKILL)
        }
        if let workers {
            carried += workers.submit(drained.jobs)
        } else {
            carried += drained.jobs.map { .computed($0.id, $0.computation.run()) }
        }
        for frame in drained.frames {
            do {
                switch frame {
                case .toClient(let client, let bytes):
                    try server.send(multipart: [client.routingID, bytes], flags: .dontWait)
                    trace?.record(.send, bytes)
                    metrics?.answered(bytes, to: client.routingID, at: DispatchTime.now().uptimeNanoseconds)
                case .toPeer(let peer, let bytes):
                    try peerSocket(peer).send(bytes, flags: .dontWait)
                    trace?.record(.send, bytes, peer: config.peers[peer] ?? peer.description)
                }
            } catch {
                logger.warning("could not send", metadata: ["error": "\(error)"])
            }
        }
    }

    func peerSocket(_ peer: PeerName) throws -> Socket {
        if let socket = peerSockets[peer] { return socket }
        guard let endpoint = config.peers[peer] else { throw ZMQError(errno: EHOSTUNREACH, operation: "no endpoint for \(peer)") }
        let socket = try context.socket(.dealer)
        try socket.setMaximumMessageSize(bytes: transportMessageLimit(frameBytes: config.core.maximumFrameBytes, curve: !config.clientSecurity.isPlaintext))
        try socket.setSendHighWaterMark(10_000)
        try socket.setReceiveHighWaterMark(10_000)
        // A peer cut off by the network (a partition, not a closed socket) is noticed within
        // seconds: the connection is dropped and libzmq reconnects, and the retries go out on
        // the new connection once the link is back.
        try socket.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 3000, timeToLiveMilliseconds: 6000)
        try config.clientSecurity.secure(socket, for: endpoint)
        try socket.connect(endpoint)
        peerSockets[peer] = socket
        return socket
    }

    // MARK: Control

    /// A control request is a JSON object; anything larger than this is refused by the socket.
    static var maximumControlBytes: Int64 { 1 << 20 }

    /// Takes the control requests waiting (up to `controlRequestsPerTurn`) and answers each, or
    /// sets it waiting (`awaitingActions`).
    func serveControl(_ socket: Socket) {
        for _ in 0..<Self.controlRequestsPerTurn {
            let received: [[UInt8]]?
            do {
                received = try socket.receive(flags: .dontWait, maximumFrames: 8)
            } catch {
                logger.warning("refused a control message", metadata: ["error": "\(error)"])
                continue
            }
            guard let frames = received else { return }
            // The routing id the ROUTER adds, then (from a REQ) the empty delimiter, then the body.
            // The envelope is kept while an answer waits and sent back: it is held small.
            guard frames.count >= 2 else { continue }
            var envelope = Array(frames.dropLast())
            let answer: JSONObject?
            if envelope.count > Self.maximumEnvelopeFrames || envelope.reduce(0, { $0 + $1.count }) > Self.maximumEnvelopeBytes {
                envelope = [frames[0], []]
                answer = ControlJSON.failure(
                    "MALFORMED", "a control request's envelope is at most \(Self.maximumEnvelopeFrames) frames of \(Self.maximumEnvelopeBytes) bytes in all")
            } else {
                answer = serveControl(frames[frames.count - 1], envelope: envelope)
            }
            if let answer { send(answer, to: envelope) }
        }
    }

    /// Sends a control answer. A ROUTER without `ROUTER_MANDATORY` drops what it cannot route
    /// (a requester gone) and never blocks; an error is logged and the loop goes on.
    func send(_ answer: JSONObject, to envelope: [[UInt8]]) {
        guard let controlSocket else { return }
        do {
            try controlSocket.send(multipart: envelope + [ControlJSON.encode(answer)], flags: .dontWait)
        } catch {
            logger.warning("could not send a control answer", metadata: ["error": "\(error)"])
        }
    }

    /// The routing id, a requester's own frames (a DEALER's tag) and the REQ delimiter.
    static var maximumEnvelopeFrames: Int { 4 }
    static var maximumEnvelopeBytes: Int { 256 }

    /// The answer to one control request, or nil when it waits for its outcome.
    func serveControl(_ body: [UInt8], envelope: [[UInt8]]) -> JSONObject? {
        guard let request = ControlJSON.decode(body), let action = request["action"] as? String else {
            return ControlJSON.failure("MALFORMED", "a control request is a JSON object with an \"action\"")
        }
        guard request["wait"] as? Bool == true, let start = awaitingActions[action], !(testingActions.contains(action) && !config.testing) else {
            return control(action, request)
        }
        guard awaiting.count < maximumAwaiting else {
            return ControlJSON.failure("OVERLOADED", "\(awaiting.count) control requests already wait for their outcome; ask again later")
        }
        let (result, drained) = core.perform(action, at: time()) { actor, now in try start(&actor, request, now) }
        deliver(drained)
        switch result {
        case .success(let poll):
            awaiting.append(AwaitingControl(envelope: envelope, action: action, poll: poll, deadline: monotonicMilliseconds() + awaitDeadlineMilliseconds))
            pollAwaiting()  // done at once if there was nothing to wait for
            return nil
        case .failure(let error):
            return Self.failure(error)
        }
    }

    /// Runs each waiting control request's poll, oldest first; sends the answers that are ready
    /// (or a refusal at the deadline, or when the poll or the work it asks for fails).
    func pollAwaiting() {
        var still: [AwaitingControl] = []
        for pending in awaiting {
            guard let answer = poll(pending) else {
                still.append(pending)
                continue
            }
            send(answer, to: pending.envelope)
        }
        awaiting = still
    }

    func poll(_ pending: AwaitingControl) -> JSONObject? {
        var answer: JSONObject?
        do {
            switch try pending.poll(core.actor) {
            case .done(let done): answer = done
            case .waiting: break
            case .more(let body):
                let (result, drained) = core.perform(pending.action, at: time()) { actor, now in ((), try body(&actor, now)) }
                deliver(drained)
                if case .failure(let error) = result { answer = Self.failure(error) }
            }
        } catch {
            answer = Self.failure(error)
        }
        if answer == nil, monotonicMilliseconds() >= pending.deadline {
            answer = ControlJSON.failure("UNAVAILABLE", "\(pending.action) not done within \(awaitDeadlineMilliseconds) ms; it goes on")
        }
        return answer
    }

    func control(_ action: String, _ request: JSONObject) -> JSONObject {
        if (testingActions.contains(action) || ["clock", "crash"].contains(action)) && !config.testing {
            return ControlJSON.failure("FORBIDDEN", "\(action) works only in a deployment started for testing (--testing)")
        }
        switch action {
        case "health":
            return [
                "ok": true, "actor": config.name, "pid": Int(getpid()), "bind": boundEndpoint, "clock_offset": clock.offset,
                "transport": gate == nil ? "plaintext" : "curve", "refused_handshakes": gate?.refused ?? 0, "testing": config.testing,
                "peer_requests_in_flight": core.inFlightCount, "requests_open": core.openCount, "control_requests_waiting": awaiting.count,
            ]
        case "clock":
            clock.advance(seconds: (request["advance_seconds"] as? NSNumber)?.int64Value ?? 0)
            return ["ok": true, "clock_offset": clock.offset, "now": clock.now.secondsSinceEpoch]
        case "crash":
            guard let point = request["point"] as? String else { return ControlJSON.failure("MALFORMED", "crash needs a point") }
            do {
                try core.arm(point)
            } catch {
                return ControlJSON.failure(error.code.name, error.message)
            }
            return ["ok": true, "armed": core.armed.sorted().map { "after-commit:\($0)" }]
        default:
            if let read = readActions[action] {
                do { return try read(request) } catch { return Self.failure(error) }
            }
            guard let handler = stepActions[action] else { return ControlJSON.failure("MALFORMED", "unknown action \(action)") }
            let (result, drained) = core.perform(action, at: time()) { actor, now in try handler(&actor, request, now) }
            deliver(drained)
            switch result {
            case .success(let answer): return answer
            case .failure(let error): return Self.failure(error)
            }
        }
    }

    static func failure(_ error: any Error) -> JSONObject {
        if let error = error as? QuickPayError { return ControlJSON.failure(error.code.name, error.message) }
        return ControlJSON.failure("UNAVAILABLE", "\(error)")
    }
}
