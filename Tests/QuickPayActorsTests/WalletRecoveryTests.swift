import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// The wallet's recovery, as a pure state machine: an operation that left the wallet stays
/// pending until an answer from whoever decides settles it (defects 1, 5 and 7 of "Effects,
/// not calls").
struct WalletRecoveryTests {
    var random = SeededGenerator(seed: 90)
    let shop = try! ReceiverID("chai-stall")
    let signer = BankSigner(privateKey: SigningPrivateKey(seed: Bytes32.sha256(of: Array("wallet-recovery-bank".utf8))))
    var keyring: BankKeyring { BankKeyring([signer.privateKey.publicKey]) }

    /// What the bank would answer to a load, signed.
    func loadReply(_ load: PendingLoad, expiry: Timestamp = t0.adding(seconds: 3600)) -> Body {
        var ids = SeededGenerator(seed: 92)
        let vouchers = load.chains.map { chain in
            signer.sign(VoucherCommitment(
                voucherID: .random(using: &ids), receiverID: load.receiver, denomination: chain.request.denomination, length: chain.request.length,
                root: chain.request.root, expiry: expiry, ownerKey: chain.request.ownerKey, keyID: signer.keyID))
        }
        return .loadReply(LoadReply(vouchers: vouchers, debited: try! Amount.sum(vouchers.map(\.commitment.faceValue))))
    }

    func error(_ code: ErrorCode, from origin: ActorRole) -> Body { .error(QuickPayError(code, "test", origin: origin)) }

    /// Defect 1: the bank may have debited a load whose answer was lost; a refusal by the app
    /// server of the resumed retry (a session that expired meanwhile) must not clear the record.
    @Test mutating func onlyTheBankEndsAPendingLoad() throws {
        var wallet = Wallet()
        let load = try wallet.beginLoad(counts: [.rs10: 5], receiver: shop, using: &random)
        guard case .unknown = wallet.finishLoad(nil, keyring: keyring, now: t0) else { Issue.record("no answer ended the load"); return }
        for (code, origin) in [(ErrorCode.sessionInvalid, ActorRole.appServer), (.overloaded, .appServer), (.unavailable, .bank), (.internal, .bank)] {
            guard case .unknown = wallet.finishLoad(error(code, from: origin), keyring: keyring, now: t0) else {
                Issue.record("\(code) from the \(origin) ended a load the bank may have debited")
                return
            }
            #expect(wallet.pendingLoad == PendingLoad(requestID: load.requestID, receiver: shop, chains: load.chains, state: .unknown))
        }
        // A new load waits until this one is settled.
        #expect(throws: QuickPayError.self) { _ = try wallet.beginLoad(counts: [.rs1: 1], receiver: shop, using: &random) }
        // The bank's answer to the retry (same id) brings the vouchers.
        guard case .done = wallet.finishLoad(loadReply(load), keyring: keyring, now: t0) else { Issue.record("the bank's answer did not settle the load"); return }
        #expect(wallet.pendingLoad == nil)
        #expect(wallet.balance(at: shop, now: t0) == rupees(50))
    }

    /// A refusal of the request's content (an unknown receiver, a limit) is the same for every
    /// copy: none reached the bank. One that depends on the moment (the session, an id in use)
    /// proves nothing even on a first attempt: another copy of it may have reached the bank.
    @Test mutating func onlyAContentRefusalOfTheAppServerEndsALoad() throws {
        var wallet = Wallet()
        _ = try wallet.beginLoad(counts: [.rs10: 5], receiver: shop, using: &random)
        for code in [ErrorCode.sessionInvalid, .conflict] {
            guard case .unknown = wallet.finishLoad(error(code, from: .appServer), keyring: keyring, now: t0) else { Issue.record("\(code) ended it"); return }
        }
        guard case .refused = wallet.finishLoad(error(.unknownReceiver, from: .appServer), keyring: keyring, now: t0) else { Issue.record("kept"); return }
        #expect(wallet.pendingLoad == nil)
        // The bank's own refusal ends a load whatever happened before.
        _ = try wallet.beginLoad(counts: [.rs10: 5], receiver: shop, using: &random)
        _ = wallet.finishLoad(nil, keyring: keyring, now: t0)
        guard case .refused = wallet.finishLoad(error(.insufficientFunds, from: .bank), keyring: keyring, now: t0) else { Issue.record("kept"); return }
        #expect(wallet.pendingLoad == nil)
    }

