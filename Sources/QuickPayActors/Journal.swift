import QuickPayCore
import QuickPayProtocol

/// Where an actor's commits go: the host runs a group, stages the batch of every step of a
/// drain in it (and the answers its idempotency stage keeps), and the group commits with one
/// sync to disk. Reads made by the actor inside a group see what the group staged so far; when
/// `inGroup` returns, all of it is durable; if `body` or the commit throws, none of it is.
/// Implemented by the SQLite stores and by the in-memory ones of tests and simulation.
public protocol Journal<Batch>: AnyObject {
    associatedtype Batch
    /// Runs `body` as one group commit.
    func inGroup(_ body: () throws -> Void) throws
    /// Applies one step's batch inside the group; throws (applying nothing of the batch) if it
    /// would break a rule the store enforces (a negative balance, a duplicate root).
    func stage(_ batch: Batch) throws
    /// Keeps an answer for a request id, inside the group.
    func stageAnswer(_ record: AnswerRecord) throws
    /// The answer kept for a request id, if any.
    func answer(for key: AnswerKey) throws -> AnswerRecord?
    /// Inside the open group: forgets the full answers created before `before` (the records of
    /// permanent ids stay, without their answer); at most `limit` rows; returns how many.
    func pruneAnswers(before: Timestamp, limit: Int) throws -> Int
}

/// The key of a request id in an actor's idempotency records: the id, within the caller's key
/// space (`scope`: derived from the caller's authenticated key, or 0 for one global space).
public struct AnswerKey: Hashable, Sendable, CustomStringConvertible {
    public let scope: UInt64
    public let requestID: RequestID
    public init(scope: UInt64, requestID: RequestID) {
        self.scope = scope
        self.requestID = requestID
    }

    /// The key space of a caller's CURVE key (nil, on a plaintext deployment: the global space).
    public static func scope(of key: Bytes32?) -> UInt64 {
        guard let key else { return 0 }
        let digest = Bytes32.sha256(of: Array("QuickPay/answer-scope".utf8) + key.bytes).bytes
        return digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } | 1
    }

    public var description: String { "\(scope == 0 ? "global" : String(scope, radix: 16))/\(requestID)" }
}

/// What an actor keeps of a request it answered: the digest of the request (the same id with
/// other content is a CONFLICT), the answer while it is retained, and the outcome for good when
/// the id moved money (`permanent`): such an id never takes effect twice, at any age.
public struct AnswerRecord: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        case done
        case refused(ErrorCode)
    }

    public let key: AnswerKey
    /// The first 16 bytes of the request's SHA-256 (`requestDigest`): enough to tell other
    /// content under a used id, and half the bytes of a record kept for good.
    public let digest: Bytes16
    /// The answer itself; nil once it is past retention (only for permanent records).
    public var answer: Body?
    public let outcome: Outcome
    public let permanent: Bool
    public let createdAt: Timestamp

    /// The answer as the frame that carried it (an envelope, its request id included), when the
    /// host has it: a store keeps these bytes instead of encoding the answer a second time. Not
    /// part of the record's value (`==` ignores it): it is the same answer.
    public var encodedAnswer: [UInt8]?

    public init(key: AnswerKey, digest: Bytes16, answer: Body?, outcome: Outcome, permanent: Bool, createdAt: Timestamp, encodedAnswer: [UInt8]? = nil) {
        self.key = key
        self.digest = digest
        self.answer = answer
        self.outcome = outcome
        self.permanent = permanent
        self.createdAt = createdAt
        self.encodedAnswer = encodedAnswer
    }

    public static func == (lhs: AnswerRecord, rhs: AnswerRecord) -> Bool {
        (lhs.key, lhs.digest, lhs.answer, lhs.outcome, lhs.permanent, lhs.createdAt) == (rhs.key, rhs.digest, rhs.answer, rhs.outcome, rhs.permanent, rhs.createdAt)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(digest)
        hasher.combine(answer)
        hasher.combine(outcome)
        hasher.combine(permanent)
        hasher.combine(createdAt)
    }
}

/// How the host's idempotency stage treats one kind of request.
public struct IdempotencyPolicy: Hashable, Sendable {
    public enum Scope: Hashable, Sendable {
        /// Each authenticated caller has its own request ids: one cannot claim (or learn the
        /// answer to) another's id. For callers with long-term keys (the bank's peers).
        case caller
        /// One space for everyone: for clients that use a fresh key per connection and retry
        /// over a new one (customers); their ids are 128-bit random.
        case global
    }

    public var scope: Scope
    /// Whether answers are kept at all; if not, the stage only gives a duplicate that arrives
    /// while the request is being worked on (with a peer, say) the first answer once it exists.
    public var keepsAnswers: Bool
    /// Whether a refusal is kept too (a duplicate then gets the same refusal, even if the request
    /// would succeed now). Transient codes (UNAVAILABLE, INTERNAL, OVERLOADED, RATE_LIMITED) never are.
    public var cachesRefusals: Bool
    /// Whether the id's use is kept for good after its answer is past retention.
    public var permanent: Bool

