import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// A moment as the host sees it: a monotonic clock for retries and deadlines, and the
/// deployment's time (shiftable in tests) that actors get as `now`.
public struct HostTime: Hashable, Sendable {
    public var milliseconds: Int64
    public var now: Timestamp
    public init(milliseconds: Int64, now: Timestamp) {
        self.milliseconds = milliseconds
        self.now = now
    }
}

/// What reaches the host: a client's frame on the server socket, or a peer's answer.
public enum HostInput: Sendable {
    case request(ClientID, [UInt8])
    case peerReply(PeerName, [UInt8])
    /// A computation's result from the worker pool (nil: the pool had no room for it).
    case computed(ComputationID, ComputationResult?)
}

/// Slow work for the host's worker pool.
public struct Job: Sendable, Equatable {
    public let id: ComputationID
    public let computation: Computation
    public init(id: ComputationID, computation: Computation) {
        self.id = id
        self.computation = computation
    }
}

/// What the host sends.
public enum Frame: Hashable, Sendable {
    case toClient(ClientID, [UInt8])
    case toPeer(PeerName, [UInt8])
}

/// Something the shell logs.
public enum HostLog: Hashable, Sendable, CustomStringConvertible {
    case malformedFrame(bytes: Int, message: String)
    case malformedPeerReply(PeerName, message: String)
    case groupFailed(steps: Int, error: String)
    case peerDeadline(PeerName, RequestID)
    case crashPoint(String)
    case batchRefused(PeerName, message: String)

    public var description: String {
        switch self {
        case .malformedFrame(let bytes, let message): "malformed frame (\(bytes) bytes): \(message)"
        case .malformedPeerReply(let peer, let message): "malformed reply from \(peer): \(message)"
        case .groupFailed(let steps, let error): "group commit failed: none of its \(steps) steps took effect, each request answered UNAVAILABLE (\(error))"
        case .peerDeadline(let peer, let id): "no answer from \(peer) before the deadline (request \(id))"
        case .crashPoint(let point): "crash point after-commit:\(point): the process dies before it sends anything"
        case .batchRefused(let peer, let message): "\(peer) refused a batch (\(message)): its requests go again alone, and to it from now on"
        }
    }
}

/// The outcome of one group: the frames to send (only once the group is durable), or a crash
/// point that fired (then nothing is sent), and what to log.
public struct Drained: Sendable {
    public var frames: [Frame] = []
    /// Work for the worker pool: like frames, handed out only once the group is durable.
    public var jobs: [Job] = []
    public var crash: String?
    public var logs: [HostLog] = []
    /// The labels of the commits the group made durable (empty when it failed or had none).
    public var committed: [String] = []
    public init() {}
}

/// How much of one socket a poll turn reads into its group: each request counts one, a batch
/// (or a batch reply) as the requests in it, until `limit` (the frame that reaches it is read
/// whole). A client's batches cannot make one group of 256 x 256 requests that everyone else's
/// waits behind: a group holds at most `limit` + 255 from one socket.
public struct GroupBudget: Sendable {
    public let limit: Int
    /// Requests read into the group (the group-size metric).
    public private(set) var requests = 0
    /// Messages refused before they were read: not in the group, but they end the turn too.
    public private(set) var refused = 0
    public init(limit: Int = 256) { self.limit = limit }
    public var isSpent: Bool { requests + refused >= limit }
    public mutating func count(_ frame: [UInt8]) { requests += max(1, FrameSummary.batchItems(frame).count) }
    public mutating func countRefused() { refused += 1 }
}

/// The host's settings that the core needs.
public struct HostCoreConfig: Sendable {
    public var maximumFrameBytes = ProtocolLimits.defaultMaximumFrameBytes
    /// How often an unanswered peer request is sent again (same request id) before its deadline.
    public var retryIntervalMilliseconds: Int64 = 500
    public var tickIntervalMilliseconds: Int64 = 1000
    /// How long full answers are kept for retries (the deployment's clock). Permanent ids stay.
    public var answerRetentionSeconds: Int64 = 24 * 3600
    public var pruneIntervalMilliseconds: Int64 = 1000
    public var pruneBatch = 1000
    /// How soon to prune again after a full batch (the store is behind its retention).
    public var pruneCatchUpMilliseconds: Int64 = 50
    /// Duplicates that wait for a request still being worked on, per request.
    public var maximumWaitersPerRequest = 16
    /// Requests being worked on at once (waiting on a peer); beyond, OVERLOADED.
    public var maximumOpenRequests = 100_000
    /// A request still open after this long is forgotten (its waiters get nothing).
    public var openTimeoutMilliseconds: Int64 = 60_000
    /// Crash points may be armed (a deployment started for testing only).
    public var crashPointsEnabled = false
    /// The requests of one group to one peer leave in one `batch` frame (PROTOCOL.md 2.1); off,
    /// each leaves alone.
    public var batchesPeerRequests = true
    public init() {}
}

