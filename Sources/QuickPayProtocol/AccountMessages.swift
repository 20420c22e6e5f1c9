import Foundation
import QuickPayCore

/// Bank and Quick Pay balances of one user.
public struct Balances: Hashable, Sendable {
    public var bank: Amount
    public var quickPay: Amount
    public init(bank: Amount, quickPay: Amount) {
        self.bank = bank
        self.quickPay = quickPay
    }
}

/// A request that carries only a session token (balance check, logout).
public struct SessionRequest: Hashable, Sendable {
    public var session: SessionToken
    public init(session: SessionToken) { self.session = session }
}

/// One chain the wallet made for a load: denomination, N, root and one-time owner key.
public struct ChainRequest: Hashable, Sendable {
    public var denomination: Denomination
    public var length: ChainLength
    public var root: Bytes32
    public var ownerKey: SigningPublicKey

    public init(denomination: Denomination, length: ChainLength, root: Bytes32, ownerKey: SigningPublicKey) {
        self.denomination = denomination
        self.length = length
        self.root = root
        self.ownerKey = ownerKey
    }

    /// denomination x N, the amount the bank debits for this chain.
    public var value: Amount { try! denomination.value(ofCoins: length.value) }

    init(wire: Quickpay_V1_ChainRequest) throws(QuickPayError) {
        denomination = try WireField.denomination(wire.denomination)
        length = try WireField.length(wire.length)
        root = try WireField.bytes32(wire.root, "root")
        ownerKey = try WireField.publicKey(wire.ownerKey, "owner_key")
    }

    var wire: Quickpay_V1_ChainRequest {
        var out = Quickpay_V1_ChainRequest()
        out.denomination = WireField.wire(denomination)
        out.length = UInt32(length.value)
        out.root = Data(root)
        out.ownerKey = Data(ownerKey.raw)
        return out
    }
}

/// A load: chains for one receiver, paid from a bank account. The customer sends it with a
/// session to the app server; the app server forwards it to the bank with the session's account.
public struct LoadRequest: Hashable, Sendable {
    public static let maximumChains = 16
    /// Who asks: a session (customer -> app server) or an account (app server -> bank).
    public var session: SessionToken?
    public var account: AccountID?
    public var receiverID: ReceiverID
    public var chains: [ChainRequest]

    public init(session: SessionToken, receiverID: ReceiverID, chains: [ChainRequest]) {
        self.session = session
        self.receiverID = receiverID
        self.chains = chains
    }

    public init(account: AccountID, receiverID: ReceiverID, chains: [ChainRequest]) {
        self.account = account
        self.receiverID = receiverID
        self.chains = chains
    }

    init(wire: Quickpay_V1_LoadRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        receiverID = try WireField.receiverID(wire.receiverID)
        chains = try decodeAll(try WireField.count(wire.chains, "chains", 1...LoadRequest.maximumChains), ChainRequest.init(wire:))
    }

    init(wire: Quickpay_V1_BankLoadRequest) throws(QuickPayError) {
        account = try WireField.accountID(wire.accountID)
        receiverID = try WireField.receiverID(wire.receiverID)
        chains = try decodeAll(try WireField.count(wire.chains, "chains", 1...LoadRequest.maximumChains), ChainRequest.init(wire:))
    }

    var sessionWire: Quickpay_V1_LoadRequest {
        var out = Quickpay_V1_LoadRequest()
        out.sessionToken = Data(session?.raw ?? Bytes16(high: 0, low: 0))
        out.receiverID = receiverID.value
        out.chains = chains.map(\.wire)
        return out
    }

    var bankWire: Quickpay_V1_BankLoadRequest {
        var out = Quickpay_V1_BankLoadRequest()
        out.accountID = account?.value ?? ""
        out.receiverID = receiverID.value
        out.chains = chains.map(\.wire)
        return out
    }
}

public struct LoadReply: Hashable, Sendable {
    public var vouchers: [SignedVoucher]
    public var debited: Amount

    public init(vouchers: [SignedVoucher], debited: Amount) {
        self.vouchers = vouchers
        self.debited = debited
    }

    init(wire: Quickpay_V1_LoadReply) throws(QuickPayError) {
        vouchers = try decodeAll(try WireField.count(wire.vouchers, "vouchers", 1...LoadRequest.maximumChains), SignedVoucher.init(wire:))
        debited = try WireField.amount(wire.debitedPaise, "debited_paise")
    }

    var wire: Quickpay_V1_LoadReply {
        var out = Quickpay_V1_LoadReply()
        out.vouchers = vouchers.map(\.wire)
        out.debitedPaise = debited.paise
        return out
    }
}

/// An unload of one voucher's unspent coins. From the customer it carries a session; the app
/// server forwards it to the bank with the account. The owner signature binds the wallet's
/// unload id (`authorization.unloadID`, the bank's idempotency key), the voucher and the
/// destination.
public struct UnloadRequest: Hashable, Sendable {
    public var session: SessionToken?
    public var account: AccountID?
    public var authorization: UnloadAuthorization

    public init(session: SessionToken, authorization: UnloadAuthorization) {
        self.session = session
        self.authorization = authorization
    }

    public init(account: AccountID, authorization: UnloadAuthorization) {
        self.account = account
        self.authorization = authorization
    }