    public init(scope: Scope, keepsAnswers: Bool = true, cachesRefusals: Bool, permanent: Bool) {
        self.scope = scope
        self.keepsAnswers = keepsAnswers
        self.cachesRefusals = cachesRefusals
        self.permanent = permanent
    }

    /// A request that moves money only through its id: kept for good, refusals too.
    public static func moneyMoving(_ scope: Scope) -> IdempotencyPolicy { IdempotencyPolicy(scope: scope, cachesRefusals: true, permanent: true) }
    /// A request whose effect is bounded by other state (a chain index, a code hash): answers
    /// kept for retries, for the retention period.
    public static func retried(_ scope: Scope) -> IdempotencyPolicy { IdempotencyPolicy(scope: scope, cachesRefusals: true, permanent: false) }
    /// Nothing kept: duplicates in flight share the first answer (a relay whose peer keeps the
    /// answers, or a request whose answer must not be stored, such as a session token).
    public static func inFlightOnly(_ scope: Scope) -> IdempotencyPolicy {
        IdempotencyPolicy(scope: scope, keepsAnswers: false, cachesRefusals: false, permanent: false)
    }
}

/// The digest of a request's content (the first 16 bytes of the SHA-256 of its canonical
/// encoding, request id included), for the idempotency check.
public func requestDigest(_ envelope: Envelope) -> Bytes16 {
    Bytes16(Bytes32.sha256(of: envelope.canonicalBytes ?? WireCodec().encode(envelope)).bytes.prefix(16))!
}

/// Kept answers in memory, in creation order (for pruning): part of every in-memory store.
public struct MemoryAnswers: Sendable {
    var records: [AnswerKey: AnswerRecord] = [:]
    var order: [AnswerKey] = []
    var pruned = 0

    public init() {}

    public func answer(for key: AnswerKey) -> AnswerRecord? { records[key] }

    public mutating func stage(_ record: AnswerRecord) {
        if records.updateValue(record, forKey: record.key) == nil { order.append(record.key) }
    }

    public mutating func prune(before: Timestamp, limit: Int) -> Int {
        var count = 0
        while pruned < order.count, count < limit, let record = records[order[pruned]], record.createdAt < before {
            if record.permanent {
                records[record.key]?.answer = nil
            } else {
                records[record.key] = nil
            }
            pruned += 1
            count += 1
        }
        return count
    }

    public var count: Int { records.count }
}

/// An in-memory store's state with group-commit semantics that model durability: reads see
/// `working`; a group's changes reach `durable` only when it commits; a crash (in simulation)
/// loses whatever was not committed.
public struct Durable<State: Sendable>: Sendable {
    public private(set) var durable: State
    public var working: State
    public private(set) var inGroup = false
    /// Fails the next commit (tests and simulation): nothing of the group becomes durable.
    public var failNextCommit = false

    public init(_ state: State) {
        durable = state
        working = state
    }

    public mutating func begin() throws {
        guard !inGroup else { throw StoreError("groups do not nest") }
        inGroup = true
    }



    public mutating func commit() throws {
        inGroup = false
        if failNextCommit {
            failNextCommit = false
            working = durable
            throw StoreError("injected commit failure")
        }
        durable = working
    }

    public mutating func abort() {
        inGroup = false
        working = durable
    }

    /// A crash: what was not committed is gone.
    public mutating func crash() {
        inGroup = false
        working = durable
    }
}

/// The state of an in-memory store: whatever it keeps, and the answers of its actor's requests.
public protocol MemoryState: Sendable {
    var answers: MemoryAnswers { get set }
}

/// An in-memory store over `Durable` state: the group, the crash and the kept answers are the
/// same for every actor's store.
public protocol MemoryJournal: AnyObject {
    associatedtype State: MemoryState
    var state: Durable<State> { get set }
}

extension MemoryJournal {
    public func inGroup(_ body: () throws -> Void) throws {
        // Not a closure over `state`: body reads `state` through the store while it runs.
        try state.begin()
        do {
            try body()
        } catch {
            state.abort()
            throw error
        }
        try state.commit()
    }

    /// A crash: what was not committed is gone.
    public func crash() { state.crash() }

    /// Fails the next group commit (tests and simulation): nothing of the group becomes durable.
    public var failNextCommit: Bool {
        get { state.failNextCommit }
        set { state.failNextCommit = newValue }
    }

    public func stageAnswer(_ record: AnswerRecord) throws { state.working.answers.stage(record) }
    public func answer(for key: AnswerKey) throws -> AnswerRecord? { state.working.answers.answer(for: key) }
    public func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { state.working.answers.prune(before: before, limit: limit) }
}
