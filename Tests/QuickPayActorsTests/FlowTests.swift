import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// Every flow of the paper between the five pure actors: register, login with the OTP that
/// arrives by SMS, load, pay with receipts, redeem, unload; in both merchant modes.
struct FlowTests {
    let alice = ClientID(Array("alice-phone".utf8))
    let shop = try! ReceiverID("chai-stall")
    let shopAccount = try! AccountID("ACC-CHAI")
    let aliceAccount = try! AccountID("ACC-ALICE")
    let phone = try! PhoneNumber("+919800000001")

    /// Registers and logs alice in; returns her session token.
    func logIn(_ net: inout InMemoryNetwork) throws -> SessionToken {
        try net.bankStore.open(aliceAccount, deposit: rupees(500), phone: phone)
        let registered = net.register(RegisterRequest(username: try Username("alice"), password: try Password("correct horse battery"), phone: phone, bankAccount: aliceAccount, role: .customer), device: alice)
        #expect(registered == .registerReply(username: try Username("alice")))
        let merchant = ClientID(Array("shop".utf8))
        let owner = net.register(RegisterRequest(username: try Username("chai-stall"), password: try Password("merchant password"), phone: InMemoryNetwork.ownerPhone(0), bankAccount: shopAccount, role: .merchant), device: merchant)
        #expect(owner == .registerReply(username: try Username("chai-stall")))
        let challengeReply = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice)
        guard case .loginChallenge(let challenge)? = challengeReply.first else { throw QuickPayError(.internal, "login answered \(challengeReply)") }
        // The code arrives on alice's phone, through the network provider.
        guard case .smsDelivery(let sms)? = net.pushes[alice]?.last else { throw QuickPayError(.internal, "no SMS") }
        let code = try OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6)))
        let granted = net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: alice)
        guard case .sessionGranted(let session)? = granted.first else { throw QuickPayError(.internal, "otp answered \(granted)") }
        return session.session
    }

    @Test(arguments: [MerchantMode.offline, .online])
    func happyPathConservesMoney(mode: MerchantMode) throws {
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, mode)])
        let session = try logIn(&net)
        var wallet = Wallet()
        var random = SeededGenerator(seed: 40)
        let prepared = try Wallet.prepareLoad(counts: [.rs50: 1, .rs10: 3, .rs5: 2, .rs1: 10], using: &random)
        let loaded = net.send(.load(LoadRequest(session: session, receiverID: shop, chains: prepared.map(\.request))), from: alice)
        guard case .loadReply(let reply)? = loaded.first else { Issue.record("load: \(loaded)"); return }
        try wallet.acceptLoad(reply, prepared: prepared, keyring: BankKeyring([net.bankKey]), receiver: shop, now: net.now)
        #expect(wallet.balance(at: shop, now: net.now) == rupees(100))
        #expect(net.pushes[alice]?.filter { if case .voucherNotice = $0 { return true } else { return false } }.count == 4)

        var paid = Amount.zero
        for amount in [1, 7, 12, 50, 3, 6] as [Int64] {
            let plan = try wallet.planPayment(to: shop, amount: rupees(amount), now: net.now)
            wallet.markSent(plan)
            let answer = net.send(.payment(plan.payment), to: .merchant(shop), from: alice)
            guard case .paymentReply(let receipt)? = answer.first else { Issue.record("pay \(amount): \(answer)"); return }
            try wallet.acceptReceipts(receipt, for: plan)
            paid = try paid.adding(receipt.amount)
        }
        #expect(paid == rupees(79))
        net.redeem(shop)
        #expect(try net.bankStore.balance(.quickPay(shopAccount)) == rupees(79))

        // Unload everything left to the bank account.
        for entry in wallet.vouchers.values where entry.remaining > 0 {
            let authorization = try wallet.unload(entry.id, destination: .bankAccount, unloadID: .random(using: &random))
            let answer = net.send(.unload(UnloadRequest(session: session, authorization: authorization)), from: alice)
            guard case .unloadReply(let unloaded)? = answer.first else { Issue.record("unload: \(answer)"); return }
            #expect(unloaded.refunded == (try entry.denomination.value(ofCoins: entry.remaining)))
        }
        #expect(try net.bankStore.balance(.bank(aliceAccount)) == rupees(500 - 79))
        #expect(try net.bankStore.balance(.voucherFloat) == .zero)
        net.bankStore.checkLedger()
    }

    @Test func wrongPasswordAndUnknownUserGetTheSameAnswer() throws {
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, .offline)])
        _ = try logIn(&net)
        let wrong = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("wrong password"))), from: alice)
        let unknown = net.send(.login(LoginRequest(username: try Username("mallory"), password: try Password("wrong password"))), from: alice)
        #expect(wrong == unknown)
        #expect(errorCode(wrong.first) == .authenticationFailed)
    }

    @Test func theSixthTryFailsEvenWithTheRightCode() throws {
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, .offline)])
        _ = try logIn(&net)
        let challengeReply = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice)
        guard case .loginChallenge(let challenge)? = challengeReply.first, case .smsDelivery(let sms)? = net.pushes[alice]?.last else {
            Issue.record("no challenge")
            return
        }
        let right = try OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6)))
        let wrongDigits = right.digits == "000000" ? "111111" : "000000"
        for _ in 0..<5 {
            #expect(errorCode(net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try OneTimeCode(wrongDigits))), from: alice).first) == .otpInvalid)
        }
        #expect(errorCode(net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: right)), from: alice).first) == .lockedOut)
    }

    @Test func anOTPIsSingleUseAndExpires() throws {
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, .offline)])
        _ = try logIn(&net)
        let challengeReply = net.send(.login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))), from: alice)
        guard case .loginChallenge(let challenge)? = challengeReply.first, case .smsDelivery(let sms)? = net.pushes[alice]?.last else {
            Issue.record("no challenge: \(challengeReply)")
            return
        }
        let code = try OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6)))
        net.now = net.now.adding(seconds: 301)
        #expect(errorCode(net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: alice).first) == .otpExpired)
        net.now = t0
        let first = net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: alice)
        guard case .sessionGranted? = first.first else { Issue.record("\(first)"); return }
        #expect(errorCode(net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: alice).first) == .otpInvalid)
    }

    @Test func forgedSessionsAndUnregisteredAccountsAreRefused() throws {
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, .offline)])
        _ = try logIn(&net)
        var random = SeededGenerator(seed: 41)
        #expect(errorCode(net.send(.balance(SessionRequest(session: .random(using: &random))), from: alice).first) == .sessionInvalid)
        // An unknown account and someone else's account get the same refusal (no oracle).
        let stranger = net.send(.register(RegisterRequest(username: try Username("eve"), password: try Password("password123"), phone: try PhoneNumber("+919800000009"), bankAccount: try AccountID("ACC-NONE"), role: .customer)), from: alice)
        #expect(errorCode(stranger.first) == .forbidden)
        #expect(try net.appStore.user(try Username("eve")) == nil)
    }

    @Test func merchantRefusesReplayedForgedAndForeignCoinsAndChangesNothing() throws {
        let other = try ReceiverID("book-shop")
        var net = try InMemoryNetwork(merchants: [(shop, shopAccount, .offline), (other, try AccountID("ACC-BOOK"), .offline)])
        let session = try logIn(&net)
        var wallet = Wallet()
        var random = SeededGenerator(seed: 42)
        let prepared = try Wallet.prepareLoad(counts: [.rs5: 10], using: &random)
        guard case .loadReply(let reply)? = net.send(.load(LoadRequest(session: session, receiverID: shop, chains: prepared.map(\.request))), from: alice).first else {
            Issue.record("load refused")
            return
        }
        try wallet.acceptLoad(reply, prepared: prepared, keyring: BankKeyring([net.bankKey]), receiver: shop, now: net.now)
        let plan = try wallet.planPayment(to: shop, amount: rupees(10), now: net.now)
        wallet.markSent(plan)
        _ = net.send(.payment(plan.payment), to: .merchant(shop), from: alice)
        let before = try net.merchantStores[shop]!.allVouchers()
        // Replay (a new request id, the same coin), a forged next coin, the voucher at another shop.
        #expect(errorCode(net.send(.payment(plan.payment), to: .merchant(shop), from: alice).first) == .replayedCoin)
        let forged = try Payment(coins: [Coin(voucherID: reply.vouchers[0].id, index: 3, value: .random(using: &random))])
        #expect(errorCode(net.send(.payment(forged), to: .merchant(shop), from: alice).first) == .badChain)
        let elsewhere = try Payment(coins: [plan.payment.coins[0]], vouchers: [reply.vouchers[0]])
        #expect(errorCode(net.send(.payment(elsewhere), to: .merchant(other), from: alice).first) == .wrongReceiver)
        #expect(try net.merchantStores[shop]!.allVouchers() == before)
        #expect(try net.merchantStores[other]!.allVouchers().isEmpty)
    }
}
