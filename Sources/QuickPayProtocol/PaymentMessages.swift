import Foundation
import QuickPayCore

/// Merchant -> customer: the service bought and one receipt per coin.
public struct PaymentReply: Hashable, Sendable {
    public static let maximumServiceBytes = 4096
    public var receipts: [Receipt]
    public var receiptRoots: [SignedReceiptCommitment]
    public var service: [UInt8]
    public var amount: Amount

    public init(receipts: [Receipt], receiptRoots: [SignedReceiptCommitment], service: [UInt8], amount: Amount) {
        self.receipts = receipts
        self.receiptRoots = receiptRoots
        self.service = service
        self.amount = amount
    }

    init(wire: Quickpay_V1_PaymentReply) throws(QuickPayError) {
        receipts = try decodeAll(try WireField.count(wire.receipts, "receipts", 1...Payment.maximumCoins), Receipt.init(wire:))
        receiptRoots = try decodeAll(
            try WireField.count(wire.receiptRoots, "receipt_roots", 0...Payment.maximumCoins), SignedReceiptCommitment.init(wire:))
        guard wire.service.count <= PaymentReply.maximumServiceBytes else {
            throw QuickPayError(.malformed, "service is over \(PaymentReply.maximumServiceBytes) bytes")
        }
        service = Array(wire.service)
        amount = try WireField.amount(wire.amountPaise, "amount_paise")
    }

    var wire: Quickpay_V1_PaymentReply {
        var out = Quickpay_V1_PaymentReply()
        out.receipts = receipts.map(\.wire)
        out.receiptRoots = receiptRoots.map(\.wire)
        out.service = Data(service)
        out.amountPaise = amount.paise
        return out
    }
}

/// Merchant -> bank in online mode: verify and mark these coins, and credit me, before I deliver.
public struct VerifyCoins: Hashable, Sendable {
    public var receiverID: ReceiverID
    public var coins: [Coin]
    public var vouchers: [SignedVoucher]
    /// The mode the merchant runs in (online, to send this); the bank refuses a mismatch.
    public var mode: MerchantMode

    public init(receiverID: ReceiverID, coins: [Coin], vouchers: [SignedVoucher], mode: MerchantMode = .online) {
        self.receiverID = receiverID
        self.coins = coins
        self.vouchers = vouchers
        self.mode = mode
    }

    init(wire: Quickpay_V1_VerifyCoins) throws(QuickPayError) {
        receiverID = try WireField.receiverID(wire.receiverID)
        mode = try WireField.mode(wire.mode)
        // The same shape rules as the payment it forwards: one coin per voucher, every voucher
        // distinct and spent by a coin (so nobody can make the bank check unrelated signatures).
        let payment = try Payment(wire: Quickpay_V1_Payment.with {
            $0.coins = wire.coins
            $0.vouchers = wire.vouchers
        })
        coins = payment.coins
        vouchers = payment.vouchers
    }

    var wire: Quickpay_V1_VerifyCoins {
        var out = Quickpay_V1_VerifyCoins()
        out.receiverID = receiverID.value
        out.coins = coins.map(\.wire)
        out.vouchers = vouchers.map(\.wire)
        out.mode = mode.wire
        return out
    }
}

/// Merchant -> bank: redeem the last coin held of each voucher.
public struct Redeem: Hashable, Sendable {
    /// 256 coins per batch keeps both the request and a reply of 256 rejections with messages
    /// well under the 64 KiB frame limit.
    public static let maximumCoins = 256
    public var receiverID: ReceiverID
    /// Blind vouchers sent along so far: the bank first sees a blind voucher when it is redeemed.
    /// 32 of them (about 14 KiB) keep the frame under its limit with 256 coins.
    public static let maximumVouchers = 32
    public var coins: [Coin]
    /// The mode the merchant runs in; the bank refuses a mismatch.
    public var mode: MerchantMode
    /// Blind vouchers the bank may not have seen, each spent by one of the coins.
    public var vouchers: [SignedVoucher]

    public init(receiverID: ReceiverID, coins: [Coin], mode: MerchantMode = .offline, vouchers: [SignedVoucher] = []) {
        self.receiverID = receiverID
        self.coins = coins
        self.mode = mode
        self.vouchers = vouchers
    }

