import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol

/// A simulated customer: the pure `Wallet` and a phone, driven through the same flows as
/// `CustomerClient` (register, login with the SMS code, load, pay, unload), each request sent
/// again under its id every 500 ms until an answer or its 5 s deadline; and, now and then, an
/// attacker. What it was told is kept, to check against what the servers hold.
final class SimCustomer {
    let index: Int
    let account: AccountID
    let sim: SimCard
    var phone: PhoneNumber { sim.phone }
    var rng: SplitMix64
    var wallet = Wallet()
    var session: SessionToken?
    var registered = false
    var connection = 0
    var pending: [RequestID: Outstanding] = [:]
    var inbox: [SmsDelivery] = []
    var awaitingCode: (challenge: ChallengeID, deadline: Int64, registering: Bool)?
    var busy = false
    var done = 0
    var finished = false
    var lastPayment: (receiver: ReceiverID, payment: Payment)?
    var lastLoadID: RequestID?
    /// The second of two racing loads, until its outcome is known (the wallet tracks the first).
    var racingLoad: PendingLoad?
    /// When this customer last got a session (virtual ms): a password-guessing attack on it is
    /// judged only if none came in between.
    var lastSessionAt: Int64 = -1
    /// The phone this customer's device is trying to attach as, without its SIM (an attack).
    var attachingAs: PhoneNumber?
    /// Loads the bank answered with vouchers: their roots must stay at the bank.
    var loaded: [Bytes32] = []

    struct Outstanding {
        let target: NodeID
        let routing: [UInt8]
        let frame: [UInt8]
        let deadline: Int64
        let then: (Body?) -> Void
    }

    init(index: Int, account: AccountID, sim: SimCard, random: SplitMix64) {
        self.index = index
        self.account = account
        self.sim = sim
        rng = random
    }

    var username: Username { try! Username("customer\(index)") }
    var password: Password { try! Password("password of c\(index)") }
    var routing: [UInt8] { Array("c:\(index):\(connection)".utf8) }
    var device: [UInt8] { Array("d:\(index)".utf8) }
}

extension SimWorld {
    var receivers: [ReceiverID] { merchantModes.keys.sorted() }
    var keyring: BankKeyring { BankKeyring([bankKey], blindKeys: blindKeys) }

    /// A load's counts as the wallet makes them: blind, with lengths the bank's keys list.
    func beginLoad(_ customer: SimCustomer, counts: [Denomination: Int], receiver: ReceiverID) throws(QuickPayError) -> PendingLoad {
        try customer.wallet.beginLoad(
            counts: blindKeys == nil ? counts : SimBlind.listed(counts), receiver: receiver, blindKeys: blindKeys, now: timestamp, using: &customer.rng)
    }

    /// A load's request body: chains, or blinded messages.
    func loadBody(_ load: PendingLoad, session: SessionToken) -> Body {
        .load(LoadRequest(session: session, content: (try? load.content()) ?? .chains(receiver: load.receiver, load.chains.map(\.request))))
    }

    // MARK: Requests

    func send(_ index: Int, to target: NodeID, _ body: Body, id: RequestID? = nil, newConnection: Bool = false, then: @escaping (Body?) -> Void) {
        let customer = customers[index]
        if newConnection { customer.connection += 1 }
        let envelope = Envelope(requestID: id ?? .random(using: &customer.rng), body: body)
        let frame = WireCodec().encode(envelope)
        customer.pending[envelope.requestID] = SimCustomer.Outstanding(target: target, routing: customer.routing, frame: frame, deadline: now + 5000, then: then)
        transmit(.toServer(target, .request(ClientID(customer.routing, key: nil), frame)), from: .customer(index), to: .server(target))
        schedule(.retry(index, envelope.requestID), in: 500)
    }

    func customerRetry(_ index: Int, _ requestID: RequestID) {
        let customer = customers[index]
        guard let outstanding = customer.pending[requestID] else { return }
        if now >= outstanding.deadline {
            customer.pending[requestID] = nil
            note("customer \(index): no answer to \(requestID)")
            outstanding.then(nil)
            return
        }
        transmit(.toServer(outstanding.target, .request(ClientID(outstanding.routing, key: nil), outstanding.frame)), from: .customer(index), to: .server(outstanding.target))
        schedule(.retry(index, requestID), in: 500)
    }

