import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol

/// The attackers of the simulation. Each attack is one crafted request whose acceptance would
/// break a rule: the check is on the answer (and, through the audit after every event, on the
/// state it leaves).
extension SimWorld {
    func attack(_ index: Int) {
        let customer = customers[index]
        stats.attacks += 1
        let kinds = [
            "replay", "forge", "splice", "overspend", "spend-unloaded", "double-redeem", "stolen-id", "foreign", "racing-loads", "guess-password",
            "unload-foreign", "register-foreign", "attach-foreign",
        ]
        let kind = kinds[Int(customer.rng.next() % UInt64(kinds.count))]
        note("customer \(index) attacks: \(kind)")
        switch kind {
        case "replay":
            // The last payment's coins again, under a new id.
            guard let (receiver, payment) = customer.lastPayment else { return endOperation(index) }
            refused(index, kind, to: .merchant(receiver), .payment(payment))
        case "splice":
            // The next coin of one voucher presented under another voucher's id.
            let open = customer.wallet.vouchers.values.filter { !$0.unloaded && $0.spent < $0.voucher.commitment.length.value }.sorted { $0.id.raw.hex < $1.id.raw.hex }
            guard open.count >= 2 else { return endOperation(index) }
            let (donor, victim) = (open[0], open[1])
            let at = victim.spent + 1
            guard at <= donor.voucher.commitment.length.value,
                let payment = try? Payment(coins: [Coin(voucherID: victim.id, index: at, value: donor.chain.element(at: at))], vouchers: [victim.voucher])
            else { return endOperation(index) }
            refused(index, kind, to: .merchant(victim.voucher.commitment.receiverID), .payment(payment))
        case "racing-loads":
            racingLoads(index)
        case "guess-password":
            guessPassword(index)
        case "unload-foreign":
            unloadForeign(index)
        case "register-foreign":
            registerForeign(index)
        case "attach-foreign":
            // This customer's phone asks to attach as another's phone and answers the challenge
            // with its own SIM (a wrong one for that phone). If the provider took it, the
            // victim's codes would reach this device (a violation `customerReceives` reports).
            let victims = customers.filter { $0.index != index }
            guard !victims.isEmpty else { return endOperation(index) }
            let victim = victims[Int(customer.rng.next() % UInt64(victims.count))]
            customer.attachingAs = victim.phone
            transmit(.toServer(.nsp, .request(ClientID(customer.device, key: nil), WireCodec().encode(Envelope(requestID: .random(using: &customer.rng), body: .deviceAttach(phone: victim.phone))))), from: .customer(index), to: .server(.nsp))
            stats.attacksRefused += 1
            endOperation(index)
        case "forge", "overspend", "spend-unloaded", "foreign":
            let unloaded = kind == "spend-unloaded"
            let candidates = customer.wallet.vouchers.values.filter {
                (unloaded ? $0.unloaded : !$0.unloaded) && $0.spent < $0.voucher.commitment.length.value
            }.sorted { $0.id.raw.hex < $1.id.raw.hex }
            guard let entry = candidates.first else { return endOperation(index) }
            let n = entry.voucher.commitment.length.value
            var receiver = entry.voucher.commitment.receiverID
            let coin: Coin
            switch kind {
            case "forge": coin = Coin(voucherID: entry.id, index: entry.spent + 1, value: .random(using: &customer.rng))
            case "overspend": coin = Coin(voucherID: entry.id, index: min(n + 1, ChainLength.maximum), value: .random(using: &customer.rng))
            case "foreign":
                // The voucher at another merchant than the one it names.
                guard let other = receivers.first(where: { $0 != receiver }) else { return endOperation(index) }
                receiver = other
                coin = Coin(voucherID: entry.id, index: entry.spent + 1, value: entry.chain.element(at: entry.spent + 1))
            default: coin = Coin(voucherID: entry.id, index: entry.spent + 1, value: entry.chain.element(at: entry.spent + 1))
            }
            guard coin.index <= ChainLength.maximum, coin.index <= n || kind == "overspend", let payment = try? Payment(coins: [coin], vouchers: [entry.voucher]) else {
                return endOperation(index)
            }
            refused(index, kind, to: .merchant(receiver), .payment(payment))
        case "double-redeem":
            // A merchant redeems coins the bank has already credited it, again.
            let held = merchantStores.sorted(by: { $0.key < $1.key }).flatMap { receiver, store in
                store.state.durable.vouchers.values.filter { $0.redeemedIndex == $0.last.index && $0.last.index > 0 }.map { (receiver, $0) }
            }.sorted { $0.1.id.raw.hex < $1.1.id.raw.hex }
            guard let (receiver, row) = held.first else { return endOperation(index) }
            let redeem = Redeem(receiverID: receiver, coins: [Coin(voucherID: row.id, index: row.last.index, value: row.last.value)], mode: merchantModes[receiver]!)
            merchantAsks(.merchant(receiver), .redeem(redeem)) { [self] answer in
                if case .redeemReply(let reply)? = answer, reply.totalCredited > .zero {
                    violation("\(receiver) was credited \(reply.totalCredited) for coins the bank had credited before")
                } else {
                    stats.attacksRefused += 1
                }
                endOperation(index)
            }
        default:
            // Another customer's load id, with this customer's own chains and session: the
            // answer may never be the other's vouchers.
            guard let session = customer.session, let stolen = customers.first(where: { $0.index != index && $0.lastLoadID != nil })?.lastLoadID,
                customer.wallet.pendingLoad == nil,
                let chains = try? Wallet.prepareLoad(counts: [.rs1: 3], blindKeys: blindKeys, now: timestamp, using: &customer.rng)
            else { return endOperation(index) }
            let load = PendingLoad(requestID: stolen, receiver: receivers[0], chains: chains)
            customer.wallet.pendingLoad = load
            customer.lastLoadID = load.requestID
            send(index, to: .appServer, loadBody(load, session: session), id: stolen, newConnection: true) { [self] answer in
                if blindKeys == nil, case .loadReply(let reply)? = answer, Set(reply.vouchers.map(\.commitment.root)) != Set(chains.map(\.request.root)) {
                    violation("customer \(index) got vouchers of another customer's load by reusing its request id")
                }
                sessionCheck(index, answer)
                let outcome = customer.wallet.finishLoad(answer, keyring: keyring, now: timestamp)
                // Blind: another load's blind signatures would not unblind to this wallet's vouchers.
                if blindKeys != nil, case .loadReply? = answer, case .unknown(let error) = outcome, error.code == .badSignature {
                    violation("customer \(index) got another customer's load answer by reusing its request id")
                }
                switch outcome {
                case .done(let reply):
                    customer.loaded += reply.vouchers.map(\.commitment.root)
                    checkLoaded(index, roots: reply.vouchers.map(\.commitment.root))
                case .refused(let error) where error.origin == .bank:
                    checkNothingLoaded(index, roots: chains.map(\.request.root), error)
                default: break
                }
                endOperation(index)
            }
        }
    }

