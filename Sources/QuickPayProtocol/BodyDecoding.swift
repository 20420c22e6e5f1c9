import Foundation
import QuickPayCore

extension Body {
    /// Maps a decoded proto body into validated values; MALFORMED for any rule broken.
    init(wire: Quickpay_V1_Envelope.OneOf_Body) throws(QuickPayError) {
        switch wire {
        case .payment(let m): self = .payment(try Payment(wire: m))
        case .paymentReply(let m): self = .paymentReply(try PaymentReply(wire: m))
        case .verifyCoins(let m): self = .verifyCoins(try VerifyCoins(wire: m))
        case .verifyCoinsReply(let m): self = .verifyCoinsReply(credited: try WireField.amount(m.creditedPaise, "credited_paise"))
        case .redeem(let m): self = .redeem(try Redeem(wire: m))
        case .redeemReply(let m): self = .redeemReply(try RedeemReply(wire: m))
        case .settle(let m): self = .settle(try Settle(wire: m))
        case .settleReply(let m): self = .settleReply(try SettleReply(wire: m))
        case .unload(let m): self = .unload(try UnloadRequest(wire: m))
        case .bankUnload(let m): self = .bankUnload(try UnloadRequest(wire: m))
        case .unloadReply(let m): self = .unloadReply(try UnloadReply(wire: m))
        case .withdraw(let m): self = .withdraw(try WithdrawRequest(wire: m))
        case .bankWithdraw(let m): self = .bankWithdraw(try WithdrawRequest(wire: m))
        case .withdrawReply(let m):
            self = .withdrawReply(
                Balances(bank: try WireField.amount(m.bankPaise, "bank_paise"), quickPay: try WireField.amount(m.quickpayPaise, "quickpay_paise")))
        case .register(let m): self = .register(try RegisterRequest(wire: m))
        case .registerReply(let m): self = .registerReply(username: try Username(m.username))
        case .login(let m):
            // Only the length bound is checked on a password here; the answer to a wrong one is
            // the same AUTHENTICATION_FAILED whether or not the user exists.
            self = .login(LoginRequest(username: try Username(m.username), password: try Password(m.password)))
        case .loginChallenge(let m):
            self = .loginChallenge(
                LoginChallenge(challengeID: ChallengeID(try WireField.bytes16(m.challengeID, "challenge_id")), expiresAt: WireField.timestamp(m.expiresAt)))
        case .otpSubmit(let m):
            self = .otpSubmit(OtpSubmit(challengeID: ChallengeID(try WireField.bytes16(m.challengeID, "challenge_id")), code: try OneTimeCode(m.otp)))
        case .otpResend(let m): self = .otpResend(ChallengeID(try WireField.bytes16(m.challengeID, "challenge_id")))
        case .sessionGranted(let m):
            self = .sessionGranted(
                SessionGranted(session: try WireField.sessionToken(m.sessionToken), expiresAt: WireField.timestamp(m.expiresAt), account: try WireField.accountID(m.accountID)))
        case .logout(let m): self = .logout(SessionRequest(session: try WireField.sessionToken(m.sessionToken)))
        case .smsSubmit(let m):
            self = .smsSubmit(
                SmsSubmit(phone: try PhoneNumber(m.phone), text: try WireField.text(m.text, "text", maximumBytes: SmsSubmit.maximumTextBytes)))
        case .smsAccepted(let m): self = .smsAccepted(smsID: try WireField.bytes16(m.smsID, "sms_id"))
        case .deviceAttach(let m): self = .deviceAttach(phone: try PhoneNumber(m.phone))
        case .smsDelivery(let m):
            self = .smsDelivery(
                SmsDelivery(
                    smsID: try WireField.bytes16(m.smsID, "sms_id"), phone: try PhoneNumber(m.phone),
                    text: try WireField.text(m.text, "text", maximumBytes: SmsSubmit.maximumTextBytes)))
        case .attachChallenge(let m):
            self = .attachChallenge(AttachChallenge(nonce: try WireField.bytes32(m.nonce, "nonce"), expiresAt: WireField.timestamp(m.expiresAt)))
        case .deviceAttachProof(let m):
            self = .deviceAttachProof(
                DeviceAttachProof(
                    phone: try PhoneNumber(m.phone), nonce: try WireField.bytes32(m.nonce, "nonce"), response: try WireField.bytes32(m.response, "response")))
        case .balance(let m): self = .balance(SessionRequest(session: try WireField.sessionToken(m.sessionToken)))
        case .balanceReply(let m):
            self = .balanceReply(
                Balances(bank: try WireField.amount(m.bankPaise, "bank_paise"), quickPay: try WireField.amount(m.quickpayPaise, "quickpay_paise")))
        case .load(let m): self = .load(try LoadRequest(wire: m))
        case .bankLoad(let m): self = .bankLoad(try LoadRequest(wire: m))
        case .loadReply(let m): self = .loadReply(try LoadReply(wire: m))
        case .voucherNotice(let m):
            guard m.hasVoucher else { throw QuickPayError(.malformed, "voucher_notice carries no voucher") }
            self = .voucherNotice(try SignedVoucher(wire: m.voucher))
        case .bankBalance(let m): self = .bankBalance(try WireField.accountID(m.accountID))
        case .bankAccountOwner(let m): self = .bankAccountOwner(try WireField.accountID(m.accountID), try WireField.role(m.role))
        case .accountOwner(let m): self = .accountOwner(phone: try PhoneNumber(m.phone))
        case .prepaidIssue(let m): self = .prepaidIssue(try PrepaidIssue(wire: m))
        case .prepaidCodes(let m):
            var codes: [String] = []
            for code in try WireField.count(m.codes, "codes", 0...PrepaidIssue.maximumCount) {
                codes.append(try WireField.text(code, "code", maximumBytes: PrepaidRedeem.maximumCodeBytes))
            }
            self = .prepaidCodes(codes)
        case .prepaidRedeem(let m): self = .prepaidRedeem(try PrepaidRedeem(wire: m))
        case .bankCredit(let m): self = .bankCredit(try BankCredit(wire: m))
        case .prepaidRedeemReply(let m):
            self = .prepaidRedeemReply(
                PrepaidRedeemReply(
                    credited: try WireField.amount(m.creditedPaise, "credited_paise"),
                    quickPay: try WireField.amount(m.quickpayPaise, "quickpay_paise")))
        case .modeQuery(let m): self = .modeQuery(try WireField.receiverID(m.receiverID))
        case .modeReply(let m): self = .modeReply(ModeReply(receiverID: try WireField.receiverID(m.receiverID), mode: try WireField.mode(m.mode)))
        case .refresh(let m): self = .refresh(try RefreshRequest(wire: m))
        case .bankRefresh(let m): self = .bankRefresh(try RefreshRequest(wire: m))
        case .refreshReply(let m): self = .refreshReply(try RefreshReply(wire: m))
        case .batch(let m): self = .batch(try Batch.frames(m.frames, "batch"))
        case .batchReply(let m): self = .batchReply(try Batch.frames(m.frames, "batch_reply"))
        case .error(let m): self = .error(try QuickPayError(wire: m))
        case .ack: self = .ack
        }
    }
}