    func customerReceives(_ index: Int, _ envelope: Envelope) {
        let customer = customers[index]
        switch envelope.body {
        case .smsDelivery(let sms):
            // The phone acknowledges every SMS (under its id), and reads only its own.
            transmit(.toServer(.nsp, .request(ClientID(customer.device, key: nil), WireCodec().encode(envelope.reply(.ack)))), from: .customer(index), to: .server(.nsp))
            guard sms.phone == customer.phone else {
                violation("an SMS for \(sms.phone) reached the device of \(customer.phone)")
                return
            }
            guard !customer.inbox.contains(where: { $0.smsID == sms.smsID }) else { return }
            customer.inbox.append(sms)
            if let waiting = customer.awaitingCode { submitCode(index, waiting.challenge) }
        case .attachChallenge(let challenge):
            // The phone answers the provider's challenge with its SIM (an attacker answers for
            // another phone with its own SIM's secret: a wrong SIM for that phone).
            let phone = customer.attachingAs ?? customer.phone
            customer.attachingAs = nil
            let proof = DeviceAttachProof(phone: phone, nonce: challenge.nonce, response: SimCard(phone: phone, secret: customer.sim.secret).answer(challenge.nonce))
            transmit(.toServer(.nsp, .request(ClientID(customer.device, key: nil), WireCodec().encode(Envelope(requestID: .random(using: &customer.rng), body: .deviceAttachProof(proof))))), from: .customer(index), to: .server(.nsp))
        case .voucherNotice:
            return
        default:
            guard let outstanding = customer.pending.removeValue(forKey: envelope.requestID) else { return }
            outstanding.then(envelope.body)
        }
    }

    /// The customer's next operation, when it is idle.
    func customerStep(_ index: Int) {
        let customer = customers[index]
        if let waiting = customer.awaitingCode, now >= waiting.deadline {
            customer.awaitingCode = nil
            endOperation(index, counts: false)
        }
        guard !customer.busy, !customer.finished else { return }
        customer.busy = true
        if !customer.registered { return register(index) }
        if customer.session == nil { return login(index) }
        if customer.done >= config.operations { return finish(index) }
        let roll = Double(customer.rng.next() >> 11) / Double(1 << 53)
        if roll < config.attackRate { return attack(index) }
        switch customer.rng.next() % 10 {
        case 0, 1, 2: load(index)
        case 3, 4, 5, 6, 7: pay(index)
        case 8: blindKeys != nil && customer.rng.next() % 2 == 0 ? refresh(index) : unload(index)
        default: prepaid(index)
        }
    }

    func endOperation(_ index: Int, counts: Bool = true) {
        let customer = customers[index]
        customer.busy = false
        if counts { customer.done += 1 }
        schedule(.customer(index), in: random(10...400))
    }

    /// A refusal that says the session is gone: log in again.
    func sessionCheck(_ index: Int, _ answer: Body?) {
        if case .error(let error)? = answer, error.code == .sessionInvalid { customers[index].session = nil }
    }

    // MARK: Flows

    /// Registration: the code goes to the account's phone of record (this customer's), and the
    /// user exists once it comes back.
    func register(_ index: Int) {
        let customer = customers[index]
        customer.inbox = []
        attachDevice(index)
        send(index, to: .appServer, .register(RegisterRequest(username: customer.username, password: customer.password, phone: customer.phone, bankAccount: customer.account, role: .customer))) { [self] answer in
            switch answer {
            case .loginChallenge(let challenge)?: return awaitCode(index, challenge.challengeID, registering: true)
            case .error(let error)? where error.code == .alreadyExists: customer.registered = true
            default: break
            }
            endOperation(index, counts: false)
        }
    }

    /// The phone (re)attaches to the network provider; the provider's challenge is answered
    /// with the SIM when it arrives (`customerReceives`).
    func attachDevice(_ index: Int) {
        let customer = customers[index]
        transmit(.toServer(.nsp, .request(ClientID(customer.device, key: nil), WireCodec().encode(Envelope(requestID: .random(using: &customer.rng), body: .deviceAttach(phone: customer.phone))))), from: .customer(index), to: .server(.nsp))
    }

    func awaitCode(_ index: Int, _ challenge: ChallengeID, registering: Bool) {
        let customer = customers[index]
        customer.awaitingCode = (challenge, now + 4000, registering)
        schedule(.customer(index), in: 4001)
        if !customer.inbox.isEmpty { submitCode(index, challenge) }
    }

    func login(_ index: Int) {
        let customer = customers[index]
        customer.inbox = []
        attachDevice(index)
        send(index, to: .appServer, .login(LoginRequest(username: customer.username, password: customer.password))) { [self] answer in
            guard case .loginChallenge(let challenge)? = answer else { return endOperation(index, counts: false) }
            awaitCode(index, challenge.challengeID, registering: false)
        }
    }

