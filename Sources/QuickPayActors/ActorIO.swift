import QuickPayCore
import QuickPayProtocol

/// Who sent a request to an actor's server socket: the ROUTER routing id of the connection,
/// which the actor only hands back in a reply or a push, and the CURVE public key the
/// connection authenticated with (nil on a plaintext, `--insecure` deployment). Actors that
/// serve only certain peers check the key against a `CallerPolicy`.
public struct ClientID: Hashable, Sendable, CustomStringConvertible {
    public let routingID: [UInt8]
    public let key: Bytes32?
    public init(_ routingID: [UInt8], key: Bytes32? = nil) {
        self.routingID = routingID
        self.key = key
    }
    public var description: String { HexCoding.encode(routingID) }
}

/// Which authenticated keys may ask an actor for what. The transport (CurveZMQ with a ZAP
/// allow-list) proves the key; the actor decides what that key may do, so a merchant cannot
/// redeem as another merchant and only the app server moves customers' money.
public struct CallerPolicy: Sendable, Equatable {
    /// The app server's key(s).
    public var appServers: Set<Bytes32>
    /// Each registered merchant's key and the receiver id it may act as.
    public var merchants: [Bytes32: ReceiverID]
    /// The bank's key (merchants take Settle only from it).
    public var bank: Bytes32?

    public init(appServers: Set<Bytes32> = [], merchants: [Bytes32: ReceiverID] = [:], bank: Bytes32? = nil) {
        self.appServers = appServers
        self.merchants = merchants
        self.bank = bank
    }

    /// Refuses a caller that is not the app server.
    public func requireAppServer(_ client: ClientID, for what: String) throws(QuickPayError) {
        guard let key = client.key, appServers.contains(key) else {
            throw QuickPayError(.forbidden, "only the app server may send \(what)")
        }
    }

    /// Refuses a caller that is not the merchant `receiver`.
    public func requireMerchant(_ client: ClientID, as receiver: ReceiverID, for what: String) throws(QuickPayError) {
        guard let key = client.key, merchants[key] == receiver else {
            throw QuickPayError(.forbidden, "only merchant \(receiver) may send \(what) for itself")
        }
    }

    /// Refuses a caller that is not the bank.
    public func requireBank(_ client: ClientID, for what: String) throws(QuickPayError) {
        guard let key = client.key, key == bank else { throw QuickPayError(.forbidden, "only the bank may send \(what)") }
    }
}

/// A named peer an actor sends requests to over its own client socket.
public enum PeerName: Hashable, Sendable, CustomStringConvertible {
    case bank
    case networkProvider
    case merchant(ReceiverID)

    public var description: String {
        switch self {
        case .bank: "bank"
        case .networkProvider: "nsp"
        case .merchant(let id): "merchant:\(id)"
        }
    }
}

/// What an actor asks its shell to do after handling an input. The shell sends these only
/// after the actor's store has committed: nothing is acknowledged before it is durable.
public enum Output: Sendable, Equatable {
    /// Answer a request.
    case reply(to: ClientID, Envelope)
    /// Send a message the client did not ask for (a voucher notice, an SMS to a device).
    case push(to: ClientID, Envelope)
    /// Ask a peer; its answer (or a timeout after `deadlineMilliseconds`) comes back through
    /// `handlePeerReply`, matched by the envelope's request id. The shell retries under the same
    /// request id within the deadline.
    case request(to: PeerName, Envelope, deadlineMilliseconds: Int)
}

/// A server actor: a pure state machine that the runtime feeds with requests, peer replies and
/// clock ticks. Time comes in as a parameter; randomness is injected at construction.
public protocol ServerActor {
    mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> [Output]
    /// A peer's reply to an `Output.request`, or nil when it did not answer within the deadline.
    mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> [Output]
    /// Called periodically: expiries, deadlines, scheduled work.
    mutating func tick(now: Timestamp) -> [Output]
    /// The store to group commits in (nil: every step commits alone).
    var groupCommitter: (any GroupCommitting)? { get }
}

/// A store that can commit many actor steps together (group commit): the steps `body` runs are
/// durable together, with one sync to disk, when `inGroup` returns; if it throws, none is. Each
/// step still commits or rolls back on its own inside the group. The shell sends no output of
/// the group before `inGroup` returns, so nothing is acknowledged before it is durable.
public protocol GroupCommitting: AnyObject {
    func inGroup(_ body: () throws -> Void) throws
}

extension ServerActor {
    /// The store to group commits in, if the actor has one that can.
    public var groupCommitter: (any GroupCommitting)? { nil }
    public mutating func tick(now: Timestamp) -> [Output] { [] }
    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> [Output] { [] }
}

/// A storage failure: the transaction rolled back, so the request had no effect.
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A stored answer to a request id, and the digest of the request it answered: a retry with the
/// same digest gets the same answer; the same id with other content gets CONFLICT.
public struct CachedReply: Sendable, Equatable {
    public let requestDigest: Bytes32
    public let reply: Body
    public init(requestDigest: Bytes32, reply: Body) {
        self.requestDigest = requestDigest
        self.reply = reply
    }
}

/// The digest of a request's content (its canonical encoding, request id included, plus who
/// asked), for the idempotency check.
public func requestDigest(_ envelope: Envelope, caller: String = "") -> Bytes32 {
    Bytes32.sha256(of: Array(caller.utf8) + [0] + (envelope.canonicalBytes ?? WireCodec().encode(envelope)))
}

/// Reply helpers.
extension Envelope {
    public func reply(_ body: Body) -> Envelope { Envelope(requestID: requestID, body: body) }
    public func fail(_ error: QuickPayError) -> Envelope { Envelope(requestID: requestID, body: .error(error)) }
}

/// Runs a step that may fail with a typed QuickPay error or a storage error, answering either
/// as an error reply (storage errors become INTERNAL: the transaction rolled back).
func answering(_ envelope: Envelope, to client: ClientID, _ body: () throws -> [Output]) -> [Output] {
    do {
        return try body()
    } catch let error as QuickPayError {
        return [.reply(to: client, envelope.fail(error))]
    } catch {
        return [.reply(to: client, envelope.fail(QuickPayError(.internal, "storage: \(error)")))]
    }
}