/// The host's logic without sockets (sans-I/O, in the manner of swift-nio's EmbeddedChannel):
/// it takes frames and a time, drives the actor, and returns frames to send.
///
/// - **Group commit.** Every input of one `drain` (or the timers of one `advance`) is one group:
///   each step's batch is staged in the journal as the step is handled (so later steps read it),
///   the group commits once, and only then are the steps' frames returned. If any staging or
///   the commit fails, the core puts itself back (actor, peer requests in flight, open requests)
///   as it was before the group, returns no frame of it, and answers each request UNAVAILABLE.
/// - **Idempotency stage.** Per the actor's policy for each message: a retry gets the kept
///   answer; the same id with other content is a CONFLICT; a duplicate of a request still being
///   worked on waits for its first answer; an id past retention that moved money is answered by
///   the actor from durable state, or ALREADY_APPLIED. Answers are kept in the same group as the
///   step that made them.
/// - **Peers.** Requests go out once the group is durable, are retried under the same id until
///   their deadline, and then the actor hears nil; late answers are dropped. The requests of one
///   group to one peer (and the retries due at one moment) leave in one `batch` frame.
/// - **Batches.** A `batch` from a client is its requests, each handled as if it had come alone
///   (the idempotency stage, the actor, the group); the answers they get in the same group go
///   back in one `batch_reply`, later answers alone. A `batch_reply` from a peer is its answers.
/// - **Crash points** (`after-commit:<label>`, testing only): after the group that committed a
///   step with that label, the core returns a crash instead of the frames.
/// - Every error an actor decides carries its role (`Error.origin`).
public struct HostCore<Actor: ServerActor> {
    public private(set) var actor: Actor
    public let journal: any Journal<Actor.Batch>
    public let config: HostCoreConfig
    let codec: WireCodec
    var inFlight: [RequestID: Outgoing] = [:]
    var open: [AnswerKey: OpenRequest] = [:]
    var openByReply: [ReplyRef: AnswerKey] = [:]
    var nextTick: Int64?
    var nextPrune: Int64?
    public private(set) var armed: Set<String> = []
    /// Requests to peers sent again (no answer yet), since the start: for metrics.
    public private(set) var retriesSent = 0
    /// Batches sent to peers and not yet answered: their requests, to send alone if the peer
    /// refuses the batch itself (an older peer, a smaller frame limit).
    var batchesInFlight: [RequestID: [RequestID]] = [:]
    /// Peers that refused a batch: their requests leave alone from then on.
    public private(set) var peersWithoutBatches: Set<PeerName> = []

    struct Outgoing {
        let peer: PeerName
        let frame: [UInt8]
        let deadline: Int64
        var nextRetry: Int64
    }

    struct OpenRequest {
        let client: ClientID
        let digest: Bytes16
        let policy: IdempotencyPolicy
        let since: Int64
        var waiters: [ClientID] = []
    }

    /// A request to a peer waiting for the end of its group (sent in a batch with the others).
    struct PeerRequest {
        let requestID: RequestID
        let frame: [UInt8]
    }

    struct ReplyRef: Hashable {
        let routingID: [UInt8]
        let requestID: RequestID
    }

    /// What one group gathers before it commits.
    struct Group {
        var frames: [Frame] = []
        /// Requests to peers, in order, sent once the group is durable (batched per peer).
        var peerRequests: [(PeerName, PeerRequest)] = []
        var jobs: [Job] = []
        /// Sent whatever becomes of the group (answers to frames that never reached the actor).
        var unconditional: [Frame] = []
        /// Requests that reached the actor or the stage: answered UNAVAILABLE if the group fails.
        var requests: [(ClientID, RequestID)] = []
        var labels: [String] = []
        var logs: [HostLog] = []
        var begun = false
        var steps = 0
    }

    public init(actor: Actor, journal: any Journal<Actor.Batch>, config: HostCoreConfig = HostCoreConfig()) {
        self.actor = actor
        self.journal = journal
        self.config = config
        codec = WireCodec(maximumFrameBytes: config.maximumFrameBytes)
    }

