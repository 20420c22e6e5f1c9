import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing

/// A hand-driven clock for the host core, in the manner of swift-nio's `EmbeddedEventLoop`.
struct ManualClock {
    var milliseconds: Int64 = 1_000_000
    var seconds: Int64 = 1_800_000_000
    var time: HostTime { HostTime(milliseconds: milliseconds, now: Timestamp(secondsSinceEpoch: seconds + milliseconds / 1000)) }
    mutating func advance(milliseconds delta: Int64) { milliseconds += delta }
    mutating func advance(seconds delta: Int64) { seconds += delta }
}

let codec = WireCodec()

func frame(_ body: Body, id: RequestID) -> [UInt8] { codec.encode(Envelope(requestID: id, body: body)) }

func rid(_ n: UInt64) -> RequestID { RequestID(Bytes16(high: 0xAB, low: n)) }

/// The envelopes of the frames sent to `client`, a batch reply's answers each on its own.
func replies(_ drained: Drained, to client: ClientID) -> [Envelope] {
    unbatched(drained.frames.compactMap {
        if case .toClient(let to, let bytes) = $0, to == client { return try? codec.decode(bytes) }
        return nil
    })
}

/// The requests sent to peers, a batch's requests each on its own.
func peerRequests(_ drained: Drained) -> [(PeerName, Envelope)] {
    drained.frames.flatMap { frame -> [(PeerName, Envelope)] in
        guard case .toPeer(let peer, let bytes) = frame, let envelope = try? codec.decode(bytes) else { return [] }
        return unbatched([envelope]).map { (peer, $0) }
    }
}

func unbatched(_ envelopes: [Envelope]) -> [Envelope] {
    envelopes.flatMap { envelope -> [Envelope] in
        switch envelope.body {
        case .batch(let frames), .batchReply(let frames): frames.compactMap { try? codec.decode($0) }
        default: [envelope]
        }
    }
}

/// The frames as they leave, batches whole.
func rawFrames(_ drained: Drained) -> [Envelope] {
    drained.frames.compactMap {
        switch $0 {
        case .toClient(_, let bytes), .toPeer(_, let bytes): try? codec.decode(bytes)
        }
    }
}

func code(_ envelope: Envelope?) -> ErrorCode? {
    if case .error(let error)? = envelope?.body { return error.code }
    return nil
}

/// A journal of string writes with durability, for the test actor.
final class NoteJournal: Journal {
    typealias Batch = [String]
    struct State: Sendable {
        var notes: [String] = []
        var answers = MemoryAnswers()
    }
    var state = Durable(State())
    var durable: [String] { state.durable.notes }
    var groups = 0

    func inGroup(_ body: () throws -> Void) throws {
        try state.begin()
        do { try body() } catch {
            state.abort()
            throw error
        }
        groups += 1
        try state.commit()
    }
    func stage(_ batch: [String]) throws {
        if batch.contains("refuse-at-store") { throw StoreError("the store refuses this batch") }
        state.working.notes += batch
    }
    func stageAnswer(_ record: AnswerRecord) throws { state.working.answers.stage(record) }
    func answer(for key: AnswerKey) throws -> AnswerRecord? { state.working.answers.answer(for: key) }
    func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { state.working.answers.prune(before: before, limit: limit) }
}

/// A small actor that exercises every host mechanism: `register` writes a note and answers
/// (answers kept, id permanent: `load`'s policy); `balance` asks the bank peer first and answers
/// with its answer (in flight only); `logout` changes only memory; a `bank_credit` body makes a
/// batch the store refuses.
struct NoteActor: ServerActor {
    typealias Batch = [String]
    static let role = ActorRole.appServer
    var counter = 0
    var waiting: [RequestID: (ClientID, Envelope)] = [:]
    var peerAnswers: [Envelope?] = []
    var ticks = 0
    var reanswers = 0

    func idempotency(of body: Body) -> IdempotencyPolicy? {
        switch body {
        case .register: .moneyMoving(.global)
        case .login: .retried(.global)
        case .balance: .inFlightOnly(.global)
        default: nil
        }
    }

    func reanswer(_ envelope: Envelope, now: Timestamp) -> Body? {
        if case .register(let request) = envelope.body, request.username.value == "rebuilt" { return .registerReply(username: request.username) }
        return nil
    }

    mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<[String]> {
        counter += 1
        switch envelope.body {
        case .register(let request):
            return Step(commit: ["registered \(request.username)"], outputs: [.reply(to: client, envelope.reply(.registerReply(username: request.username)))])
        case .login:
            return .reply(to: client, envelope.fail(QuickPayError(.authenticationFailed, "no")))
        case .balance:
            let ask = Envelope(requestID: envelope.requestID, body: .bankBalance(try! AccountID("ACC-X")))
            waiting[ask.requestID] = (client, envelope)
            return Step(outputs: [.request(to: .bank, ask, deadlineMilliseconds: 2000)])
        case .bankCredit:
            return Step(commit: ["refuse-at-store"], outputs: [.reply(to: client, envelope.reply(.ack))])
        default:
            return Step(outputs: [.reply(to: client, envelope.reply(.ack))])
        }
    }

    mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<[String]> {
        peerAnswers.append(reply)
        guard let (client, envelope) = waiting.removeValue(forKey: requestID) else { return .none }
        guard let reply else { return .reply(to: client, envelope.fail(QuickPayError(.unavailable, "the bank did not answer"))) }
        return Step(commit: ["balance answered"], outputs: [.reply(to: client, envelope.reply(reply.body))], label: "balance_done")
    }

    mutating func tick(now: Timestamp) -> Step<[String]> {
        ticks += 1
        return .none
    }
}

func register(_ name: String) -> Body {
    .register(RegisterRequest(username: try! Username(name), password: try! Password("password \(name)"), phone: try! PhoneNumber("+919800000001"), bankAccount: try! AccountID("ACC-X"), role: .customer))
}
