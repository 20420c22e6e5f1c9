import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// The defects of "Effects, not calls" that live in the actors, each driven through the host core.
struct EffectsDefectTests {
    /// Defect 3: a failed group sends none of its steps' peer requests. An offline unload whose
    /// `closing` row did not commit sends no Settle, and the customer hears UNAVAILABLE.
    @Test func anOfflineUnloadWhoseCommitFailsSendsNoSettle() throws {
        var h = BankHarness()
        let chain = h.chain(.rs5, 10)
        let voucher = h.load([chain], for: h.offline)[0]
        var generator = SeededGenerator(seed: 100)
        let unload = UnloadRequest(account: h.alice, authorization: UnloadAuthorization.sign(
            unloadID: .random(using: &generator), voucherID: voucher.id, destination: .bankAccount, ownerKey: chain.owner))
        h.store.failNextCommit = true
        let outputs = h.send(.bankUnload(unload))
        #expect(!outputs.contains { if case .request = $0 { true } else { false } }, "a Settle left for a rollback")
        #expect(errorCode(onlyReply(outputs)) == .unavailable)
        #expect(try h.store.voucher(voucher.id)?.state == .open)
        // The retry goes through: one Settle now.
        #expect(h.send(.bankUnload(unload)).contains { if case .request = $0 { true } else { false } })
    }

    /// Defect 5: a Settle that was not answered in time is sent again (with backoff) until the
    /// merchant answers; the answer then refunds, and the unload's retry gets the refund.
    @Test func anUnansweredSettleIsSentAgainAndItsLateAnswerRefunds() throws {
        var h = BankHarness()
        let chain = h.chain(.rs5, 10)
        let voucher = h.load([chain], for: h.offline)[0]
        var generator = SeededGenerator(seed: 101)
        let unload = UnloadRequest(account: h.alice, authorization: UnloadAuthorization.sign(
            unloadID: .random(using: &generator), voucherID: voucher.id, destination: .bankAccount, ownerKey: chain.owner))
        _ = h.send(.bankUnload(unload))
        let pending = onlyReply(h.bank.timeOut())
        guard case .unloadReply(let waiting)? = pending, waiting.pendingUntil != nil else { Issue.record("\(String(describing: pending))"); return }
        // Not yet: the first backoff is 2 s.
        #expect(!h.bank.tick(now: t0.adding(seconds: 1)).contains { if case .request = $0 { true } else { false } })
        let again = h.bank.tick(now: t0.adding(seconds: 3))
        guard case .request(.merchant, let settle, _)? = again.first(where: { if case .request = $0 { true } else { false } }) else {
            Issue.record("the bank did not settle again: \(again)")
            return
        }
        #expect(settle.body == .settle(Settle(voucherID: voucher.id)))
        _ = h.bank.answer(settle.reply(.settleReply(SettleReply(voucherID: voucher.id, last: ChainPosition(index: 4, value: chain.chain.element(at: 4))))), from: .merchant(h.offline), now: t0.adding(seconds: 3))
        #expect(try h.store.balance(.bank(h.alice)) == rupees(1000 - 50 + 30))
        #expect(onlyReply(h.send(.bankUnload(unload))) == .unloadReply(UnloadReply(voucherID: voucher.id, refunded: rupees(30), finalIndex: 4, pendingUntil: nil)))
        h.store.checkLedger()
    }

    /// The operator's re-settle asks at once, whatever the backoff says.
    @Test func anOperatorCanAskForASettleNow() throws {
        var h = BankHarness()
        let chain = h.chain(.rs5, 10)
        let voucher = h.load([chain], for: h.offline)[0]
        var generator = SeededGenerator(seed: 102)
        let unload = UnloadRequest(account: h.alice, authorization: UnloadAuthorization.sign(
            unloadID: .random(using: &generator), voucherID: voucher.id, destination: .bankAccount, ownerKey: chain.owner))
        _ = h.send(.bankUnload(unload))
        for _ in 0..<4 { _ = h.bank.timeOut(now: t0.adding(seconds: 100)) ; _ = h.bank.tick(now: t0.adding(seconds: 100)) }
        let (scheduled, _) = h.bank.perform(now: t0.adding(seconds: 101)) { bank, now in (try bank.resettle(nil, now: now), Step<BankBatch>.none) }
        #expect(try scheduled.get() <= 1)
        let ticked = h.bank.tick(now: t0.adding(seconds: 101))
        #expect(ticked.contains { if case .request(.merchant, let e, _) = $0, case .settle = e.body { true } else { false } })
    }

    /// Defect 6: the bank refuses a merchant that runs in another mode than it holds, and a
    /// mode changes only explicitly, offline to online only with no live voucher.
    @Test func modesAreAgreedNotAssumed() throws {
        var h = BankHarness()
        let chain = h.chain(.rs5, 10)
        let voucher = h.load([chain], for: h.offline)[0]
        let asOnline = onlyReply(h.send(.verifyCoins(VerifyCoins(receiverID: h.offline, coins: [chain.coin(voucher.id, 1)], vouchers: [], mode: .online))))
        #expect(errorCode(asOnline) == .modeMismatch)
        let redeemAsOnline = onlyReply(h.send(.redeem(Redeem(receiverID: h.offline, coins: [chain.coin(voucher.id, 1)], mode: .online))))
        #expect(errorCode(redeemAsOnline) == .modeMismatch)
        #expect(onlyReply(h.send(.modeQuery(h.offline))) == .modeReply(ModeReply(receiverID: h.offline, mode: .offline)))
        // Offline to online while a voucher is open: refused; online to offline: allowed.
        let (offline, online) = (h.offline, h.online)
        let (toOnline, _) = h.bank.perform { bank, _ in ((), try bank.setMode(offline, to: .online)) }
        #expect(throws: QuickPayError.self) { try toOnline.get() }
        let (toOffline, _) = h.bank.perform { bank, _ in ((), try bank.setMode(online, to: .offline)) }
        #expect(throws: Never.self) { try toOffline.get() }
        #expect(try h.store.receiver(h.online)?.mode == .offline)
    }