    /// Two loads at once from one session, each for 60% of the account: the bank's one atomic
    /// check-and-debit lets at most the affordable ones through (the audit after every event
    /// sees a negative balance at once). Both are tracked, so no money is stranded by the race.
    func racingLoads(_ index: Int) {
        let customer = customers[index]
        let balance = bankStore.state.durable.balances[.bank(customer.account)]?.paise ?? 0
        let fives = min(Int(balance * 6 / 10 / 500), 200)
        guard let session = customer.session, customer.wallet.pendingLoad == nil, customer.racingLoad == nil, fives >= 1,
            let first = try? beginLoad(customer, counts: [.rs5: fives], receiver: receivers[0]),
            let chains = try? Wallet.prepareLoad(counts: first.chains.reduce(into: [:]) { $0[$1.request.denomination] = $1.request.length.value }, blindKeys: blindKeys, now: timestamp, using: &customer.rng)
        else { return endOperation(index) }
        let second = PendingLoad(requestID: .random(using: &customer.rng), receiver: receivers[0], chains: chains)
        customer.racingLoad = second
        customer.lastLoadID = first.requestID
        var answered = 0
        let both = { [self] in
            answered += 1
            if answered == 2 { endOperation(index) }
        }
        send(index, to: .appServer, loadBody(first, session: session), id: first.requestID, newConnection: true) { [self] answer in
            sessionCheck(index, answer)
            switch customer.wallet.finishLoad(answer, keyring: keyring, now: timestamp) {
            case .done(let reply):
                customer.loaded += reply.vouchers.map(\.commitment.root)
                checkLoaded(index, roots: reply.vouchers.map(\.commitment.root))
            case .refused(let error) where error.origin == .bank:
                checkNothingLoaded(index, roots: first.chains.map(\.request.root), error)
            default: break
            }
            both()
        }
        sendRacingLoad(index, second, session: session, then: both)
    }

    /// The racing load through the wallet's own load logic (swapped in as its pending load).
    func sendRacingLoad(_ index: Int, _ load: PendingLoad, session: SessionToken, then: @escaping () -> Void) {
        let customer = customers[index]
        send(index, to: .appServer, loadBody(load, session: session), id: load.requestID, newConnection: true) { [self] answer in
            sessionCheck(index, answer)
            let first = customer.wallet.pendingLoad
            customer.wallet.pendingLoad = customer.racingLoad
            let outcome = customer.wallet.finishLoad(answer, keyring: keyring, now: timestamp)
            customer.racingLoad = customer.wallet.pendingLoad
            customer.wallet.pendingLoad = first
            switch outcome {
            case .done(let reply):
                customer.loaded += reply.vouchers.map(\.commitment.root)
                checkLoaded(index, roots: reply.vouchers.map(\.commitment.root))
            case .refused(let error) where error.origin == .bank:
                checkNothingLoaded(index, roots: load.chains.map(\.request.root), error)
            default: break
            }
            then()
        }
    }

