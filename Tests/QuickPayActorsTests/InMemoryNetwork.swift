import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// All five actors in one process with messages passed by hand: the pure core end to end, with
/// no sockets, a hand-driven clock and seeded randomness.
struct InMemoryNetwork {
    var bank: BankActor
    var appServer: AppServerActor
    var nsp = NetworkProviderActor(store: MemoryNetworkProviderStore(), random: SeededGenerator(seed: 30))
    var merchants: [ReceiverID: MerchantActor] = [:]
    let bankStore = MemoryBankStore()
    let appStore = MemoryAppServerStore()
    let bankKey: SigningPublicKey
    var now = t0
    /// Pushes that reached each client (SMS to devices, voucher notices).
    var pushes: [ClientID: [Body]] = [:]
    var generator = SeededGenerator(seed: 31)

    init(merchants specs: [(ReceiverID, AccountID, MerchantMode)]) throws {
        var keys = SeededGenerator(seed: 32)
        let signer = BankSigner(privateKey: .random(using: &keys))
        bankKey = signer.privateKey.publicKey
        bank = BankActor(store: bankStore, signer: signer, random: SeededGenerator(seed: 33))
        var config = AppServerConfig()
        config.passwordRounds = 1000  // explicit test configuration: OWASP strength is 600,000
        appServer = AppServerActor(store: appStore, config: config, otpKey: .random(using: &keys), random: SeededGenerator(seed: 34))
        for (receiver, account, mode) in specs {
            try bankStore.open(account, deposit: .zero, receiver: (receiver, mode))
            merchants[receiver] = MerchantActor(
                store: MemoryMerchantStore(), config: MerchantConfig(receiverID: receiver, mode: mode), bankKey: bankKey,
                receiptKey: .random(using: &keys), random: SeededGenerator(seed: 35))
        }
    }

    /// Sends a request from `client` to an actor and runs every message it causes until quiet;
    /// returns the replies that reached `client`.
    mutating func send(_ body: Body, to target: PeerName? = nil, appServer: Bool = false, from client: ClientID) -> [Body] {
        let envelope = Envelope(requestID: .random(using: &generator), body: body)
        var replies: [Body] = []
        var queue: [(PeerName?, Output)] = deliver(envelope, to: target, from: client).map { (target, $0) }
        while !queue.isEmpty {
            let (source, output) = queue.removeFirst()
            switch output {
            case .reply(let to, let answer) where to == client:
                replies.append(answer.body)
            case .reply(let to, let answer):
                // An answer to another actor's request: hand it to that actor as a peer reply.
                guard let caller = Self.actor(of: to), let source else { continue }
                queue += peerReply(answer, requestID: answer.requestID, to: caller.actor, from: source).map { (caller.actor, $0) }
            case .push(let to, let pushed):
                pushes[to, default: []].append(pushed.body)
            case .request(let peer, let request, _):
                queue += deliver(request, to: peer, from: Self.clientID(of: source)).map { (peer, $0) }
            }
        }
        return replies
    }

    /// Each actor calls its peers from a client id made of its name ("app" for the app server).
    static func clientID(of actor: PeerName?) -> ClientID { ClientID(Array((actor?.description ?? "app").utf8)) }

    static func actor(of client: ClientID) -> (actor: PeerName?, Void)? {
        let name = String(decoding: client.routingID, as: UTF8.self)
        if name == "app" { return (nil, ()) }
        if name == "bank" { return (.bank, ()) }
        if name.hasPrefix("merchant:"), let id = try? ReceiverID(String(name.dropFirst(9))) { return (.merchant(id), ()) }
        return nil
    }

    mutating func deliver(_ envelope: Envelope, to target: PeerName?, from client: ClientID) -> [Output] {
        switch target {
        case .bank?: return bank.handle(envelope, from: client, now: now)
        case .networkProvider?: return nsp.handle(envelope, from: client, now: now)
        case .merchant(let id)?: return merchants[id]!.handle(envelope, from: client, now: now)
        case nil: return appServer.handle(envelope, from: client, now: now)
        }
    }

    mutating func peerReply(_ reply: Envelope?, requestID: RequestID, to source: PeerName?, from peer: PeerName) -> [Output] {
        switch source {
        case .bank?: return bank.handlePeerReply(reply, requestID: requestID, from: peer, now: now)
        case .merchant(let id)?: return merchants[id]!.handlePeerReply(reply, requestID: requestID, from: peer, now: now)
        case .networkProvider?: return []
        case nil: return appServer.handlePeerReply(reply, requestID: requestID, from: peer, now: now)
        }
    }

    /// Runs a merchant's redemption through the bank.
    mutating func redeem(_ receiver: ReceiverID) {
        let outputs = merchants[receiver]!.redeem(now: now)
        for case .request(let peer, let request, _) in outputs {
            for case .reply(_, let reply) in deliver(request, to: peer, from: Self.clientID(of: .merchant(receiver))) {
                _ = merchants[receiver]!.handlePeerReply(reply, requestID: request.requestID, from: peer, now: now)
            }
        }
    }
}
