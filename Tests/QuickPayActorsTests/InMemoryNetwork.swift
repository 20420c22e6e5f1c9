import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// All five actors in one process, each in its host core, with messages passed by hand: the
/// pure core end to end, with no sockets, a hand-driven clock and seeded randomness.
struct InMemoryNetwork {
    var bank: TestHost<BankActor>
    var appServer: TestHost<AppServerActor>
    var nsp: TestHost<NetworkProviderActor>
    var merchants: [ReceiverID: TestHost<MerchantActor>] = [:]
    var merchantStores: [ReceiverID: MemoryMerchantStore] = [:]
    let bankStore = MemoryBankStore()
    let appStore = MemoryAppServerStore()
    let nspStore = MemoryNetworkProviderStore()
    let bankKey: SigningPublicKey
    var now = t0
    /// Pushes that reached each client (SMS to devices, voucher notices).
    var pushes: [ClientID: [Body]] = [:]
    var generator = SeededGenerator(seed: 31)

    init(merchants specs: [(ReceiverID, AccountID, MerchantMode)]) throws {
        var keys = SeededGenerator(seed: 32)
        let signer = BankSigner(privateKey: .random(using: &keys))
        bankKey = signer.privateKey.publicKey
        bank = TestHost(BankActor(store: bankStore, signer: signer, random: SeededGenerator(seed: 33)), journal: bankStore)
        var config = AppServerConfig()
        config.passwordRounds = 1000  // explicit test configuration: OWASP strength is 600,000
        appServer = TestHost(AppServerActor(store: appStore, config: config, otpKey: .random(using: &keys), random: SeededGenerator(seed: 34)), journal: appStore)
        nsp = TestHost(NetworkProviderActor(store: nspStore, sims: Self.provisioned, random: SeededGenerator(seed: 30)), journal: nspStore)
        for (position, (receiver, account, mode)) in specs.enumerated() {
            try bankStore.open(account, deposit: .zero, receiver: (receiver, mode), phone: Self.ownerPhone(position))
            let store = MemoryMerchantStore()
            merchantStores[receiver] = store
            merchants[receiver] = TestHost(MerchantActor(
                store: store, config: MerchantConfig(receiverID: receiver, mode: mode), bankKey: bankKey,
                receiptKey: .random(using: &keys), random: SeededGenerator(seed: 35)), journal: store)
        }
    }

    /// The SIM of a test phone (the key ceremony's, made reproducibly here).
    static func sim(_ phone: PhoneNumber) -> SimCard { SimCard(phone: phone, secret: Bytes32.sha256(of: Array("test SIM \(phone)".utf8))) }
    /// The phone of record of the n-th merchant's account (its owner's).
    static func ownerPhone(_ position: Int) -> PhoneNumber { try! PhoneNumber("+91970000000\(position + 1)") }
    /// Every phone the network provider has a SIM for: +919800000001...09 and the owners'.
    static var provisioned: [SimCard] {
        ((1...9).map { try! PhoneNumber("+91980000000\($0)") } + (0..<5).map(ownerPhone)).map(sim)
    }

    /// A device proves it holds `phone`'s SIM (two steps: challenge, answer); the answer.
    mutating func attach(_ phone: PhoneNumber, from device: ClientID, sim: SimCard? = nil) -> Body? {
        guard case .attachChallenge(let challenge)? = send(.deviceAttach(phone: phone), to: .networkProvider, from: device).first else { return nil }
        let card = sim ?? Self.sim(phone)
        return send(.deviceAttachProof(DeviceAttachProof(phone: phone, nonce: challenge.nonce, response: card.answer(challenge.nonce))), to: .networkProvider, from: device).first
    }

    /// Registers a user the way a client does: the code goes to the account's phone of record,
    /// whose device (`device`, attached first) sends it back. The last answer.
    mutating func register(_ request: RegisterRequest, device: ClientID) -> Body? {
        _ = attach(request.phone, from: device)
        let answer = send(.register(request), from: device)
        guard case .loginChallenge(let challenge)? = answer.first else { return answer.first }
        guard case .smsDelivery(let sms)? = pushes[device]?.last, let code = try? OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6))) else { return nil }
        return send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: device).first
    }

    static func isPush(_ body: Body) -> Bool {
        switch body {
        case .smsDelivery, .voucherNotice: true
        default: false
        }
    }

    /// Sends a request from `client` to an actor (nil: the app server) and runs every message it
    /// causes until quiet; returns the replies that reached `client`.
    mutating func send(_ body: Body, to target: PeerName? = nil, from client: ClientID) -> [Body] {
        let envelope = Envelope(requestID: .random(using: &generator), body: body)
        var replies: [Body] = []
        var queue: [(PeerName?, Output)] = deliver(envelope, to: target, from: client).map { (target, $0) }
        while !queue.isEmpty {
            let (source, output) = queue.removeFirst()
            switch output {
            case .reply(let to, let answer) where Self.isPush(answer.body):
                pushes[to, default: []].append(answer.body)
            case .reply(let to, let answer) where to == client:
                replies.append(answer.body)
            case .reply(let to, let answer):
                // An answer to another actor's request: hand it to that actor as a peer reply.
                guard let caller = Self.actor(of: to), let source else { continue }
                queue += peerReply(answer, to: caller.actor, from: source).map { (caller.actor, $0) }
            case .push(let to, let pushed):
                pushes[to, default: []].append(pushed.body)
            case .request(let peer, let request, _):
                queue += deliver(request, to: peer, from: Self.clientID(of: source)).map { (peer, $0) }
            case .compute:
                continue  // the test host runs jobs in place
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
        case .bank?: return bank.send(envelope, from: client, now: now)
        case .networkProvider?: return nsp.send(envelope, from: client, now: now)
        case .merchant(let id)?: return merchants[id]!.send(envelope, from: client, now: now)
        case nil: return appServer.send(envelope, from: client, now: now)
        }
    }

    mutating func peerReply(_ reply: Envelope, to source: PeerName?, from peer: PeerName) -> [Output] {
        switch source {
        case .bank?: return bank.answer(reply, from: peer, now: now)
        case .merchant(let id)?: return merchants[id]!.answer(reply, from: peer, now: now)
        case .networkProvider?: return []
        case nil: return appServer.answer(reply, from: peer, now: now)
        }
    }

    /// Runs a merchant's redemption through the bank.
    mutating func redeem(_ receiver: ReceiverID) {
        for case .request(let peer, let request, _) in merchants[receiver]!.redeem(now: now) {
            for case .reply(_, let reply) in deliver(request, to: peer, from: Self.clientID(of: .merchant(receiver))) {
                _ = merchants[receiver]!.answer(reply, from: peer, now: now)
            }
        }
    }
}