    /// Defect 4: a receipt chain served after a failed commit is the chain the voucher keeps:
    /// receipts verify against the signed root after a retry and after a restart.
    @Test func receiptsVerifyAfterAFailedCommitAndARestart() throws {
        var generator = SeededGenerator(seed: 103)
        let signer = BankSigner(privateKey: .random(using: &generator))
        let shop = try ReceiverID("chai-stall")
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
        let voucher = signer.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: shop, denomination: .rs1, length: chain.length, root: chain.root,
            expiry: t0.adding(seconds: 86_400), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: signer.keyID))
        let store = MemoryMerchantStore()
        let receiptKey = SigningPrivateKey.random(using: &generator)
        func merchant(_ seed: UInt64) -> TestHost<MerchantActor> {
            TestHost(MerchantActor(
                store: store, config: MerchantConfig(receiverID: shop, mode: .offline), bankKey: signer.privateKey.publicKey,
                receiptKey: receiptKey, random: SeededGenerator(seed: seed)), journal: store)
        }
        func pay(_ host: inout TestHost<MerchantActor>, _ index: Int, id: RequestID) -> Body? {
            onlyReply(host.send(Envelope(requestID: id, body: .payment(try! Payment(coins: [Coin(voucherID: voucher.id, index: index, value: chain.element(at: index))], vouchers: [voucher]))), from: client))
        }
        var first = merchant(1)
        store.failNextCommit = true
        #expect(errorCode(pay(&first, 1, id: .random(using: &generator))) == .unavailable)
        guard case .paymentReply(let paid)? = pay(&first, 1, id: .random(using: &generator)), let root = paid.receiptRoots.first else {
            Issue.record("the retry was not served")
            return
        }
        store.crash()
        var restarted = merchant(2)
        guard case .paymentReply(let next)? = pay(&restarted, 2, id: .random(using: &generator)) else { Issue.record("not served after restart"); return }
        for receipt in paid.receipts + next.receipts {
            #expect(throws: Never.self) { try ChainVerifier.verify(receipt.position, after: .root(root.commitment.root), length: root.commitment.length) }
        }
    }

    /// Defect 8: a login retried after its answer gets the same challenge (and sends no second
    /// SMS); copies of a load that arrive while it is at the bank each get the first answer.
    @Test func retriesAndCopiesGetTheFirstAnswer() throws {
        var net = try InMemoryNetwork(merchants: [(try ReceiverID("chai-stall"), try AccountID("ACC-CHAI"), .offline)])
        let session = try FlowTests().logIn(&net)
        let alice = ClientID(Array("alice-phone".utf8))
        let login = Envelope(requestID: RequestID(Bytes16(high: 8, low: 8)), body: .login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))))
        let smsBefore = net.pushes[alice]?.count ?? 0
        var first: [Output] = net.appServer.send(login, from: alice)
        // The app server asks the network provider; finish that exchange by hand.
        guard case .request(.networkProvider, let sms, _)? = first.first else { Issue.record("\(first)"); return }
        for case .reply(let to, let answer) in net.nsp.send(sms, from: InMemoryNetwork.clientID(of: nil)) where to == InMemoryNetwork.clientID(of: nil) {
            first = net.appServer.answer(answer, from: .networkProvider)
        }
        let retry = net.appServer.send(login, from: alice)
        #expect(onlyReply(retry) == onlyReply(first))
        #expect(net.pushes[alice]?.count ?? 0 == smsBefore, "the retry sent a second SMS")

        var random = SeededGenerator(seed: 104)
        let chains = try Wallet.prepareLoad(counts: [.rs1: 5], using: &random)
        let load = Envelope(requestID: RequestID(Bytes16(high: 9, low: 9)), body: .load(LoadRequest(session: session, receiverID: try ReceiverID("chai-stall"), chains: chains.map(\.request))))
        var forwarded: [Output] = []
        for _ in 0..<5 { forwarded += net.appServer.send(load, from: alice) }
        let toBank = forwarded.compactMap { if case .request(.bank, let e, _) = $0 { e } else { nil } }
        #expect(toBank.count == 1, "every copy went to the bank")
        var answers: [Output] = []
        for case .reply(_, let answer) in net.bank.send(toBank[0], from: InMemoryNetwork.clientID(of: nil)) {
            answers = net.appServer.answer(answer, from: .bank)
        }
        let loadReplies = answers.filter { if case .reply(_, let e) = $0, case .loadReply = e.body { true } else { false } }
        #expect(loadReplies.count == 5, "\(loadReplies.count) of 5 copies answered")
    }
}