    /// Peer requests waiting for an answer, and requests being worked on.
    public var inFlightCount: Int { inFlight.count }
    public var openCount: Int { open.count }

    /// Arms a crash point `after-commit:<label>`.
    public mutating func arm(_ point: String) throws(QuickPayError) {
        guard config.crashPointsEnabled else {
            throw QuickPayError(.forbidden, "crash points work only in a deployment started for testing (--testing)")
        }
        guard point.hasPrefix("after-commit:"), point.count > 13 else { throw QuickPayError(.malformed, "a crash point is after-commit:<label>") }
        armed.insert(String(point.dropFirst(13)))
    }

    // MARK: Inputs

    /// Handles a batch of inputs as one group commit.
    public mutating func drain(_ inputs: [HostInput], at time: HostTime) -> Drained {
        runGroup(time) { core, group in
            for input in inputs {
                switch input {
                case .request(let client, let frame): try core.request(client, frame, time, &group)
                case .peerReply(let peer, let frame): try core.peerReply(peer, frame, time, &group)
                case .computed(let id, let result):
                    group.steps += 1
                    let step = core.actor.handleComputed(result, id: id, now: time.now)
                    try core.apply(step, label: step.label ?? "computed", time, &group)
                }
            }
        }
    }

    /// Runs the timers that are due, as one group: peer deadlines (the actor hears nil), retries,
    /// the actor's tick, and pruning of answers past retention.
    public mutating func advance(to time: HostTime) -> Drained {
        if nextTick == nil { nextTick = time.milliseconds }
        if nextPrune == nil { nextPrune = time.milliseconds + config.pruneIntervalMilliseconds }
        guard time.milliseconds >= nextWakeup() else { return Drained() }
        return runGroup(time) { core, group in try core.timers(time, &group) }
    }

    /// Runs an operator's action on the actor (a control request) as a group of its own; its
    /// value is returned only if its commit is durable.
    public mutating func perform<T>(
        _ label: String, at time: HostTime, _ body: (inout Actor, Timestamp) throws -> (T, Step<Actor.Batch>)
    ) -> (Result<T, any Error>, Drained) {
        var value: T?
        var failure: (any Error)?
        let (drained, failed) = runGroupReporting(time) { core, group in
            do {
                let (result, step) = try body(&core.actor, time.now)
                value = result
                try core.apply(step, label: step.label ?? label, time, &group)
            } catch {
                failure = error
                throw error
            }
        }
        if !failed, let value { return (.success(value), drained) }
        return (.failure(failure ?? QuickPayError(.unavailable, "storage failed; nothing was done")), drained)
    }

    /// When `advance` next has work (monotonic milliseconds).
    public func nextWakeup() -> Int64 {
        var next = min(nextTick ?? 0, nextPrune ?? 0)
        for outgoing in inFlight.values { next = min(next, outgoing.nextRetry, outgoing.deadline) }
        return next
    }

    // MARK: Groups

    mutating func runGroup(_ time: HostTime, _ work: (inout HostCore, inout Group) throws -> Void) -> Drained {
        runGroupReporting(time, work).0
    }

    /// The group's outcome, and whether it failed (nothing of it took effect).
    mutating func runGroupReporting(_ time: HostTime, _ work: (inout HostCore, inout Group) throws -> Void) -> (Drained, Bool) {
        let saved = self
        var group = Group()
        var drained = Drained()
        let journal = self.journal
        do {
            try journal.inGroup { try work(&self, &group) }
        } catch {
            self = saved
            drained.frames = group.unconditional
            drained.logs = group.logs
            if group.begun || !(error is QuickPayError) { drained.logs.append(.groupFailed(steps: group.steps, error: "\(error)")) }
            for (client, requestID) in group.requests {
                let refusal = Envelope(requestID: requestID, body: .error(QuickPayError(.unavailable, "storage failed; nothing was done: retry", origin: Actor.role)))
                drained.frames.append(.toClient(client, codec.encode(refusal)))
            }
            return (drained, true)
        }
        drained.logs = group.logs
        drained.committed = group.labels
        if let point = group.labels.first(where: armed.contains) {
            drained.crash = point
            drained.logs.append(.crashPoint(point))
            return (drained, false)
        }
        drained.frames = group.unconditional + group.frames + peerFrames(group.peerRequests)
        drained.jobs = group.jobs
        return (drained, false)
    }

