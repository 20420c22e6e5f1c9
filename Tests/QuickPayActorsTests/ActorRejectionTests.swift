import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// Rejection paths of the app server, merchant and network provider, table-driven where the
/// shape allows: each gets its typed error and changes no state.
struct AppServerRejectionTests {
    let alice = ClientID(Array("alice-phone".utf8))
    let shop = try! ReceiverID("chai-stall")

    func loggedIn() throws -> (InMemoryNetwork, SessionToken) {
        var net = try InMemoryNetwork(merchants: [(shop, try AccountID("ACC-CHAI"), .offline)])
        let session = try FlowTests().logIn(&net)
        return (net, session)
    }

    @Test func prepaidCodesAreLongRandomSingleUseAndStoredHashed() throws {
        var (net, session) = try loggedIn()
        let codes = try net.appServer.perform { actor, _ in try actor.issuePrepaidCodes(count: 3, amount: Amount(paise: 20_000)) }.0.get()
        #expect(Set(codes).count == 3)
        // 20 characters of a 32-letter alphabet: 100 random bits.
        #expect(codes.allSatisfy { $0.filter { $0 != "-" }.dropFirst(2).count == 20 })
        for code in codes { #expect(try net.appStore.prepaidCode(Bytes32.sha256(of: Array(code.utf8))) != nil) }
        // Only the hash is kept: no stored field holds the code's text.
        #expect(net.appStore.state.durable.codes.values.allSatisfy { record in codes.allSatisfy { !"\(record)".contains($0) } })
        let first = net.send(.prepaidRedeem(PrepaidRedeem(session: session, code: codes[0])), from: alice)
        #expect(first == [.prepaidRedeemReply(PrepaidRedeemReply(credited: Amount(paise: 20_000), quickPay: Amount(paise: 20_000)))])
        let before = net.bankStore.snapshot
        #expect(errorCode(net.send(.prepaidRedeem(PrepaidRedeem(session: session, code: codes[0])), from: alice).first) == .codeInvalid)
        #expect(errorCode(net.send(.prepaidRedeem(PrepaidRedeem(session: session, code: "QP-GUESS-GUESS-GUESS-GUESS")), from: alice).first) == .codeInvalid)
        #expect(net.bankStore.snapshot == before)
        // Nobody can mint codes over the wire.
        #expect(errorCode(net.send(.prepaidIssue(PrepaidIssue(count: 1, amount: Amount(paise: 100))), from: alice).first) == .forbidden)
        net.bankStore.checkLedger()
    }

    @Test func sessionBoundRequestsRefuseBadSessionsAndUnknownReceivers() throws {
        var (net, session) = try loggedIn()
        var random = SeededGenerator(seed: 50)
        let forged = SessionToken.random(using: &random)
        let chains = [ChainRequest(denomination: .rs1, length: try ChainLength(5), root: .random(using: &random), ownerKey: SigningPrivateKey.random(using: &random).publicKey)]
        let cases: [(String, Body, ErrorCode)] = [
            ("forged session, balance", .balance(SessionRequest(session: forged)), .sessionInvalid),
            ("forged session, load", .load(LoadRequest(session: forged, receiverID: shop, chains: chains)), .sessionInvalid),
            ("forged session, withdraw", .withdraw(WithdrawRequest(session: forged, amount: Amount(paise: 100))), .sessionInvalid),
            ("unknown receiver", .load(LoadRequest(session: session, receiverID: try ReceiverID("no-shop"), chains: chains)), .unknownReceiver),
            ("a customer is no receiver", .load(LoadRequest(session: session, receiverID: try ReceiverID("alice"), chains: chains)), .unknownReceiver),
            ("bank message at the app server", .bankBalance(try AccountID("ACC-ALICE")), .malformed),
        ]
        for (name, body, expected) in cases {
            let before = net.bankStore.snapshot
            #expect(errorCode(net.send(body, from: alice).first) == expected, "\(name)")
            #expect(net.bankStore.snapshot == before, "\(name)")
        }
        // Logging out ends the session.
        #expect(net.send(.logout(SessionRequest(session: session)), from: alice) == [.ack])
        #expect(errorCode(net.send(.balance(SessionRequest(session: session)), from: alice).first) == .sessionInvalid)
    }

    @Test func aLockedUserGetsTheSameAnswerForAnyPassword() throws {
        var (net, _) = try loggedIn()
        for _ in 0..<AppServerConfig().maximumFailedAttempts {
            #expect(errorCode(net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("wrong password"))), from: alice).first) == .authenticationFailed)
        }
        let right = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice)
        let wrong = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("wrong password"))), from: alice)
        #expect(errorCode(right.first) == .lockedOut)
        #expect(right == wrong)
    }

    @Test func resendHasACooldownAndALimit() throws {
        var (net, _) = try loggedIn()
        guard case .loginChallenge(let challenge)? = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice).first else {
            Issue.record("no challenge")
            return
        }
        #expect(errorCode(net.send(.otpResend(challenge.challengeID), from: alice).first) == .rateLimited)
        for _ in 0..<3 {
            net.now = net.now.adding(seconds: 31)
            guard case .loginChallenge? = net.send(.otpResend(challenge.challengeID), from: alice).first else { Issue.record("resend refused"); return }
        }
        net.now = net.now.adding(seconds: 31)
        #expect(errorCode(net.send(.otpResend(challenge.challengeID), from: alice).first) == .limitExceeded)
    }

    @Test func wrongCodesAcrossChallengesLockTheUserOut() throws {
        var (net, _) = try loggedIn()
        // Two challenges of five wrong codes each: ten failures lock the user out.
        for _ in 0..<2 {
            guard case .loginChallenge(let challenge)? = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice).first,
                case .smsDelivery(let sms)? = net.pushes[alice]?.last
            else { Issue.record("no challenge"); return }
            let wrong = sms.text.contains("000000") ? "111111" : "000000"
            for _ in 0..<5 { _ = net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try OneTimeCode(wrong))), from: alice) }
        }
        #expect(errorCode(net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice).first) == .lockedOut)
        net.now = net.now.adding(seconds: AppServerConfig().lockoutSeconds)
        guard case .loginChallenge? = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice).first else {
            Issue.record("still locked after the lockout")
            return
        }
    }
}