    func submitCode(_ index: Int, _ challenge: ChallengeID) {
        let customer = customers[index]
        guard let sms = customer.inbox.last(where: { $0.text.contains("for login \(challenge.smsReference)") }), let digits = sms.text.split(whereSeparator: { !$0.isNumber }).first, let code = try? OneTimeCode(String(digits)) else { return }
        customer.awaitingCode = nil
        customer.inbox = []
        let id = RequestID.random(using: &customer.rng)
        send(index, to: .appServer, .otpSubmit(OtpSubmit(challengeID: challenge, code: code)), id: id) { [self] answer in
            if case .sessionGranted(let granted)? = answer {
                customer.session = granted.session
                customer.lastSessionAt = now
            }
            if case .registerReply? = answer { customer.registered = true }
            // A refusal says nothing took effect: not so if this very submission used the code
            // (a retry whose first answer was lost must get a session, not OTP_INVALID).
            if case .error(let error)? = answer, error.code == .otpInvalid, appStore.state.durable.challenges[challenge]?.usedBy == id {
                violation("customer \(index)'s code submission \(id) used the code, yet its retry was refused: \(error)")
            }
            endOperation(index, counts: false)
        }
    }

    func load(_ index: Int) {
        let customer = customers[index]
        guard let session = customer.session else { return endOperation(index, counts: false) }
        let load: PendingLoad
        if let pending = customer.wallet.pendingLoad {
            load = pending
        } else {
            let receiver = receivers[Int(customer.rng.next() % UInt64(receivers.count))]
            var counts: [Denomination: Int] = [.rs1: Int(customer.rng.next() % 60) + 10]
            if customer.rng.next() % 2 == 0 { counts[.rs5] = Int(customer.rng.next() % 6) + 1 }
            guard let begun = try? beginLoad(customer, counts: counts, receiver: receiver) else { return endOperation(index) }
            load = begun
        }
        customer.lastLoadID = load.requestID
        sendLoad(index, load, session: session)
    }

    func sendLoad(_ index: Int, _ load: PendingLoad, session: SessionToken) {
        let customer = customers[index]
        send(index, to: .appServer, loadBody(load, session: session), id: load.requestID, newConnection: true) { [self] answer in
            sessionCheck(index, answer)
            switch customer.wallet.finishLoad(answer, keyring: keyring, now: timestamp) {
            case .done(let reply):
                stats.loads += 1
                customer.loaded += reply.vouchers.map(\.commitment.root)
                checkLoaded(index, roots: reply.vouchers.map(\.commitment.root))
            case .refused(let error) where error.origin == .bank:
                checkNothingLoaded(index, roots: load.chains.map(\.request.root), error)
            default: break
            }
            endOperation(index)
        }
    }

    /// A stream of 1 to 16 small payments at one merchant, each after the last one's receipt
    /// (a micropayment stream: a page, a minute of a call, an article at a time).
    func pay(_ index: Int) {
        let customer = customers[index]
        let receiver = receivers[Int(customer.rng.next() % UInt64(receivers.count))]
        payStream(index, at: receiver, left: Int(customer.rng.next() % 16) + 1)
    }

    func payStream(_ index: Int, at receiver: ReceiverID, left: Int) {
        let customer = customers[index]
        guard left > 0 else { return endOperation(index) }
        if let pending = customer.wallet.pendingPayments[receiver] {
            // The unknown payment first, under its own id, over a new connection.
            customer.wallet.markSent(pending.plan)
            return sendPayment(index, pending, newConnection: true) { [self] in
                customer.wallet.pendingPayments[receiver] == nil ? payStream(index, at: receiver, left: left - 1) : endOperation(index)
            }
        }
        let rupees = Int64(customer.rng.next() % 2) + 1
        guard let payment = try? customer.wallet.beginPayment(to: receiver, amount: Amount(paise: rupees * 100), now: timestamp, using: &customer.rng) else {
            return endOperation(index)
        }
        sendPayment(index, payment, newConnection: false) { [self] in
            customer.wallet.pendingPayments[receiver] == nil ? payStream(index, at: receiver, left: left - 1) : endOperation(index)
        }
    }

    func sendPayment(_ index: Int, _ payment: PendingPayment, newConnection: Bool, then: @escaping () -> Void) {
        let customer = customers[index]
        stats.paymentsAttempted += 1
        send(index, to: .merchant(payment.receiver), .payment(payment.plan.payment), id: payment.requestID, newConnection: newConnection) { [self] answer in
            switch customer.wallet.finishPayment(at: payment.receiver, answer) {
            case .done:
                stats.payments += 1
                // Only coins the merchant is known to hold make a replay.
                customer.lastPayment = (payment.receiver, payment.plan.payment)
                checkPaid(payment)
            case .refused(let error):
                checkNothingTaken(payment, error)
            case .takenWithoutReceipt(let error):
                if error.code != .replayedCoin { violation("customer \(index): the merchant answered a payment with bad receipts: \(error)") }
            case .unknown:
                break
            }
            then()
        }
    }