    /// Notes that the group writes (a group that only read needs no log line when it fails).
    func begin(_ group: inout Group) throws {
        group.begun = true
    }

    // MARK: Requests and the idempotency stage

    mutating func request(_ client: ClientID, _ frame: [UInt8], _ time: HostTime, _ group: inout Group, inBatch: Bool = false) throws {
        let envelope: Envelope
        do throws(QuickPayError) {
            envelope = try codec.decode(frame)
            if case .batch = envelope.body, inBatch { throw QuickPayError(.malformed, "a batch inside a batch") }
        } catch {
            group.logs.append(.malformedFrame(bytes: frame.count, message: error.message))
            let requestID = codec.requestID(of: frame) ?? RequestID(Bytes16(high: 0, low: 0))
            group.unconditional.append(.toClient(client, encode(Envelope(requestID: requestID, body: .error(error)))))
            return
        }
        if case .batch(let frames) = envelope.body {
            try batch(frames, id: envelope.requestID, from: client, time, &group)
            return
        }
        group.requests.append((client, envelope.requestID))
        group.steps += 1
        if let policy = actor.idempotency(of: envelope.body) {
            let key = AnswerKey(scope: policy.scope == .caller ? AnswerKey.scope(of: client.key) : 0, requestID: envelope.requestID)
            let digest = requestDigest(envelope)
            switch try stage(envelope, client: client, key: key, digest: digest, policy: policy, time) {
            case .answer(let answer):
                group.frames.append(.toClient(client, encode(envelope.reply(answer))))
                return
            case .wait:
                return
            case .proceed:
                break
            }
        }
        let step = actor.handle(envelope, from: client, now: time.now)
        try apply(step, label: step.label ?? envelope.body.typeName, time, &group)
    }

    /// A client's batch: each request as if it had come alone; the answers to this client that
    /// the group made go back in batch replies (malformed items are answered alone, at once, as
    /// any malformed frame; answers that come later, after a peer, leave alone too).
    mutating func batch(_ frames: [[UInt8]], id: RequestID, from client: ClientID, _ time: HostTime, _ group: inout Group) throws {
        let mark = group.frames.count
        for frame in frames { try request(client, frame, time, &group, inBatch: true) }
        var answers: [[UInt8]] = []
        var others: [Frame] = []
        for frame in group.frames[mark...] {
            if case .toClient(let to, let bytes) = frame, to == client { answers.append(bytes) } else { others.append(frame) }
        }
        group.frames.removeSubrange(mark...)
        group.frames += others
        for reply in batched(answers, id: id, reply: true) { group.frames.append(.toClient(client, reply)) }
    }

    /// Frames in as few batches as the limits allow (256 frames, the frame size); a batch of one
    /// is that frame itself.
    func batched(_ frames: [[UInt8]], id: RequestID, reply: Bool) -> [[UInt8]] {
        // Room for the envelope around the batch, and for each frame's tag and length.
        let room = config.maximumFrameBytes - 64
        var out: [[UInt8]] = []
        var chunk: [[UInt8]] = []
        var bytes = 0
        func flush() {
            guard !chunk.isEmpty else { return }
            out.append(chunk.count == 1 ? chunk[0] : codec.encode(Envelope(requestID: id, body: reply ? .batchReply(chunk) : .batch(chunk))))
            chunk = []
            bytes = 0
        }
        for frame in frames {
            if chunk.count == Batch.maximumFrames || bytes + frame.count + 6 > room { flush() }
            chunk.append(frame)
            bytes += frame.count + 6
        }
        flush()
        return out
    }

    /// The group's requests to peers, in one batch per peer where there are several (and the
    /// peer takes batches); remembers each batch's requests.
    mutating func peerFrames(_ requests: [(PeerName, PeerRequest)]) -> [Frame] {
        guard !requests.isEmpty else { return [] }
        guard config.batchesPeerRequests, requests.count > 1 else { return requests.map { .toPeer($0.0, $0.1.frame) } }
        var peers: [PeerName] = []
        var byPeer: [PeerName: [PeerRequest]] = [:]
        for (peer, request) in requests {
            if byPeer[peer] == nil { peers.append(peer) }
            byPeer[peer, default: []].append(request)
        }
        var frames: [Frame] = []
        for peer in peers {
            let requests = byPeer[peer]!
            guard requests.count > 1, !peersWithoutBatches.contains(peer) else {
                frames += requests.map { .toPeer(peer, $0.frame) }
                continue
            }
            // The batch's own id is not a request's: it only names the frame (its reply echoes it).
            let id = RequestID(Bytes16(Bytes32.sha256(of: requests.flatMap { $0.requestID.raw.bytes }).bytes.prefix(16))!)
            for frame in batched(requests.map { $0.frame }, id: id, reply: false) {
                frames.append(.toPeer(peer, frame))
            }
            batchesInFlight[id] = requests.map { $0.requestID }
        }
        return frames
    }