struct MerchantRejectionTests {
    var generator = SeededGenerator(seed: 60)
    let shop = try! ReceiverID("chai-stall")

    struct Fixture {
        var merchant: TestHost<MerchantActor>
        let store: MemoryMerchantStore
        let voucher: SignedVoucher
        let chain: HashChain
        let bankKey: SigningPrivateKey
    }

    mutating func fixture(mode: MerchantMode = .offline) -> Fixture {
        let bank = BankSigner(privateKey: .random(using: &generator))
        let chain = HashChain(seed: .random(using: &generator), length: try! ChainLength(10))
        let voucher = bank.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: shop, denomination: .rs5, length: chain.length, root: chain.root,
            expiry: t0.adding(seconds: 3600), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: bank.keyID))
        let store = MemoryMerchantStore()
        let merchant = TestHost(MerchantActor(
            store: store, config: MerchantConfig(receiverID: shop, mode: mode), bankKey: bank.privateKey.publicKey,
            receiptKey: .random(using: &generator), random: SeededGenerator(seed: 61)), journal: store)
        return Fixture(merchant: merchant, store: store, voucher: voucher, chain: chain, bankKey: bank.privateKey)
    }

    /// A redemption the bank refuses whole and for good (here the merchant's mode) ends the
    /// operator's wait at once with the bank's code, instead of being sent again until the
    /// wait's deadline; a transient refusal is sent again after the backoff. Nothing is
    /// settled by either.
    @Test mutating func aRedemptionRefusedWholeForGoodEndsTheWaitWithTheBanksCode() throws {
        var f = fixture()
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        guard case .paymentReply? = pay(&f, [coin(2)], vouchers: [f.voucher]) else { Issue.record("payment refused"); return }
        var wait = RedemptionWait(held: try f.store.unredeemed(limit: .max))
        #expect(wait.paise == 1000 && wait.vouchers == 1)
        func poll(_ at: Int64) throws -> RedemptionWait.Next {
            let actor = f.merchant.actor
            return try wait.poll(
                ended: actor.redemptionsEnded, endedVouchers: actor.lastEndedRedemption, refusal: actor.lastRedemptionRefusal, isRedeeming: actor.isRedeeming,
                atMilliseconds: at
            ) {
                try f.store.voucher($0)?.redeemedIndex ?? 0
            }
        }
        func redemption() throws -> Envelope {
            let requests = f.merchant.redeem().compactMap { if case .request(.bank, let envelope, _) = $0 { envelope } else { nil } }
            return try #require(requests.first)
        }
        let first = try redemption()
        #expect(try poll(0) == .waiting)
        _ = f.merchant.answer(first.reply(.error(QuickPayError(.unavailable, "the bank is busy"))), from: .bank)
        #expect(f.merchant.actor.lastRedemptionRefusal == nil, "a transient refusal is not for good")
        #expect(f.merchant.actor.lastEndedRedemption == [f.voucher.id], "the ended batch's vouchers are what the wait reads again")
        #expect(try poll(10) == .waiting)
        #expect(try poll(59) == .waiting)
        #expect(try poll(60) == .redeemAgain)
        let second = try redemption()
        _ = f.merchant.answer(second.reply(.error(QuickPayError(.modeMismatch, "the bank holds chai-stall as online"))), from: .bank)
        #expect(f.merchant.actor.lastRedemptionRefusal?.code == .modeMismatch)
        guard case .refused(let refusal) = try poll(61) else { Issue.record("the wait goes on after a refusal for good"); return }
        #expect(refusal.code == .modeMismatch)
        #expect(try f.store.voucher(f.voucher.id)?.redeemedIndex == 0, "a refused redemption settled coins")
    }

    mutating func pay(_ f: inout Fixture, _ coins: [Coin], vouchers: [SignedVoucher] = [], now: Timestamp = t0) -> Body? {
        onlyReply(f.merchant.send(Envelope(requestID: .random(using: &generator), body: .payment(try! Payment(coins: coins, vouchers: vouchers))), from: client, now: now))
    }

    @Test mutating func rejectedPaymentsChangeNothing() throws {
        var f = fixture()
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        guard case .paymentReply? = pay(&f, [coin(2)], vouchers: [f.voucher]) else { Issue.record("first payment refused"); return }
        let tampered = SignedVoucher(
            commitment: VoucherCommitment(
                voucherID: .random(using: &generator), receiverID: shop, denomination: .rs50, length: f.chain.length, root: f.chain.root,
                expiry: f.voucher.commitment.expiry, ownerKey: f.voucher.commitment.ownerKey, keyID: f.voucher.commitment.keyID),
            proof: f.voucher.proof)
        let cases: [(String, [Coin], [SignedVoucher], Timestamp, ErrorCode)] = [
            ("replayed coin", [coin(2)], [], t0, .replayedCoin),
            ("older coin", [coin(1)], [], t0, .replayedCoin),
            ("forged coin", [Coin(voucherID: f.voucher.id, index: 3, value: .random(using: &generator))], [], t0, .badChain),
            ("index past N", [Coin(voucherID: f.voucher.id, index: 11, value: .random(using: &generator))], [], t0, .indexOutOfRange),
            ("voucher never shown", [Coin(voucherID: .random(using: &generator), index: 1, value: .zero)], [], t0, .unknownVoucher),
            ("tampered voucher", [Coin(voucherID: tampered.id, index: 1, value: f.chain.element(at: 1))], [tampered], t0, .badSignature),
            ("expired voucher", [coin(3)], [], f.voucher.commitment.expiry, .expired),
        ]
        let before = try f.store.allVouchers()
        for (name, coins, vouchers, now, expected) in cases {
            #expect(errorCode(pay(&f, coins, vouchers: vouchers, now: now)) == expected, "\(name)")
            #expect(try f.store.allVouchers() == before, "\(name) changed the merchant's state")
        }
    }

    @Test mutating func aSettledVoucherTakesNoMoreCoins() throws {
        var f = fixture()
        _ = pay(&f, [Coin(voucherID: f.voucher.id, index: 4, value: f.chain.element(at: 4))], vouchers: [f.voucher])
        let settled = onlyReply(f.merchant.send(Envelope(requestID: .random(using: &generator), body: .settle(Settle(voucherID: f.voucher.id))), from: client, now: t0))
        #expect(settled == .settleReply(SettleReply(voucherID: f.voucher.id, last: ChainPosition(index: 4, value: f.chain.element(at: 4)))))
        #expect(errorCode(pay(&f, [Coin(voucherID: f.voucher.id, index: 5, value: f.chain.element(at: 5))])) == .voucherClosed)
        // The coins stay claimable by ordinary redemption until the bank has them: if the bank
        // never saw the settle answer, this redemption still collects them.
        guard case .request(.bank, let redeem, _)? = f.merchant.redeem().first, case .redeem(let batch) = redeem.body else {
            Issue.record("no redemption after the settle")
            return
        }
        #expect(batch.coins.map(\.index) == [4])
    }

    @Test mutating func onlineMerchantDeliversOnlyAfterTheBankAgrees() throws {
        var f = fixture(mode: .online)
        let payment = Envelope(requestID: .random(using: &generator), body: .payment(try Payment(coins: [Coin(voucherID: f.voucher.id, index: 2, value: f.chain.element(at: 2))], vouchers: [f.voucher])))
        let outputs = f.merchant.send(payment, from: client, now: t0)
        guard case .request(.bank, let verify, _)? = outputs.first, outputs.count == 1 else { Issue.record("\(outputs)"); return }
        #expect(try f.store.allVouchers().isEmpty)  // nothing delivered, nothing stored yet
        // The bank refuses (say the coins were already spent elsewhere): the customer gets the refusal.
        let refused = f.merchant.answer(verify.fail(QuickPayError(.replayedCoin, "spent")), from: .bank)
        #expect(errorCode(onlyReply(refused)) == .replayedCoin)
        #expect(try f.store.allVouchers().isEmpty)
        // No answer within the deadline: UNAVAILABLE, nothing delivered.
        let retry = Envelope(requestID: .random(using: &generator), body: payment.body)
        guard case .request? = f.merchant.send(retry, from: client, now: t0).first else { Issue.record("no verify"); return }
        #expect(errorCode(onlyReply(f.merchant.timeOut())) == .unavailable)
        // The bank agrees: delivered, and already counted as redeemed.
        let third = Envelope(requestID: .random(using: &generator), body: payment.body)
        guard case .request(_, let ask, _)? = f.merchant.send(third, from: client, now: t0).first else { Issue.record("no verify"); return }
        let delivered = onlyReply(f.merchant.answer(ask.reply(.verifyCoinsReply(credited: Amount(paise: 1000))), from: .bank))
        guard case .paymentReply(let receipt)? = delivered else { Issue.record("\(String(describing: delivered))"); return }
        #expect(receipt.amount == Amount(paise: 1000))
        #expect(try f.store.voucher(f.voucher.id)?.redeemedIndex == 2)
    }
}