    init(wire: Quickpay_V1_Redeem) throws(QuickPayError) {
        receiverID = try WireField.receiverID(wire.receiverID)
        mode = try WireField.mode(wire.mode)
        coins = try decodeAll(try WireField.count(wire.coins, "coins", 1...Redeem.maximumCoins), Coin.init(wire:))
        let spent = Set(coins.map(\.voucherID))
        guard spent.count == coins.count else {
            throw QuickPayError(.malformed, "a redemption carries one coin per voucher")
        }
        vouchers = try decodeAll(try WireField.count(wire.vouchers, "vouchers", 0...Redeem.maximumVouchers), SignedVoucher.init(wire:))
        guard Set(vouchers.map(\.id)).count == vouchers.count, vouchers.allSatisfy({ spent.contains($0.id) && $0.commitment.scheme == .blindRSA }) else {
            throw QuickPayError(.malformed, "every voucher of a redemption is a distinct blind voucher spent by one of its coins")
        }
    }

    var wire: Quickpay_V1_Redeem {
        var out = Quickpay_V1_Redeem()
        out.receiverID = receiverID.value
        out.coins = coins.map(\.wire)
        out.mode = mode.wire
        out.vouchers = vouchers.map(\.wire)
        return out
    }
}

/// The bank's answer for one coin of a redemption batch: credited, or rejected with a reason.
public struct RedeemResult: Hashable, Sendable {
    public var voucherID: VoucherID
    public var credited: Amount
    public var error: QuickPayError?

    public init(voucherID: VoucherID, credited: Amount, error: QuickPayError?) {
        self.voucherID = voucherID
        self.credited = credited
        self.error = error
    }

    init(wire: Quickpay_V1_RedeemResult) throws(QuickPayError) {
        voucherID = try WireField.voucherID(wire.voucherID)
        credited = try WireField.amount(wire.creditedPaise, "credited_paise")
        error = wire.hasError ? try QuickPayError(wire: wire.error) : nil
    }

    var wire: Quickpay_V1_RedeemResult {
        var out = Quickpay_V1_RedeemResult()
        out.voucherID = Data(voucherID.raw)
        out.creditedPaise = credited.paise
        if let error { out.error = error.wire }
        return out
    }
}

public struct RedeemReply: Hashable, Sendable {
    public var results: [RedeemResult]
    public var totalCredited: Amount

    public init(results: [RedeemResult], totalCredited: Amount) {
        self.results = results
        self.totalCredited = totalCredited
    }

    init(wire: Quickpay_V1_RedeemReply) throws(QuickPayError) {
        results = try decodeAll(try WireField.count(wire.results, "results", 0...Redeem.maximumCoins), RedeemResult.init(wire:))
        totalCredited = try WireField.amount(wire.totalCreditedPaise, "total_credited_paise")
    }

    var wire: Quickpay_V1_RedeemReply {
        var out = Quickpay_V1_RedeemReply()
        out.results = results.map(\.wire)
        out.totalCreditedPaise = totalCredited.paise
        return out
    }
}

/// Bank -> merchant: close a voucher (an unload is waiting on it).
public struct Settle: Hashable, Sendable {
    public var voucherID: VoucherID
    public init(voucherID: VoucherID) { self.voucherID = voucherID }
    init(wire: Quickpay_V1_Settle) throws(QuickPayError) { voucherID = try WireField.voucherID(wire.voucherID) }
    var wire: Quickpay_V1_Settle {
        var out = Quickpay_V1_Settle()
        out.voucherID = Data(voucherID.raw)
        return out
    }
}

/// Merchant -> bank: the last coin it holds of the voucher (index 0 and the root if none).
public struct SettleReply: Hashable, Sendable {
    public var voucherID: VoucherID
    public var last: ChainPosition

    public init(voucherID: VoucherID, last: ChainPosition) {
        self.voucherID = voucherID
        self.last = last
    }

    init(wire: Quickpay_V1_SettleReply) throws(QuickPayError) {
        voucherID = try WireField.voucherID(wire.voucherID)
        guard wire.lastIndex <= UInt32(ChainLength.maximum) else {
            throw QuickPayError(.malformed, "last_index is above \(ChainLength.maximum)")
        }
        last = ChainPosition(index: Int(wire.lastIndex), value: try WireField.bytes32(wire.lastValue, "last_value"))
    }

    var wire: Quickpay_V1_SettleReply {
        var out = Quickpay_V1_SettleReply()
        out.voucherID = Data(voucherID.raw)
        out.lastIndex = UInt32(last.index)
        out.lastValue = Data(last.value)
        return out
    }
}

/// The bank's record of a receiver's mode: what a merchant asks before it takes coins.
public struct ModeReply: Hashable, Sendable {
    public var receiverID: ReceiverID
    public var mode: MerchantMode
    public init(receiverID: ReceiverID, mode: MerchantMode) {
        self.receiverID = receiverID
        self.mode = mode
    }
}

extension MerchantMode {
    var wire: Quickpay_V1_MerchantMode {
        switch self {
        case .offline: .offline
        case .online: .online
        }
    }
}
