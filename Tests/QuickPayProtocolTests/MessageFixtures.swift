import QuickPayCore
@testable import QuickPayProtocol


typealias SeededGenerator = SplitMix64

/// One example of every message body, built from valid values.
struct MessageFixtures {
    var generator = SeededGenerator(seed: 2026)
    let voucher: SignedVoucher
    let chain: HashChain
    let merchant = try! ReceiverID("merchant-a")

    init() {
        let bank = BankSigner(privateKey: .random(using: &generator))
        chain = HashChain(seed: .random(using: &generator), length: try! ChainLength(50))
        voucher = bank.sign(
            VoucherCommitment(
                voucherID: .random(using: &generator), receiverID: merchant, denomination: .rs5, length: chain.length,
                root: chain.root, expiry: Timestamp(secondsSinceEpoch: 1_900_000_000),
                ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: bank.keyID))
    }

    mutating func coin(_ index: Int) -> Coin { Coin(voucherID: voucher.id, index: index, value: chain.element(at: index)) }

    mutating func allBodies() throws -> [Body] {
        let session = SessionToken.random(using: &generator)
        let account = try AccountID("ACC-42")
        let receiptKey = SigningPrivateKey.random(using: &generator)
        let receiptRoot = SignedReceiptCommitment.sign(
            ReceiptCommitment(voucherID: voucher.id, receiverID: merchant, length: chain.length, root: .random(using: &generator)),
            with: receiptKey)
        let chainRequest = ChainRequest(
            denomination: .rs10, length: try ChainLength(100), root: .random(using: &generator),
            ownerKey: SigningPrivateKey.random(using: &generator).publicKey)
        let authorization = UnloadAuthorization.sign(
            unloadID: .random(using: &generator), voucherID: voucher.id, destination: .bankAccount,
            ownerKey: .random(using: &generator))
        let phone = try PhoneNumber("+919876543210")
        let balances = Balances(bank: Amount(paise: 123_456), quickPay: Amount(paise: 700))
        return [
            .payment(try Payment(coins: [coin(3)], vouchers: [voucher], order: "one song")),
            .paymentReply(PaymentReply(
                receipts: [Receipt(voucherID: voucher.id, index: 3, value: .random(using: &generator))],
                receiptRoots: [receiptRoot], service: Array("la la la".utf8), amount: Amount(paise: 1500))),
            .verifyCoins(VerifyCoins(receiverID: merchant, coins: [coin(4)], vouchers: [voucher])),
            .verifyCoinsReply(credited: Amount(paise: 500)),
            .redeem(Redeem(receiverID: merchant, coins: [coin(9)])),
            .redeemReply(RedeemReply(
                results: [
                    RedeemResult(voucherID: voucher.id, credited: Amount(paise: 4500), error: nil),
                    RedeemResult(voucherID: .random(using: &generator), credited: .zero, error: QuickPayError(.badChain, "no")),
                ], totalCredited: Amount(paise: 4500))),
            .settle(Settle(voucherID: voucher.id)),
            .settleReply(SettleReply(voucherID: voucher.id, last: ChainPosition(index: 9, value: chain.element(at: 9)))),
            .unload(UnloadRequest(session: session, authorization: authorization)),
            .bankUnload(UnloadRequest(account: account, authorization: authorization)),
            .unloadReply(UnloadReply(voucherID: voucher.id, refunded: Amount(paise: 20_500), finalIndex: 9, pendingUntil: nil)),
            .withdraw(WithdrawRequest(session: session, amount: Amount(paise: 10_000))),
            .bankWithdraw(WithdrawRequest(account: account, amount: Amount(paise: 10_000))),
            .withdrawReply(balances),
            .register(RegisterRequest(
                username: try Username("alice"), password: try Password("correct horse battery"), phone: phone,
                bankAccount: account, role: .customer)),
            .registerReply(username: try Username("alice")),
            .login(LoginRequest(username: try Username("alice"), password: try Password("correct horse battery"))),
            .loginChallenge(LoginChallenge(challengeID: .random(using: &generator), expiresAt: Timestamp(secondsSinceEpoch: 1_800_000_300))),
            .otpSubmit(OtpSubmit(challengeID: .random(using: &generator), code: try OneTimeCode("012345"))),
            .otpResend(.random(using: &generator)),
            .sessionGranted(SessionGranted(session: session, expiresAt: Timestamp(secondsSinceEpoch: 1_800_003_600), account: try AccountID("ACC-ALICE"))),
            .logout(SessionRequest(session: session)),
            .smsSubmit(SmsSubmit(phone: phone, text: "Your QuickPay code is 012345")),
            .smsAccepted(smsID: .random(using: &generator)),
            .deviceAttach(phone: phone),
            .smsDelivery(SmsDelivery(smsID: .random(using: &generator), phone: phone, text: "Your QuickPay code is 012345")),
            .balance(SessionRequest(session: session)),
            .balanceReply(balances),
            .load(LoadRequest(session: session, receiverID: merchant, chains: [chainRequest])),
            .bankLoad(LoadRequest(account: account, receiverID: merchant, chains: [chainRequest])),
            .loadReply(LoadReply(vouchers: [voucher], debited: voucher.commitment.faceValue)),
            .voucherNotice(voucher),
            .bankBalance(account),
            .prepaidIssue(PrepaidIssue(count: 10, amount: Amount(paise: 50_000))),
            .prepaidCodes(["QP-ABCD-EFGH-IJKL-MNOP", "QP-QRST-UVWX-YZ23-4567"]),
            .prepaidRedeem(PrepaidRedeem(session: session, code: "QP-ABCD-EFGH-IJKL-MNOP")),
            .bankCredit(BankCredit(account: account, amount: Amount(paise: 50_000), codeHash: .random(using: &generator))),
            .prepaidRedeemReply(PrepaidRedeemReply(credited: Amount(paise: 50_000), quickPay: Amount(paise: 50_700))),
            .attachChallenge(AttachChallenge(nonce: .random(using: &generator), expiresAt: Timestamp(secondsSinceEpoch: 1_800_000_060))),
            .deviceAttachProof(DeviceAttachProof(phone: phone, nonce: .random(using: &generator), response: .random(using: &generator))),
            .bankAccountOwner(account, .customer),
            .accountOwner(phone: phone),
            .modeQuery(merchant),
            .modeReply(ModeReply(receiverID: merchant, mode: .online)),
            .error(QuickPayError(.replayedCoin, "index 3 is not above the last accepted 3")),
            .ack,
            .batch([
                WireCodec().encode(Envelope(requestID: .random(using: &generator), body: .modeQuery(merchant))),
                WireCodec().encode(Envelope(requestID: .random(using: &generator), body: .bankBalance(account))),
            ]),
            .batchReply([WireCodec().encode(Envelope(requestID: .random(using: &generator), body: .ack))]),
        ] + blindBodies(session: session, account: account)
    }