    mutating func loadedWallet(expiry: Timestamp = t0.adding(seconds: 3600)) throws -> Wallet {
        var wallet = Wallet()
        let load = try wallet.beginLoad(counts: [.rs1: 10], receiver: shop, using: &random)
        guard case .done = wallet.finishLoad(loadReply(load, expiry: expiry), keyring: keyring, now: t0) else { throw QuickPayError(.internal, "load") }
        return wallet
    }

    /// Defect 7: an online merchant's INTERNAL (the bank may have credited the coins) keeps the
    /// payment pending; only a refusal of the merchant's or the bank's own gives the coins back.
    @Test mutating func anInternalErrorKeepsThePaymentPending() throws {
        var wallet = try loadedWallet()
        _ = try wallet.beginPayment(to: shop, amount: rupees(2), now: t0, using: &random)
        for answer in [error(.internal, from: .merchant), error(.unavailable, from: .merchant), nil, .error(QuickPayError(.voucherClosed, "no origin"))] {
            guard case .unknown = wallet.finishPayment(at: shop, answer) else { Issue.record("\(String(describing: answer)) ended the payment"); return }
            #expect(wallet.vouchers.values.first?.spent == 2, "coins the merchant may hold went back to the wallet")
        }
        #expect(throws: QuickPayError.self) { _ = try wallet.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random) }
        // A refusal decided by the bank (relayed by the online merchant) gives them back.
        guard case .refused = wallet.finishPayment(at: shop, error(.voucherClosed, from: .bank)) else { Issue.record("not refused"); return }
        #expect(wallet.vouchers.values.first?.spent == 0)
    }

    /// A payment's request id is time-ordered (UUIDv7 with the wallet's time): the merchant's
    /// index of kept answers then grows at its end.
    @Test mutating func aPaymentsRequestIDCarriesTheWalletsTime() throws {
        var wallet = try loadedWallet()
        let payment = try wallet.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        #expect(payment.requestID.unixMilliseconds == t0.secondsSinceEpoch * 1000)
    }

    /// REPLAYED_COIN for the wallet's own payment means an earlier attempt got there: the coins
    /// are the merchant's, not the wallet's again.
    @Test mutating func aReplayedCoinAnswerKeepsTheCoinsSpent() throws {
        var wallet = try loadedWallet()
        _ = try wallet.beginPayment(to: shop, amount: rupees(3), now: t0, using: &random)
        _ = wallet.finishPayment(at: shop, nil)
        guard case .takenWithoutReceipt = wallet.finishPayment(at: shop, error(.replayedCoin, from: .merchant)) else { Issue.record("wrong outcome"); return }
        #expect(wallet.vouchers.values.first?.spent == 3)
        #expect(wallet.pendingPayments.isEmpty)
    }

    /// Defect 7: an expired voucher is never planned.
    @Test mutating func expiredVouchersAreNotPlanned() throws {
        let wallet = try loadedWallet(expiry: t0.adding(seconds: 60))
        #expect(wallet.balance(at: shop, now: t0.adding(seconds: 61)) == .zero)
        #expect(throws: QuickPayError.self) { _ = try wallet.planPayment(to: shop, amount: rupees(1), now: t0.adding(seconds: 61)) }
        #expect(throws: Never.self) { _ = try wallet.planPayment(to: shop, amount: rupees(1), now: t0) }
    }

