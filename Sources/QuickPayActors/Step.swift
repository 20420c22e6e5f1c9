import QuickPayCore
import QuickPayProtocol

/// What one actor step asks of its host: a batch to make durable, then messages to send.
///
/// Actors never write to their store. The host stages `commit` in the group commit of the
/// drain the step belongs to, and sends `outputs` only once the group is durable. If the group
/// fails, the host drops every output of its steps, answers each of their requests
/// UNAVAILABLE, and puts the actor's in-memory state back as it was before the group: an actor
/// may change its own state freely in a step, and the change holds only if the commit does.
public struct Step<Batch: Sendable>: Sendable {
    public var commit: Batch?
    public var outputs: [Output]
    /// The commit's name for crash points (`after-commit:<label>`); the handled message's type
    /// when nil. Actors name commits made on a peer's answer after the flow they finish
    /// (`register`, `payment`, `unload_refund`).
    public var label: String?

    public init(commit: Batch? = nil, outputs: [Output] = [], label: String? = nil) {
        self.commit = commit
        self.outputs = outputs
        self.label = label
    }

    /// A step that only answers.
    public static func reply(to client: ClientID, _ envelope: Envelope) -> Step { Step(outputs: [.reply(to: client, envelope)]) }

    /// A step that changes and sends nothing.
    public static var none: Step { Step() }

    /// This step's outputs followed by `other`'s, and `other`'s commit if this has none.
    public func appending(_ outputs: [Output]) -> Step {
        var copy = self
        copy.outputs += outputs
        return copy
    }
}

/// A server actor: a pure state machine that its host feeds with requests, peer replies and
/// clock ticks, and that answers each with a `Step`. Time comes in as a parameter; randomness
/// is injected at construction; storage is read through the actor's store protocol and written
/// only by the host, from the steps' commits.
public protocol ServerActor {
    associatedtype Batch: Sendable
    /// Stamped on every error this actor decides (`Error.origin` on the wire).
    static var role: ActorRole { get }
    mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<Batch>
    /// A peer's reply to an `Output.request`, or nil when it did not answer within the deadline.
    mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<Batch>
    /// The result of an `Output.compute`, or nil when the host could not run it (its pool is
    /// full): the actor answers the request that asked for it.
    mutating func handleComputed(_ result: ComputationResult?, id: ComputationID, now: Timestamp) -> Step<Batch>
    /// Called periodically: expiries, deadlines, scheduled work.
    mutating func tick(now: Timestamp) -> Step<Batch>
    /// How the host's idempotency stage treats a request (nil: it does not).
    func idempotency(of body: Body) -> IdempotencyPolicy?
    /// The answer to a request whose id already took effect but whose full answer is past
    /// retention, rebuilt from durable state (nil: the host answers ALREADY_APPLIED).
    func reanswer(_ envelope: Envelope, now: Timestamp) -> Body?
}

extension ServerActor {
    public mutating func tick(now: Timestamp) -> Step<Batch> { .none }
    public mutating func handleComputed(_ result: ComputationResult?, id: ComputationID, now: Timestamp) -> Step<Batch> { .none }
    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<Batch> { .none }
    public func idempotency(of body: Body) -> IdempotencyPolicy? { nil }
    public func reanswer(_ envelope: Envelope, now: Timestamp) -> Body? { nil }
}