extension MerchantRejectionTests {
    @Test mutating func aVoucherSettledBeforeTheMerchantSawItIsRefusedLater() throws {
        var f = fixture()
        _ = onlyReply(f.merchant.send(Envelope(requestID: .random(using: &generator), body: .settle(Settle(voucherID: f.voucher.id))), from: client, now: t0))
        #expect(errorCode(pay(&f, [Coin(voucherID: f.voucher.id, index: 1, value: f.chain.element(at: 1))], vouchers: [f.voucher])) == .voucherClosed)
        #expect(try f.store.allVouchers().isEmpty)
    }

    @Test mutating func finalRedemptionRefusalsAreWrittenOffAndTransientOnesRetried() throws {
        var f = fixture()
        _ = pay(&f, [Coin(voucherID: f.voucher.id, index: 3, value: f.chain.element(at: 3))], vouchers: [f.voucher])
        guard case .request(_, let first, _)? = f.merchant.redeem().first else { Issue.record("no redemption"); return }
        let busy = first.reply(.redeemReply(RedeemReply(results: [RedeemResult(voucherID: f.voucher.id, credited: .zero, error: QuickPayError(.overloaded, "busy"))], totalCredited: .zero)))
        _ = f.merchant.answer(busy, from: .bank)
        guard case .request(_, let second, _)? = f.merchant.redeem().first else { Issue.record("transient refusal not retried"); return }
        let late = second.reply(.redeemReply(RedeemReply(results: [RedeemResult(voucherID: f.voucher.id, credited: .zero, error: QuickPayError(.deadlinePassed, "late"))], totalCredited: .zero)))
        _ = f.merchant.answer(late, from: .bank)
        #expect(f.merchant.redeem().isEmpty)
    }