    /// The blind scheme's messages: a blind voucher (sizes as RFC 9474 with RSA-2048 makes
    /// them; the decoder checks shapes, not signatures), blinded loads and refreshes.
    mutating func blindBodies(session: SessionToken, account: AccountID) -> [Body] {
        let keyID = KeyID((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })!
        let rsa = { (generator: inout SeededGenerator) in (0..<256).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let commitment = VoucherCommitment(
            scheme: .blindRSA, voucherID: .random(using: &generator), receiverID: merchant, denomination: .rs10, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 1_900_000_000), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: keyID)
        let blind = SignedVoucher(commitment: commitment, proof: .blindRSA(prefix: .random(using: &generator), signature: rsa(&generator)))
        let blinded = [BlindedChain(keyID: keyID, blindedMessage: rsa(&generator)), BlindedChain(keyID: keyID, blindedMessage: rsa(&generator))]
        let owner = SigningPrivateKey.random(using: &generator)
        let unload = UnloadAuthorization.sign(unloadID: .random(using: &generator), voucherID: blind.id, destination: .refresh, ownerKey: owner)
        let refresh = RefreshAuthorization.sign(refreshID: .random(using: &generator), voucherID: blind.id, blinded: blinded.map { ($0.keyID, $0.blindedMessage) }, ownerKey: owner)
        return [
            .payment(try! Payment(coins: [Coin(voucherID: blind.id, index: 2, value: chain.element(at: 2))], vouchers: [blind])),
            .load(LoadRequest(session: session, content: .blinded(blinded))),
            .bankLoad(LoadRequest(account: account, content: .blinded(blinded))),
            .loadReply(LoadReply(blindSignatures: [rsa(&generator), rsa(&generator)], debited: Amount(paise: 100_000))),
            .redeem(Redeem(receiverID: merchant, coins: [Coin(voucherID: blind.id, index: 7, value: chain.element(at: 7))], vouchers: [blind])),
            .bankUnload(UnloadRequest(account: account, authorization: unload, voucher: blind)),
            .refresh(RefreshRequest(session: session, authorization: refresh, blinded: blinded)),
            .bankRefresh(RefreshRequest(authorization: refresh, blinded: blinded)),
            .refreshReply(RefreshReply(voucherID: blind.id, blindSignatures: [rsa(&generator)], refreshed: Amount(paise: 5_000))),
        ]
    }
}