    /// Defect 5: an unload the bank answers "pending" is not done: it stays pending, its voucher
    /// is not spent, and the next unload sends it again with its first destination.
    @Test mutating func aPendingUnloadIsRetriedUntilRefunded() throws {
        var wallet = try loadedWallet()
        let voucher = try #require(wallet.vouchers.values.first)
        let unloads = wallet.beginUnloads(destination: .quickPayBalance)
        #expect(unloads.map(\.voucherID) == [voucher.id])
        let pending = Body.unloadReply(UnloadReply(voucherID: voucher.id, refunded: .zero, finalIndex: 0, pendingUntil: t0.adding(seconds: 86_400)))
        guard case .unknown = wallet.finishUnload(voucher.id, pending) else { Issue.record("a pending unload ended"); return }
        #expect(wallet.vouchers[voucher.id]?.unloaded == false)
        #expect(wallet.balance(at: shop, now: t0) == .zero, "a voucher being unloaded was still spendable")
        let again = wallet.beginUnloads(destination: .bankAccount)
        #expect(again.map(\.destination) == [.quickPayBalance])
        #expect(again.map(\.unloadID) == unloads.map(\.unloadID))
        let refunded = Body.unloadReply(UnloadReply(voucherID: voucher.id, refunded: rupees(10), finalIndex: 0, pendingUntil: nil))
        guard case .done = wallet.finishUnload(voucher.id, refunded) else { Issue.record("the refund did not end the unload"); return }
        #expect(wallet.vouchers[voucher.id]?.unloaded == true)
        #expect(wallet.pendingUnloads.isEmpty)
    }

    /// Receipts are checked from the last one checked, one hash per coin: a receipt off the
    /// merchant's chain is refused, and the check really starts from the kept value (a wallet
    /// whose kept value is wrong refuses the next true receipt).
    @Test mutating func receiptsAreCheckedFromTheLastOne() throws {
        var wallet = try loadedWallet()
        let merchantKey = SigningPrivateKey(seed: Bytes32.sha256(of: Array("receipt-test-merchant".utf8)))
        let voucherID = try #require(wallet.vouchers.keys.first)
        let chain = HashChain(seed: Bytes32.sha256(of: Array("receipt chain".utf8)), length: try ChainLength(10))
        let root = SignedReceiptCommitment.sign(ReceiptCommitment(voucherID: voucherID, receiverID: shop, length: chain.length, root: chain.root), with: merchantKey)
        func reply(_ index: Int, _ value: Bytes32, root: SignedReceiptCommitment?) -> Body {
            .paymentReply(PaymentReply(receipts: [Receipt(voucherID: voucherID, index: index, value: value)], receiptRoots: root.map { [$0] } ?? [], service: [], amount: rupees(1)))
        }
        _ = try wallet.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        guard case .done = wallet.finishPayment(at: shop, reply(1, chain.element(at: 1), root: root)) else { Issue.record("receipt 1 refused"); return }
        #expect(wallet.vouchers[voucherID]?.lastReceiptValue == chain.element(at: 1))
        _ = try wallet.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        guard case .done = wallet.finishPayment(at: shop, reply(2, chain.element(at: 2), root: nil)) else { Issue.record("receipt 2 refused"); return }
        _ = try wallet.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        guard case .takenWithoutReceipt = wallet.finishPayment(at: shop, reply(3, .random(using: &random), root: nil)) else { Issue.record("a forged receipt taken"); return }
        var tampered = try loadedWallet()
        let tamperedID = try #require(tampered.vouchers.keys.first)
        let tamperedRoot = SignedReceiptCommitment.sign(ReceiptCommitment(voucherID: tamperedID, receiverID: shop, length: chain.length, root: chain.root), with: merchantKey)
        _ = try tampered.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        guard case .done = tampered.finishPayment(at: shop, .paymentReply(PaymentReply(
            receipts: [Receipt(voucherID: tamperedID, index: 1, value: chain.element(at: 1))], receiptRoots: [tamperedRoot], service: [], amount: rupees(1))))
        else { Issue.record("receipt 1 refused"); return }
        tampered.vouchers[tamperedID]?.lastReceiptValue = .random(using: &random)
        _ = try tampered.beginPayment(to: shop, amount: rupees(1), now: t0, using: &random)
        guard case .takenWithoutReceipt = tampered.finishPayment(at: shop, .paymentReply(PaymentReply(
            receipts: [Receipt(voucherID: tamperedID, index: 2, value: chain.element(at: 2))], receiptRoots: [], service: [], amount: rupees(1))))
        else { Issue.record("checked from the root, not from the kept receipt"); return }
    }

}
