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

/// A message an actor step asks its host to send. The host sends it only after the step's
/// commit is durable, and never if that commit fails: nothing is acknowledged before it is
/// durable, and nothing leaves for a change that did not happen.
public enum Output: Sendable, Equatable {
    /// Answer a request.
    case reply(to: ClientID, Envelope)
    /// Send a message the client did not ask for (a voucher notice, an SMS to a device).
    case push(to: ClientID, Envelope)
    /// Ask a peer; its answer (or a timeout after `deadlineMilliseconds`) comes back through
    /// `handlePeerReply`, matched by the envelope's request id. The host retries under the same
    /// request id within the deadline.
    case request(to: PeerName, Envelope, deadlineMilliseconds: Int)
    /// Run slow work off the serving thread; the result comes back through
    /// `handleComputed` with the same id. A host with no room says so through `nil`.
    case compute(ComputationID, Computation)
}

/// Reply helpers.
extension Envelope {
    public func reply(_ body: Body) -> Envelope { Envelope(requestID: requestID, body: body) }
    public func fail(_ error: QuickPayError) -> Envelope { Envelope(requestID: requestID, body: .error(error)) }
}

/// A storage failure: the batch was not applied.
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a step body that may fail with a typed QuickPay error (answered as an error reply that
/// changes nothing) or a storage error on a read (answered UNAVAILABLE: nothing was done).
func answering<Batch>(_ envelope: Envelope, to client: ClientID, _ body: () throws -> Step<Batch>) -> Step<Batch> {
    do {
        return try body()
    } catch let error as QuickPayError {
        return .reply(to: client, envelope.fail(error))
    } catch {
        return .reply(to: client, envelope.fail(QuickPayError(.unavailable, "storage: \(error); nothing was done")))
    }
}