    /// Wrong passwords for another customer until the lockout, then its right one: that must
    /// not open a login (unless the victim itself logged in meanwhile, which resets the count).
    func guessPassword(_ index: Int) {
        let victims = customers.filter { $0.index != index && $0.registered }
        guard !victims.isEmpty else { return endOperation(index) }
        let victim = victims[Int(customers[index].rng.next() % UInt64(victims.count))]
        let started = now
        var refusedGuesses = 0
        var tries = 0
        var verdict: Bool?  // nil: cannot judge (an answer lost, the victim logged in meanwhile)
        func next() {
            let last = refusedGuesses == maximumFailedAttempts
            let password = last ? victim.password : try! Password("guess \(tries) by c\(index)")
            tries += 1
            send(index, to: .appServer, .login(LoginRequest(username: victim.username, password: password)), newConnection: true) { [self] answer in
                var code: ErrorCode?
                if case .error(let error)? = answer { code = error.code }
                if code == .lockedOut { verdict = true }
                if code == .authenticationFailed { refusedGuesses += 1 }
                // The counts are durable: a crash of the app server meanwhile forgives nothing.
                if answer == nil || victim.lastSessionAt >= started { verdict = verdict ?? false }
                if verdict == nil && last, case .loginChallenge? = answer {
                    // Counted wrong passwords (a storage failure counts none), then the right one.
                    violation("customer \(index) guessed \(maximumFailedAttempts) wrong passwords for \(victim.username) and was not locked out")
                } else if verdict == nil && tries < 2 * maximumFailedAttempts {
                    return next()
                }
                if verdict == true { stats.attacksRefused += 1 }
                endOperation(index)
            }
        }
        next()
    }

    /// Wrong passwords from one client key before that key is locked out of the username.
    var maximumFailedAttempts: Int { AppServerConfig().loginLimits.failuresPerKey }

    /// Another customer's voucher, with an authorization its owner's key signed (as if taken
    /// from it), sent under this customer's session: the bank refuses it, and nothing changes.
    func unloadForeign(_ index: Int) {
        let customer = customers[index]
        guard let session = customer.session,
            let (victim, entry) = customers.filter({ $0.index != index }).lazy.compactMap({ other in
                other.wallet.vouchers.values.filter { !$0.unloaded }.min { $0.id.raw.hex < $1.id.raw.hex }.map { (other, $0) }
            }).first,
            let request = try? victim.wallet.unloadRequest(
                entry.id, destination: .bankAccount, unloadID: .random(using: &customer.rng), session: session, account: victim.account)
        else { return endOperation(index) }
        send(index, to: .appServer, .unload(request), newConnection: true) { [self] answer in
            sessionCheck(index, answer)
            if case .unloadReply? = answer {
                violation("customer \(index) unloaded customer \(victim.index)'s voucher \(entry.id)")
            } else if case .error? = answer {
                stats.attacksRefused += 1
            }
            endOperation(index)
        }
    }

    /// A user on another customer's account: with this customer's phone (the bank's phone of
    /// record differs: refused), or with the victim's (the code goes to the victim: the
    /// registration never completes). The auditor's ownership check sees any user that got in.
    func registerForeign(_ index: Int) {
        let customer = customers[index]
        let victims = customers.filter { $0.index != index }
        guard !victims.isEmpty else { return endOperation(index) }
        let victim = victims[Int(customer.rng.next() % UInt64(victims.count))]
        // With a phone of its own that has no user yet (so only the bank's phone of record can
        // stop it), or with the victim's phone (the code then goes to the victim).
        let ownPhone = try! Self.sparePhone(index)
        let phone = customer.rng.next() % 2 == 0 ? ownPhone : victim.phone
        let name = try! Username("intruder\(index)x\(customer.rng.next() % 1000)")
        send(index, to: .appServer, .register(RegisterRequest(username: name, password: customer.password, phone: phone, bankAccount: victim.account, role: .customer)), newConnection: true) { [self] answer in
            switch answer {
            case .loginChallenge? where phone == ownPhone:
                violation("customer \(index) got a registration code sent for \(victim.account) although its phone is not the account's")
            case .error?, .loginChallenge?: stats.attacksRefused += 1
            default: break
            }
            endOperation(index)
        }
    }

    /// Sends an attacker's request; it must be refused.
    func refused(_ index: Int, _ kind: String, to target: NodeID, _ body: Body) {
        send(index, to: target, body, newConnection: true) { [self] answer in
            switch answer {
            case .paymentReply?: violation("customer \(index): the \(kind) attack was accepted by \(target)")
            case .error?: stats.attacksRefused += 1
            default: break
            }
            endOperation(index)
        }
    }

    /// A merchant's own request to the bank (its key), outside its actor: the testbed's attacker.
    func merchantAsks(_ node: NodeID, _ body: Body, then: @escaping (Body?) -> Void) {
        let envelope = Envelope(requestID: .random(using: &rng), body: body)
        let drained = servers[.bank]?.isUp == true
            ? servers[.bank]!.drain([.request(ClientID(Array("attacker:\(node)".utf8), key: keys[node]), WireCodec().encode(envelope))], at: time(.bank)) : Drained()
        var answer: Body?
        for case .toClient(_, let bytes) in drained.frames { answer = try? WireCodec().decode(bytes).body }
        then(answer)
    }
}
