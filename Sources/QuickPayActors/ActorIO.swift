import QuickPayCore
import QuickPayProtocol

/// Who sent a request to an actor's server socket: the ROUTER routing id of the connection.
/// Opaque to the actor; it only hands it back in a reply or a push.
public struct ClientID: Hashable, Sendable, CustomStringConvertible {
    public let routingID: [UInt8]
    public init(_ routingID: [UInt8]) { self.routingID = routingID }
    public var description: String { HexCoding.encode(routingID) }
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
}

extension ServerActor {
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
    Bytes32.sha256(of: Array(caller.utf8) + [0] + WireCodec().encode(envelope))
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
