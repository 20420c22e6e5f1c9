import Foundation
import QuickPayCore

/// Every message of the QuickPay flows, as validated Swift values. One envelope carries one.
public enum Body: Hashable, Sendable {
    // M3 payment and online verification
    case payment(Payment)
    case paymentReply(PaymentReply)
    case verifyCoins(VerifyCoins)
    case verifyCoinsReply(credited: Amount)
    // M4 reimbursement
    case redeem(Redeem)
    case redeemReply(RedeemReply)
    case settle(Settle)
    case settleReply(SettleReply)
    case unload(UnloadRequest)
    case bankUnload(UnloadRequest)
    case unloadReply(UnloadReply)
    case withdraw(WithdrawRequest)
    case bankWithdraw(WithdrawRequest)
    case withdrawReply(Balances)
    // M1 registration and login
    case register(RegisterRequest)
    case registerReply(username: Username)
    case login(LoginRequest)
    case loginChallenge(LoginChallenge)
    case otpSubmit(OtpSubmit)
    case otpResend(ChallengeID)
    case sessionGranted(SessionGranted)
    case logout(SessionRequest)
    case smsSubmit(SmsSubmit)
    case smsAccepted(smsID: Bytes16)
    case deviceAttach(phone: PhoneNumber)
    case smsDelivery(SmsDelivery)
    case attachChallenge(AttachChallenge)
    case deviceAttachProof(DeviceAttachProof)
    // balance and M2 load
    case balance(SessionRequest)
    case balanceReply(Balances)
    case load(LoadRequest)
    case bankLoad(LoadRequest)
    case loadReply(LoadReply)
    case voucherNotice(SignedVoucher)
    case bankBalance(AccountID)
    case bankAccountOwner(AccountID, Role)
    case accountOwner(phone: PhoneNumber)
    // prepaid market codes
    case prepaidIssue(PrepaidIssue)
    case prepaidCodes([String])
    case prepaidRedeem(PrepaidRedeem)
    case bankCredit(BankCredit)
    case prepaidRedeemReply(PrepaidRedeemReply)
    // merchant mode, as the bank holds it
    case modeQuery(ReceiverID)
    case modeReply(ModeReply)
    // refresh of a blind voucher into new blind vouchers
    case refresh(RefreshRequest)
    case bankRefresh(RefreshRequest)
    case refreshReply(RefreshReply)
    // several requests to one server, and their answers: whole envelope frames (`Batch`)
    case batch([[UInt8]])
    case batchReply([[UInt8]])
    // outcomes
    case error(QuickPayError)
    case ack

    /// The message type's name, for logs and metrics (`payment`, `redeem_reply`, ...).
    public var typeName: String {
        switch self {
        case .payment: "payment"
        case .paymentReply: "payment_reply"
        case .verifyCoins: "verify_coins"
        case .verifyCoinsReply: "verify_coins_reply"
        case .redeem: "redeem"
        case .redeemReply: "redeem_reply"
        case .settle: "settle"
        case .settleReply: "settle_reply"
        case .unload: "unload"
        case .bankUnload: "bank_unload"
        case .unloadReply: "unload_reply"
        case .withdraw: "withdraw"
        case .bankWithdraw: "bank_withdraw"
        case .withdrawReply: "withdraw_reply"
        case .register: "register"
        case .registerReply: "register_reply"
        case .login: "login"
        case .loginChallenge: "login_challenge"
        case .otpSubmit: "otp_submit"
        case .otpResend: "otp_resend"
        case .sessionGranted: "session_granted"
        case .logout: "logout"
        case .smsSubmit: "sms_submit"
        case .smsAccepted: "sms_accepted"
        case .deviceAttach: "device_attach"
        case .smsDelivery: "sms_delivery"
        case .attachChallenge: "attach_challenge"
        case .deviceAttachProof: "device_attach_proof"
        case .balance: "balance"
        case .balanceReply: "balance_reply"
        case .load: "load"
        case .bankLoad: "bank_load"
        case .loadReply: "load_reply"
        case .voucherNotice: "voucher_notice"
        case .bankBalance: "bank_balance"
        case .bankAccountOwner: "bank_account_owner"
        case .accountOwner: "account_owner"
        case .prepaidIssue: "prepaid_issue"
        case .prepaidCodes: "prepaid_codes"
        case .prepaidRedeem: "prepaid_redeem"
        case .bankCredit: "bank_credit"
        case .prepaidRedeemReply: "prepaid_redeem_reply"
        case .modeQuery: "mode_query"
        case .modeReply: "mode_reply"
        case .refresh: "refresh"
        case .bankRefresh: "bank_refresh"
        case .refreshReply: "refresh_reply"
        case .batch: "batch"
        case .batchReply: "batch_reply"
        case .error: "error"
        case .ack: "ack"
        }
    }
}

/// Several requests to one server in one frame (PROTOCOL.md 2.1): a host sends the requests of
/// one group to a peer this way, and the peer answers each as if it had come alone, in one
/// `batchReply` of the answers it has at once.
public enum Batch {
    public static let maximumFrames = 256

    static func frames(_ wire: [Data], _ name: String) throws(QuickPayError) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for frame in try WireField.count(wire, name, 1...maximumFrames) {
            guard !frame.isEmpty else { throw QuickPayError(.malformed, "\(name): an empty frame") }
            frames.append(Array(frame))
        }
        return frames
    }

    static func wire(_ frames: [[UInt8]]) -> Quickpay_V1_Batch {
        var m = Quickpay_V1_Batch()
        m.frames = frames.map { Data($0) }
        return m
    }
}
