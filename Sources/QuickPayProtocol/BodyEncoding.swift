import Foundation
import QuickPayCore

extension Body {
    /// The proto body for this message. Never fails: every value was validated when built.
    var wire: Quickpay_V1_Envelope.OneOf_Body {
        switch self {
        case .payment(let v): return .payment(v.wire)
        case .paymentReply(let v): return .paymentReply(v.wire)
        case .verifyCoins(let v): return .verifyCoins(v.wire)
        case .verifyCoinsReply(let credited):
            var m = Quickpay_V1_VerifyCoinsReply()
            m.creditedPaise = credited.paise
            return .verifyCoinsReply(m)
        case .redeem(let v): return .redeem(v.wire)
        case .redeemReply(let v): return .redeemReply(v.wire)
        case .settle(let v): return .settle(v.wire)
        case .settleReply(let v): return .settleReply(v.wire)
        case .unload(let v): return .unload(v.sessionWire)
        case .bankUnload(let v): return .bankUnload(v.bankWire)
        case .unloadReply(let v): return .unloadReply(v.wire)
        case .withdraw(let v):
            var m = Quickpay_V1_WithdrawRequest()
            m.sessionToken = Data(v.session?.raw ?? Bytes16(high: 0, low: 0))
            m.amountPaise = v.amount.paise
            return .withdraw(m)
        case .bankWithdraw(let v):
            var m = Quickpay_V1_BankWithdrawRequest()
            m.accountID = v.account?.value ?? ""
            m.amountPaise = v.amount.paise
            return .bankWithdraw(m)
        case .withdrawReply(let v):
            var m = Quickpay_V1_WithdrawReply()
            m.bankPaise = v.bank.paise
            m.quickpayPaise = v.quickPay.paise
            return .withdrawReply(m)
        case .register(let v): return .register(v.wire)
        case .registerReply(let username):
            var m = Quickpay_V1_RegisterReply()
            m.username = username.value
            return .registerReply(m)
        case .login(let v):
            var m = Quickpay_V1_LoginRequest()
            m.username = v.username.value
            m.password = v.password.value
            return .login(m)
        case .loginChallenge(let v):
            var m = Quickpay_V1_LoginChallenge()
            m.challengeID = Data(v.challengeID.raw)
            m.expiresAt = v.expiresAt.secondsSinceEpoch
            return .loginChallenge(m)
        case .otpSubmit(let v):
            var m = Quickpay_V1_OtpSubmit()
            m.challengeID = Data(v.challengeID.raw)
            m.otp = v.code.digits
            return .otpSubmit(m)
        case .otpResend(let challengeID):
            var m = Quickpay_V1_OtpResend()
            m.challengeID = Data(challengeID.raw)
            return .otpResend(m)
        case .sessionGranted(let v):
            var m = Quickpay_V1_SessionGranted()
            m.sessionToken = Data(v.session.raw)
            m.expiresAt = v.expiresAt.secondsSinceEpoch
            m.accountID = v.account.value
            return .sessionGranted(m)
        case .logout(let v):
            var m = Quickpay_V1_Logout()
            m.sessionToken = Data(v.session.raw)
            return .logout(m)
        case .smsSubmit(let v):
            var m = Quickpay_V1_SmsSubmit()
            m.phone = v.phone.value
            m.text = v.text
            return .smsSubmit(m)
        case .smsAccepted(let smsID):
            var m = Quickpay_V1_SmsAccepted()
            m.smsID = Data(smsID)
            return .smsAccepted(m)
        case .deviceAttach(let phone):
            var m = Quickpay_V1_DeviceAttach()
            m.phone = phone.value
            return .deviceAttach(m)
        case .smsDelivery(let v):
            var m = Quickpay_V1_SmsDelivery()
            m.smsID = Data(v.smsID)
            m.phone = v.phone.value
            m.text = v.text
            return .smsDelivery(m)
        case .attachChallenge(let v):
            var m = Quickpay_V1_AttachChallenge()
            m.nonce = Data(v.nonce.bytes)
            m.expiresAt = v.expiresAt.secondsSinceEpoch
            return .attachChallenge(m)
        case .deviceAttachProof(let v):
            var m = Quickpay_V1_DeviceAttachProof()
            m.phone = v.phone.value
            m.nonce = Data(v.nonce.bytes)
            m.response = Data(v.response.bytes)
            return .deviceAttachProof(m)
        case .balance(let v):
            var m = Quickpay_V1_BalanceRequest()
            m.sessionToken = Data(v.session.raw)
            return .balance(m)
        case .balanceReply(let v):
            var m = Quickpay_V1_BalanceReply()
            m.bankPaise = v.bank.paise
            m.quickpayPaise = v.quickPay.paise
            return .balanceReply(m)
        case .load(let v): return .load(v.sessionWire)
        case .bankLoad(let v): return .bankLoad(v.bankWire)
        case .loadReply(let v): return .loadReply(v.wire)
        case .voucherNotice(let voucher):
            var m = Quickpay_V1_VoucherNotice()
            m.voucher = voucher.wire
            return .voucherNotice(m)
        case .bankBalance(let account):
            var m = Quickpay_V1_BankBalanceRequest()
            m.accountID = account.value
            return .bankBalance(m)
        case .bankAccountOwner(let account, let role):
            var m = Quickpay_V1_BankAccountOwner()
            m.accountID = account.value
            m.role = WireField.wire(role)
            return .bankAccountOwner(m)
        case .accountOwner(let phone):
            var m = Quickpay_V1_AccountOwner()
            m.phone = phone.value
            return .accountOwner(m)
        case .prepaidIssue(let v):
            var m = Quickpay_V1_PrepaidIssue()
            m.count = UInt32(v.count)
            m.amountPaise = v.amount.paise
            return .prepaidIssue(m)
        case .prepaidCodes(let codes):
            var m = Quickpay_V1_PrepaidCodes()
            m.codes = codes
            return .prepaidCodes(m)
        case .prepaidRedeem(let v):
            var m = Quickpay_V1_PrepaidRedeem()
            m.sessionToken = Data(v.session.raw)
            m.code = v.code
            return .prepaidRedeem(m)
        case .bankCredit(let v):
            var m = Quickpay_V1_BankCredit()
            m.accountID = v.account.value
            m.amountPaise = v.amount.paise
            m.codeHash = Data(v.codeHash)
            return .bankCredit(m)
        case .prepaidRedeemReply(let v):
            var m = Quickpay_V1_PrepaidRedeemReply()
            m.creditedPaise = v.credited.paise
            m.quickpayPaise = v.quickPay.paise
            return .prepaidRedeemReply(m)
        case .modeQuery(let receiver):
            var m = Quickpay_V1_ModeQuery()
            m.receiverID = receiver.value
            return .modeQuery(m)
        case .refresh(let v): return .refresh(v.sessionWire)
        case .bankRefresh(let v): return .bankRefresh(v.bankWire)
        case .refreshReply(let v): return .refreshReply(v.wire)
        case .batch(let frames): return .batch(Batch.wire(frames))
        case .batchReply(let frames): return .batchReply(Batch.wire(frames))
        case .modeReply(let v):
            var m = Quickpay_V1_ModeReply()
            m.receiverID = v.receiverID.value
            m.mode = v.mode.wire
            return .modeReply(m)
        case .error(let error): return .error(error.wire)
        case .ack: return .ack(Quickpay_V1_Ack())
        }
    }
}