    @Test mutating func theMerchantRedeemsOnItsOwn() throws {
        var f = fixture()
        _ = pay(&f, [Coin(voucherID: f.voucher.id, index: 2, value: f.chain.element(at: 2))], vouchers: [f.voucher])
        #expect(!f.merchant.tick(now: t0).isEmpty)
    }

    /// Online, a payment on a voucher already with the bank waits for the answer before it
    /// (in arrival order) instead of being refused, and holds no payment on another voucher;
    /// each is checked against the rows the one before it delivered.
    @Test mutating func anOnlinePaymentOnABusyVoucherWaitsForTheOneBefore() throws {
        var f = fixture(mode: .online)
        let other = BankSigner(privateKey: f.bankKey)
        let otherChain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
        let otherVoucher = other.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: shop, denomination: .rs5, length: otherChain.length, root: otherChain.root,
            expiry: t0.adding(seconds: 3600), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: other.keyID))
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        func send(_ coins: [Coin], _ vouchers: [SignedVoucher] = [], id: UInt64) -> [Output] {
            f.merchant.send(Envelope(requestID: RequestID(Bytes16(high: 7, low: id)), body: .payment(try! Payment(coins: coins, vouchers: vouchers))), from: client, now: t0)
        }
        func verifications(_ outputs: [Output]) -> [(RequestID, [Int])] {
            outputs.compactMap {
                if case .request(.bank, let envelope, _) = $0, case .verifyCoins(let verify) = envelope.body { return (envelope.requestID, verify.coins.map(\.index)) }
                return nil
            }
        }
        func answered(_ outputs: [Output]) -> [(RequestID, Body)] {
            outputs.compactMap { if case .reply(_, let envelope) = $0 { return (envelope.requestID, envelope.body) }; return nil }
        }
        let first = send([coin(1)], [f.voucher], id: 1)
        #expect(verifications(first).map(\.1) == [[1]])
        // Two more on the same voucher wait (nothing leaves, nothing is refused)...
        #expect(send([coin(2)], id: 2).isEmpty)
        #expect(send([coin(3)], id: 3).isEmpty)
        // ... while a payment on another voucher goes to the bank at once.
        let elsewhere = send([Coin(voucherID: otherVoucher.id, index: 1, value: otherChain.element(at: 1))], [otherVoucher], id: 4)
        #expect(verifications(elsewhere).count == 1)
        // The bank's answer to the first delivers it and sends the second (coin 2 alone: one
        // step after the delivered coin 1); the third still waits.
        let afterFirst = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 7, low: 1)), body: .verifyCoinsReply(credited: Amount(paise: 500))), from: .bank)
        #expect(answered(afterFirst).map(\.0) == [RequestID(Bytes16(high: 7, low: 1))])
        #expect(verifications(afterFirst).map(\.1) == [[2]])
        guard case .verifyCoins(let second)? = afterFirst.compactMap({ if case .request(_, let e, _) = $0 { return e.body }; return nil }).first else { return }
        #expect(second.vouchers.isEmpty, "the voucher was new for the first payment only")
        // The bank refuses the second: the third goes on from coin 1 (coin 3 is two steps).
        let afterSecond = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 7, low: 2)), body: .error(QuickPayError(.voucherClosed, "closed", origin: .bank))), from: .bank)
        #expect(answered(afterSecond).map { errorCode($0.1) } == [.voucherClosed])
        #expect(verifications(afterSecond).map(\.1) == [[3]])
        let afterThird = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 7, low: 3)), body: .verifyCoinsReply(credited: Amount(paise: 1000))), from: .bank)
        guard case .paymentReply(let reply)? = answered(afterThird).first?.1 else { Issue.record("the third payment was not delivered"); return }
        #expect(reply.receipts.map(\.index) == [3])
        #expect(try f.store.voucher(f.voucher.id)?.last.index == 3)
        #expect(f.merchant.actor.waitingForBank.isEmpty)
    }

    /// Waiting has its limits: a forged coin is refused at once (it takes no place), a copy of
    /// a waiting payment takes its place, at most 16 wait on one voucher, and a bank that never
    /// answers releases the next in line (refused UNAVAILABLE, nothing delivered, nothing stranded).
    @Test mutating func waitingPaymentsAreCheckedBoundedAndReleasedOnADeadline() throws {
        var f = fixture(mode: .online)
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        func send(_ coins: [Coin], _ vouchers: [SignedVoucher] = [], id: UInt64) -> [Output] {
            f.merchant.send(Envelope(requestID: RequestID(Bytes16(high: 9, low: id)), body: .payment(try! Payment(coins: coins, vouchers: vouchers))), from: client, now: t0)
        }
        #expect(send([coin(1)], [f.voucher], id: 1).count == 1, "the first goes to the bank")
        // Forged (a value not on the chain): refused now, by the same check as at its turn.
        #expect(errorCode(onlyReply(send([Coin(voucherID: f.voucher.id, index: 2, value: .zero)], id: 2))) == .badChain)
        // The voucher is new with the payment at the bank and not stored yet: still checked.
        #expect(send([coin(2)], id: 3).isEmpty)
        #expect(send([coin(2)], id: 3).isEmpty, "a copy waits for the first's answer (the host's idempotency stage)")
        #expect(f.merchant.actor.waitingForBank.count == 1)
        for n in 4...18 { #expect(send([coin(n % 10 + 1)], id: UInt64(n)).isEmpty) }
        #expect(errorCode(onlyReply(send([coin(3)], id: 19))) == .overloaded, "a 17th on one voucher")
        // The bank never answers the first: it is refused UNAVAILABLE, and every payment behind it
        // gets its answer at once: the voucher came with the first and never reached this store,
        // so each is UNKNOWN_VOUCHER (a wallet sends the voucher again). None is left waiting.
        let timedOut = f.merchant.timeOut()
        let refusals = timedOut.compactMap { if case .reply(_, let e) = $0 { return (e.requestID, errorCode(e.body)) }; return nil }
        #expect(refusals.first?.0 == RequestID(Bytes16(high: 9, low: 1)) && refusals.first?.1 == .unavailable)
        #expect(refusals.count == 18, "the first, 16 waiting and the copy of one of them: \(refusals)")
        #expect(refusals.dropFirst().allSatisfy { $0.1 == .unknownVoucher })
        #expect(f.merchant.actor.waitingForBank.isEmpty)
        #expect(f.merchant.actor.vouchersWaiting.isEmpty)
        // With the voucher stored, the line moves on a deadline: the next one goes to the bank.
        #expect(send([coin(1)], [f.voucher], id: 30).count == 1)
        _ = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 9, low: 30)), body: .verifyCoinsReply(credited: Amount(paise: 500))), from: .bank)
        #expect(send([coin(2)], id: 31).count == 1, "nothing ahead: straight to the bank")
        #expect(send([coin(3)], id: 32).isEmpty)
        let second = f.merchant.timeOut()
        #expect(second.compactMap { if case .request(.bank, let e, _) = $0 { return e.requestID }; return nil } == [RequestID(Bytes16(high: 9, low: 32))])
    }

    /// A copy reaching the actor itself (the host forgot the request after its open timeout, and
    /// the client retried) takes the waiting payment's place; other content under its id is a
    /// CONFLICT.
    @Test mutating func aCopyOfAWaitingPaymentTakesItsPlace() throws {
        let f = fixture(mode: .online)
        var actor = f.merchant.actor
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        let first = Envelope(requestID: RequestID(Bytes16(high: 7, low: 1)), body: .payment(try Payment(coins: [coin(1)], vouchers: [f.voucher])))
        let second = Envelope(requestID: RequestID(Bytes16(high: 7, low: 2)), body: .payment(try Payment(coins: [coin(2)])))
        let other = Envelope(requestID: second.requestID, body: .payment(try Payment(coins: [coin(3)])))
        #expect(actor.handle(first, from: client, now: t0).outputs.count == 1)
        #expect(actor.handle(second, from: client, now: t0).outputs.isEmpty)
        let newer = ClientID([9, 9])
        #expect(actor.handle(second, from: newer, now: t0).outputs.isEmpty)
        #expect(actor.waitingForBank.map(\.client) == [newer])
        #expect(errorCode(onlyReply(actor.handle(other, from: client, now: t0).outputs)) == .conflict)
        #expect(actor.vouchersWaiting[f.voucher.id] == 1)
    }

    /// A group that fails puts the waiting line back as it was: the bank's answer is asked for
    /// again and releases the same payment.
    @Test mutating func aFailedGroupPutsTheWaitingLineBack() throws {
        var f = fixture(mode: .online)
        let coin = { (i: Int) in Coin(voucherID: f.voucher.id, index: i, value: f.chain.element(at: i)) }
        _ = f.merchant.send(Envelope(requestID: RequestID(Bytes16(high: 8, low: 1)), body: .payment(try Payment(coins: [coin(1)], vouchers: [f.voucher]))), from: client, now: t0)
        _ = f.merchant.send(Envelope(requestID: RequestID(Bytes16(high: 8, low: 2)), body: .payment(try Payment(coins: [coin(2)]))), from: client, now: t0)
        f.store.state.failNextCommit = true
        let failed = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 8, low: 1)), body: .verifyCoinsReply(credited: Amount(paise: 500))), from: .bank)
        #expect(!failed.contains { if case .request(.bank, _, _) = $0 { true } else { false } }, "nothing of a failed group leaves")
        #expect(f.merchant.actor.waitingForBank.count == 1)
        #expect(try f.store.voucher(f.voucher.id) == nil)
        let again = f.merchant.answer(Envelope(requestID: RequestID(Bytes16(high: 8, low: 1)), body: .verifyCoinsReply(credited: Amount(paise: 500))), from: .bank)
        #expect(again.compactMap { if case .request(.bank, let e, _) = $0 { return e.requestID }; return nil } == [RequestID(Bytes16(high: 8, low: 2))])
        #expect(try f.store.voucher(f.voucher.id)?.last.index == 1)
    }
}