    func unload(_ index: Int) {
        let customer = customers[index]
        guard let session = customer.session else { return endOperation(index, counts: false) }
        let destination: UnloadDestination = customer.rng.next() % 2 == 0 ? .bankAccount : .quickPayBalance
        // One voucher at a time, each with the destination it started with.
        let unloads = customer.wallet.beginUnloads(destination: destination).prefix(customer.finished ? 1000 : 2)
        sendUnloads(index, Array(unloads), session: session) { [self] in endOperation(index) }
    }

    func sendUnloads(_ index: Int, _ unloads: [PendingUnload], session: SessionToken, then: @escaping () -> Void) {
        let customer = customers[index]
        guard let unload = unloads.first else { return then() }
        guard let request = try? customer.wallet.unloadRequest(
            unload.voucherID, destination: unload.destination, unloadID: unload.unloadID, session: session, account: customer.account)
        else { return then() }
        send(index, to: .appServer, .unload(request)) { [self] answer in
            sessionCheck(index, answer)
            if case .done(let reply) = customer.wallet.finishUnload(unload.voucherID, answer) {
                stats.unloads += 1
                checkRefunded(reply)
            }
            sendUnloads(index, Array(unloads.dropFirst()), session: session, then: then)
        }
    }

    /// A blind voucher's unspent value taken as new blind vouchers (for a random merchant): its
    /// unload to REFRESH first (the bank settles with the merchant and holds the refund), then the
    /// refresh of exactly what is held. Whatever is pending goes first: a refresh, a held refund,
    /// a refresh's unload.
    func refresh(_ index: Int, counts: Bool = true) {
        let customer = customers[index]
        guard let session = customer.session, let blindKeys else { return endOperation(index, counts: false) }
        if let refresh = customer.wallet.pendingRefresh { return sendRefresh(index, refresh, session: session, counts: counts) }
        if let held = customer.wallet.heldRefunds.keys.sorted(by: { $0.raw.hex < $1.raw.hex }).first {
            let receiver = receivers[Int(customer.rng.next() % UInt64(receivers.count))]
            guard let refresh = try? customer.wallet.beginRefresh(held, receiver: receiver, blindKeys: blindKeys, now: timestamp, using: &customer.rng) else {
                return endOperation(index, counts: counts)
            }
            return sendRefresh(index, refresh, session: session, counts: counts)
        }
        let unloads = customer.wallet.pendingUnloads.values.filter { $0.destination == .refresh }.sorted { $0.voucherID.raw.hex < $1.voucherID.raw.hex }
        if let pending = unloads.first { return sendUnloads(index, [pending], session: session) { [self] in endOperation(index, counts: counts) } }
        guard let voucher = customer.wallet.vouchers.values.filter({ $0.voucher.commitment.scheme == .blindRSA && $0.remaining > 0 && customer.wallet.pendingUnloads[$0.id] == nil })
            .min(by: { $0.id.raw.hex < $1.id.raw.hex }),
            let unload = try? customer.wallet.beginRefreshUnload(voucher.id, blindKeys: blindKeys, now: timestamp)
        else { return endOperation(index, counts: counts) }
        sendUnloads(index, [unload], session: session) { [self] in endOperation(index, counts: counts) }
    }

    func sendRefresh(_ index: Int, _ refresh: PendingRefresh, session: SessionToken, counts: Bool) {
        let customer = customers[index]
        guard let request = try? customer.wallet.refreshRequest(refresh, session: session) else { return endOperation(index, counts: counts) }
        send(index, to: .appServer, .refresh(request), id: refresh.load.requestID, newConnection: true) { [self] answer in
            sessionCheck(index, answer)
            if case .done(let made) = customer.wallet.finishRefresh(answer, keyring: keyring, now: timestamp) {
                stats.refreshes += 1
                customer.loaded += made.map(\.commitment.root)
            }
            endOperation(index, counts: counts)
        }
    }

    /// The operator issues a code; the customer redeems it.
    func prepaid(_ index: Int) {
        let customer = customers[index]
        guard let session = customer.session, let app = appHost,
            let (result, drained) = app.perform("prepaid_issue", at: time(.appServer), { actor, _ in try actor.issuePrepaidCodes(count: 1, amount: Amount(paise: 1000)) })
        else { return endOperation(index) }
        guard case .success(let codes) = result, let code = codes.first else { return endOperation(index) }
        send(drained, from: .appServer)
        send(index, to: .appServer, .prepaidRedeem(PrepaidRedeem(session: session, code: code))) { [self] answer in
            sessionCheck(index, answer)
            endOperation(index)
        }
    }

    /// A merchant's operator asks it to redeem.
    func operatorRedeems(_ node: NodeID) {
        if case .merchant(let receiver) = node, let merchant = merchantHosts[receiver],
            let (_, drained) = merchant.perform("redeem", at: time(node), { actor, now in ((), actor.redeem(now: now)) })
        {
            send(drained, from: node)
            scheduleTimer(node)
        }
        if !stopping { schedule(.redeem(node), in: random(2000...8000)) }
    }
}