    init(wire: Quickpay_V1_UnloadRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        authorization = UnloadAuthorization(
            unloadID: RequestID(try WireField.bytes16(wire.unloadID, "unload_id")),
            voucherID: try WireField.voucherID(wire.voucherID),
            destination: try WireField.destination(wire.destination),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
    }

    init(wire: Quickpay_V1_BankUnloadRequest) throws(QuickPayError) {
        account = try WireField.accountID(wire.accountID)
        authorization = UnloadAuthorization(
            unloadID: RequestID(try WireField.bytes16(wire.unloadID, "unload_id")),
            voucherID: try WireField.voucherID(wire.voucherID),
            destination: try WireField.destination(wire.destination),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
    }

    var sessionWire: Quickpay_V1_UnloadRequest {
        var out = Quickpay_V1_UnloadRequest()
        out.sessionToken = Data(session?.raw ?? Bytes16(high: 0, low: 0))
        out.voucherID = Data(authorization.voucherID.raw)
        out.destination = WireField.wire(authorization.destination)
        out.ownerSignature = Data(authorization.signature.bytes)
        out.unloadID = Data(authorization.unloadID.raw)
        return out
    }

    var bankWire: Quickpay_V1_BankUnloadRequest {
        var out = Quickpay_V1_BankUnloadRequest()
        out.accountID = account?.value ?? ""
        out.voucherID = Data(authorization.voucherID.raw)
        out.destination = WireField.wire(authorization.destination)
        out.ownerSignature = Data(authorization.signature.bytes)
        out.unloadID = Data(authorization.unloadID.raw)
        return out
    }
}

public struct UnloadReply: Hashable, Sendable {
    public var voucherID: VoucherID
    public var refunded: Amount
    public var finalIndex: Int
    /// Set when the merchant could not be reached: the refund is made at this deadline.
    public var pendingUntil: Timestamp?

    public init(voucherID: VoucherID, refunded: Amount, finalIndex: Int, pendingUntil: Timestamp?) {
        self.voucherID = voucherID
        self.refunded = refunded
        self.finalIndex = finalIndex
        self.pendingUntil = pendingUntil
    }

    init(wire: Quickpay_V1_UnloadReply) throws(QuickPayError) {
        voucherID = try WireField.voucherID(wire.voucherID)
        refunded = try WireField.amount(wire.refundedPaise, "refunded_paise")
        guard wire.finalIndex <= UInt32(ChainLength.maximum) else {
            throw QuickPayError(.malformed, "final_index is above \(ChainLength.maximum)")
        }
        finalIndex = Int(wire.finalIndex)
        pendingUntil = wire.pending ? WireField.timestamp(wire.refundAt) : nil
    }

    var wire: Quickpay_V1_UnloadReply {
        var out = Quickpay_V1_UnloadReply()
        out.voucherID = Data(voucherID.raw)
        out.refundedPaise = refunded.paise
        out.finalIndex = UInt32(finalIndex)
        if let pendingUntil {
            out.pending = true
            out.refundAt = pendingUntil.secondsSinceEpoch
        }
        return out
    }
}

/// Move Quick Pay balance to the bank account (session from a user, account from the app server).
public struct WithdrawRequest: Hashable, Sendable {
    public var session: SessionToken?
    public var account: AccountID?
    public var amount: Amount

    public init(session: SessionToken, amount: Amount) {
        self.session = session
        self.amount = amount
    }

    public init(account: AccountID, amount: Amount) {
        self.account = account
        self.amount = amount
    }

    init(wire: Quickpay_V1_WithdrawRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        amount = try WireField.amount(wire.amountPaise, "amount_paise")
    }

    init(wire: Quickpay_V1_BankWithdrawRequest) throws(QuickPayError) {
        account = try WireField.accountID(wire.accountID)
        amount = try WireField.amount(wire.amountPaise, "amount_paise")
    }
}

/// Operator -> app server: make `count` prepaid codes worth `amount` each.
public struct PrepaidIssue: Hashable, Sendable {
    public static let maximumCount = 100
    public var count: Int
    public var amount: Amount

    public init(count: Int, amount: Amount) {
        self.count = count
        self.amount = amount
    }

    init(wire: Quickpay_V1_PrepaidIssue) throws(QuickPayError) {
        guard (1...UInt32(PrepaidIssue.maximumCount)).contains(wire.count) else {
            throw QuickPayError(.malformed, "count must be 1 to \(PrepaidIssue.maximumCount)")
        }
        count = Int(wire.count)
        amount = try WireField.amount(wire.amountPaise, "amount_paise")
    }
}

public struct PrepaidRedeem: Hashable, Sendable {
    public static let maximumCodeBytes = 64
    public var session: SessionToken
    public var code: String

    public init(session: SessionToken, code: String) {
        self.session = session
        self.code = code
    }

    init(wire: Quickpay_V1_PrepaidRedeem) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        code = try WireField.text(wire.code, "code", maximumBytes: PrepaidRedeem.maximumCodeBytes)
    }
}

/// App server -> bank: credit a Quick Pay balance from the prepaid float, once per code hash.
public struct BankCredit: Hashable, Sendable {
    public var account: AccountID
    public var amount: Amount
    public var codeHash: Bytes32

    public init(account: AccountID, amount: Amount, codeHash: Bytes32) {
        self.account = account
        self.amount = amount
        self.codeHash = codeHash
    }

    init(wire: Quickpay_V1_BankCredit) throws(QuickPayError) {
        account = try WireField.accountID(wire.accountID)
        amount = try WireField.amount(wire.amountPaise, "amount_paise")
        codeHash = try WireField.bytes32(wire.codeHash, "code_hash")
    }
}

public struct PrepaidRedeemReply: Hashable, Sendable {
    public var credited: Amount
    public var quickPay: Amount
    public init(credited: Amount, quickPay: Amount) {
        self.credited = credited
        self.quickPay = quickPay
    }
}