    enum StageDecision {
        /// Answered without the actor (a kept answer, a conflict).
        case answer(Body)
        /// A copy of a request still being worked on: it gets the first answer once it exists.
        case wait
        /// New: the actor handles it, and the request is open until its answer.
        case proceed
    }

    mutating func stage(_ envelope: Envelope, client: ClientID, key: AnswerKey, digest: Bytes16, policy: IdempotencyPolicy, _ time: HostTime) throws -> StageDecision {
        if var request = open[key] {
            guard request.digest == digest else { return .answer(.error(QuickPayError(.conflict, "request id \(envelope.requestID) is in use for another request"))) }
            guard request.waiters.count < config.maximumWaitersPerRequest else {
                return .answer(.error(QuickPayError(.overloaded, "too many copies of request \(envelope.requestID) wait for its answer")))
            }
            request.waiters.append(client)
            open[key] = request
            return .wait
        }
        if let record = try journal.answer(for: key) {
            guard record.digest == digest else {
                return .answer(.error(QuickPayError(.conflict, "request id \(envelope.requestID) was used for another request")))
            }
            if let answer = record.answer { return .answer(answer) }
            if case .refused(let code) = record.outcome {
                return .answer(.error(QuickPayError(code, "refused when first asked (the full answer is past retention)")))
            }
            return .answer(actor.reanswer(envelope, now: time.now)
                ?? .error(QuickPayError(.alreadyApplied, "request id \(envelope.requestID) took effect; its answer is past retention")))
        }
        guard open.count < config.maximumOpenRequests else {
            return .answer(.error(QuickPayError(.overloaded, "\(open.count) requests are being worked on")))
        }
        open[key] = OpenRequest(client: client, digest: digest, policy: policy, since: time.milliseconds)
        openByReply[ReplyRef(routingID: client.routingID, requestID: envelope.requestID)] = key
        return .proceed
    }

    mutating func peerReply(_ peer: PeerName, _ frame: [UInt8], _ time: HostTime, _ group: inout Group, inBatch: Bool = false) throws {
        let envelope: Envelope
        do throws(QuickPayError) {
            envelope = try codec.decode(frame)
            if case .batchReply = envelope.body, inBatch { throw QuickPayError(.malformed, "a batch reply inside a batch reply") }
        } catch {
            group.logs.append(.malformedPeerReply(peer, message: error.message))
            return
        }
        if case .batchReply(let frames) = envelope.body {
            for frame in frames { try peerReply(peer, frame, time, &group, inBatch: true) }
            return
        }
        // A batch stays known until it is refused or none of its requests waits (the timers):
        // the chunks of one batch share its id, and one may be answered, another refused.
        if !inBatch, let batch = batchesInFlight.removeValue(forKey: envelope.requestID) {
            // The peer refused the batch itself: its requests go again now, alone, as they will
            // to this peer from now on.
            let message = if case .error(let error) = envelope.body { "\(error.code): \(error.message)" } else { envelope.body.typeName }
            group.logs.append(.batchRefused(peer, message: message))
            peersWithoutBatches.insert(peer)
            for id in batch {
                guard let outgoing = inFlight[id] else { continue }
                group.peerRequests.append((peer, PeerRequest(requestID: id, frame: outgoing.frame)))
            }
            return
        }
        // A late or duplicate answer (to a retry) finds nothing in flight and is dropped.
        guard let outgoing = inFlight[envelope.requestID], outgoing.peer == peer else { return }
        inFlight[envelope.requestID] = nil
        group.steps += 1
        let step = actor.handlePeerReply(envelope, requestID: envelope.requestID, from: peer, now: time.now)
        try apply(step, label: step.label ?? envelope.body.typeName, time, &group)
    }

    mutating func timers(_ time: HostTime, _ group: inout Group) throws {
        let due = inFlight.filter { time.milliseconds >= $0.value.deadline || time.milliseconds >= $0.value.nextRetry }
            .sorted { ($0.value.deadline, $0.key.raw.hex) < ($1.value.deadline, $1.key.raw.hex) }
        for (requestID, outgoing) in due {
            if time.milliseconds >= outgoing.deadline {
                inFlight[requestID] = nil
                group.logs.append(.peerDeadline(outgoing.peer, requestID))
                group.steps += 1
                let step = actor.handlePeerReply(nil, requestID: requestID, from: outgoing.peer, now: time.now)
                try apply(step, label: step.label ?? "peer_deadline", time, &group)
            } else {
                let nextRetry = time.milliseconds + config.retryIntervalMilliseconds
                inFlight[requestID]?.nextRetry = nextRetry
                retriesSent += 1
                group.peerRequests.append((outgoing.peer, PeerRequest(requestID: requestID, frame: outgoing.frame)))
            }
        }
        // Batches none of whose requests is still waiting for an answer are forgotten.
        batchesInFlight = batchesInFlight.filter { $0.value.contains { inFlight[$0] != nil } }
        for (key, request) in open where time.milliseconds - request.since >= config.openTimeoutMilliseconds {
            open[key] = nil
            openByReply = openByReply.filter { $0.value != key }
        }
        if time.milliseconds >= (nextTick ?? 0) {
            nextTick = time.milliseconds + config.tickIntervalMilliseconds
            group.steps += 1
            let step = actor.tick(now: time.now)
            try apply(step, label: step.label ?? "tick", time, &group)
        }
        if time.milliseconds >= (nextPrune ?? 0) {
            try begin(&group)
            let pruned = try journal.pruneAnswers(before: time.now.adding(seconds: -config.answerRetentionSeconds), limit: config.pruneBatch)
            // Behind (a full batch came out): prune again soon, so that a store taking more than a
            // batch a second (8,000 payments/s) still keeps only its retention's worth.
            nextPrune = time.milliseconds + (pruned >= config.pruneBatch ? config.pruneCatchUpMilliseconds : config.pruneIntervalMilliseconds)
        }
    }

    // MARK: Steps

    /// Stages a step's commit and gathers its outputs (sent only once the group is durable).
    mutating func apply(_ step: Step<Actor.Batch>, label: String, _ time: HostTime, _ group: inout Group) throws {
        if let commit = step.commit {
            try begin(&group)
            try journal.stage(commit)
            group.labels.append(label)
        }
        for output in step.outputs {
            switch output {
            case .reply(let client, let envelope):
                let frame = encode(envelope)
                if let key = openByReply.removeValue(forKey: ReplyRef(routingID: client.routingID, requestID: envelope.requestID)),
                    let request = open.removeValue(forKey: key)
                {
                    try keep(envelope.body, frame: frame, key: key, request: request, time, &group)
                    for waiter in request.waiters { group.frames.append(.toClient(waiter, frame)) }
                }
                group.frames.append(.toClient(client, frame))
            case .push(let client, let envelope):
                group.frames.append(.toClient(client, encode(envelope)))
            case .request(let peer, let envelope, let deadline):
                let frame = codec.encode(envelope)
                inFlight[envelope.requestID] = Outgoing(
                    peer: peer, frame: frame, deadline: time.milliseconds + Int64(deadline),
                    nextRetry: time.milliseconds + config.retryIntervalMilliseconds)
                group.peerRequests.append((peer, PeerRequest(requestID: envelope.requestID, frame: frame)))
            case .compute(let id, let computation):
                group.jobs.append(Job(id: id, computation: computation))
            }
        }
    }

    /// Keeps the answer of an open request, per its policy, in the same group as its step.
    mutating func keep(_ answer: Body, frame: [UInt8], key: AnswerKey, request: OpenRequest, _ time: HostTime, _ group: inout Group) throws {
        guard request.policy.keepsAnswers else { return }
        let outcome: AnswerRecord.Outcome
        if case .error(let error) = answer {
            guard request.policy.cachesRefusals, !error.code.isTransient, error.code != .conflict else { return }
            outcome = .refused(error.code)
        } else {
            outcome = .done
        }
        try begin(&group)
        try journal.stageAnswer(AnswerRecord(
            key: key, digest: request.digest, answer: stamp(answer), outcome: outcome, permanent: request.policy.permanent, createdAt: time.now,
            encodedAnswer: frame))
    }

    func stamp(_ body: Body) -> Body {
        guard case .error(var error) = body, error.origin == nil else { return body }
        error.origin = Actor.role
        return .error(error)
    }

    func encode(_ envelope: Envelope) -> [UInt8] {
        codec.encode(Envelope(requestID: envelope.requestID, body: stamp(envelope.body)))
    }
}
