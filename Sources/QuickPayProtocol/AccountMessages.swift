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

/// One voucher message blinded under one of the bank's blind keys (RFC 9474 Blind): all the
/// bank sees of a blind voucher at load.
public struct BlindedChain: Hashable, Sendable {
    public var keyID: KeyID
    public var blindedMessage: [UInt8]

    public init(keyID: KeyID, blindedMessage: [UInt8]) {
        self.keyID = keyID
        self.blindedMessage = blindedMessage
    }

    init(wire: Quickpay_V1_BlindedChain) throws(QuickPayError) {
        keyID = try WireField.keyID(wire.keyID, "key_id")
        blindedMessage = try WireField.rsaBytes(wire.blindedMessage, "blinded_message")
    }

    var wire: Quickpay_V1_BlindedChain {
        var out = Quickpay_V1_BlindedChain()
        out.keyID = Data(keyID.bytes)
        out.blindedMessage = Data(blindedMessage)
        return out
    }
}

/// A load, paid from a bank account. The customer sends it with a session to the app server;
/// the app server forwards it to the bank with the session's account. Either Ed25519 chains for
/// one receiver (the bank signs vouchers it sees), or blinded chains (the bank signs blind and
/// learns neither the receiver, nor the roots, nor the owner keys).
public struct LoadRequest: Hashable, Sendable {
    public static let maximumChains = 16
    /// Who asks: a session (customer -> app server) or an account (app server -> bank).
    public var session: SessionToken?
    public var account: AccountID?
    public var content: LoadContent

    public enum LoadContent: Hashable, Sendable {
        case chains(receiver: ReceiverID, [ChainRequest])
        case blinded([BlindedChain])
    }

    public init(session: SessionToken, content: LoadContent) {
        self.session = session
        self.content = content
    }

    public init(account: AccountID, content: LoadContent) {
        self.account = account
        self.content = content
    }

    public init(session: SessionToken, receiverID: ReceiverID, chains: [ChainRequest]) {
        self.init(session: session, content: .chains(receiver: receiverID, chains))
    }

    public init(account: AccountID, receiverID: ReceiverID, chains: [ChainRequest]) {
        self.init(account: account, content: .chains(receiver: receiverID, chains))
    }

    /// The Ed25519 chains (none for a blind load).
    public var chains: [ChainRequest] {
        if case .chains(_, let chains) = content { return chains }
        return []
    }

    /// How many vouchers the load asks for.
    public var count: Int {
        switch content {
        case .chains(_, let chains): chains.count
        case .blinded(let blinded): blinded.count
        }
    }

    init(wire: Quickpay_V1_LoadRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        content = try Self.content(receiver: wire.receiverID, chains: wire.chains, blinded: wire.blinded)
    }

    init(wire: Quickpay_V1_BankLoadRequest) throws(QuickPayError) {
        account = try WireField.accountID(wire.accountID)
        content = try Self.content(receiver: wire.receiverID, chains: wire.chains, blinded: wire.blinded)
    }

    static func content(receiver: String, chains: [Quickpay_V1_ChainRequest], blinded: [Quickpay_V1_BlindedChain]) throws(QuickPayError) -> LoadContent {
        if blinded.isEmpty {
            return .chains(
                receiver: try WireField.receiverID(receiver),
                try decodeAll(try WireField.count(chains, "chains", 1...LoadRequest.maximumChains), ChainRequest.init(wire:)))
        }
        guard chains.isEmpty, receiver.isEmpty else {
            throw QuickPayError(.malformed, "a blind load carries blinded chains only: no chains, no receiver_id")
        }
        return .blinded(try decodeAll(try WireField.count(blinded, "blinded", 1...LoadRequest.maximumChains), BlindedChain.init(wire:)))
    }

    var sessionWire: Quickpay_V1_LoadRequest {
        var out = Quickpay_V1_LoadRequest()
        out.sessionToken = Data(session?.raw ?? Bytes16(high: 0, low: 0))
        switch content {
        case .chains(let receiver, let chains):
            out.receiverID = receiver.value
            out.chains = chains.map(\.wire)
        case .blinded(let blinded): out.blinded = blinded.map(\.wire)
        }
        return out
    }

    var bankWire: Quickpay_V1_BankLoadRequest {
        var out = Quickpay_V1_BankLoadRequest()
        out.accountID = account?.value ?? ""
        switch content {
        case .chains(let receiver, let chains):
            out.receiverID = receiver.value
            out.chains = chains.map(\.wire)
        case .blinded(let blinded): out.blinded = blinded.map(\.wire)
        }
        return out
    }
}

/// The bank's answer to a load: the signed vouchers (Ed25519), or one blind signature per
/// blinded chain, in order (the wallet unblinds them into vouchers).
public struct LoadReply: Hashable, Sendable {
    public var vouchers: [SignedVoucher]
    public var blindSignatures: [[UInt8]]
    public var debited: Amount

    public init(vouchers: [SignedVoucher], debited: Amount) {
        self.vouchers = vouchers
        self.blindSignatures = []
        self.debited = debited
    }

    public init(blindSignatures: [[UInt8]], debited: Amount) {
        self.vouchers = []
        self.blindSignatures = blindSignatures
        self.debited = debited
    }

    init(wire: Quickpay_V1_LoadReply) throws(QuickPayError) {
        if wire.blindSignatures.isEmpty {
            vouchers = try decodeAll(try WireField.count(wire.vouchers, "vouchers", 1...LoadRequest.maximumChains), SignedVoucher.init(wire:))
            blindSignatures = []
        } else {
            guard wire.vouchers.isEmpty else { throw QuickPayError(.malformed, "a load reply carries vouchers or blind signatures, not both") }
            vouchers = []
            blindSignatures = try decodeAll(
                try WireField.count(wire.blindSignatures, "blind_signatures", 1...LoadRequest.maximumChains), { (data: Data) throws(QuickPayError) in try WireField.rsaBytes(data, "blind_signatures") })
        }
        debited = try WireField.amount(wire.debitedPaise, "debited_paise")
    }

    var wire: Quickpay_V1_LoadReply {
        var out = Quickpay_V1_LoadReply()
        out.vouchers = vouchers.map(\.wire)
        out.blindSignatures = blindSignatures.map { Data($0) }
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
    /// A blind voucher itself: the bank may never have seen it (nil for Ed25519).
    public var voucher: SignedVoucher?

    public init(session: SessionToken, authorization: UnloadAuthorization, voucher: SignedVoucher? = nil) {
        self.session = session
        self.authorization = authorization
        self.voucher = voucher
    }

    /// To the bank: `account` is the asker's, nil only for an unload to REFRESH (the bank must
    /// not learn whose voucher is refreshed).
    public init(account: AccountID?, authorization: UnloadAuthorization, voucher: SignedVoucher? = nil) {
        self.account = account
        self.authorization = authorization
        self.voucher = voucher
    }

    static func voucher(_ wire: Quickpay_V1_Voucher?, for id: VoucherID) throws(QuickPayError) -> SignedVoucher? {
        guard let wire else { return nil }
        let voucher = try SignedVoucher(wire: wire)
        guard voucher.id == id, voucher.commitment.scheme == .blindRSA else {
            throw QuickPayError(.malformed, "an unload carries only the blind voucher it unloads")
        }
        return voucher
    }

    init(wire: Quickpay_V1_UnloadRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        authorization = UnloadAuthorization(
            unloadID: RequestID(try WireField.bytes16(wire.unloadID, "unload_id")),
            voucherID: try WireField.voucherID(wire.voucherID),
            destination: try WireField.destination(wire.destination),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
        voucher = try Self.voucher(wire.hasVoucher ? wire.voucher : nil, for: authorization.voucherID)
    }

    init(wire: Quickpay_V1_BankUnloadRequest) throws(QuickPayError) {
        // An unload to REFRESH names no account; every other names the asker's.
        account = wire.destination == .refresh && wire.accountID.isEmpty ? nil : try WireField.accountID(wire.accountID)
        authorization = UnloadAuthorization(
            unloadID: RequestID(try WireField.bytes16(wire.unloadID, "unload_id")),
            voucherID: try WireField.voucherID(wire.voucherID),
            destination: try WireField.destination(wire.destination),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
        voucher = try Self.voucher(wire.hasVoucher ? wire.voucher : nil, for: authorization.voucherID)
    }

    var sessionWire: Quickpay_V1_UnloadRequest {
        var out = Quickpay_V1_UnloadRequest()
        out.sessionToken = Data(session?.raw ?? Bytes16(high: 0, low: 0))
        out.voucherID = Data(authorization.voucherID.raw)
        out.destination = WireField.wire(authorization.destination)
        out.ownerSignature = Data(authorization.signature.bytes)
        out.unloadID = Data(authorization.unloadID.raw)
        if let voucher { out.voucher = voucher.wire }
        return out
    }

    var bankWire: Quickpay_V1_BankUnloadRequest {
        var out = Quickpay_V1_BankUnloadRequest()
        out.accountID = account?.value ?? ""
        out.voucherID = Data(authorization.voucherID.raw)
        out.destination = WireField.wire(authorization.destination)
        out.ownerSignature = Data(authorization.signature.bytes)
        out.unloadID = Data(authorization.unloadID.raw)
        if let voucher { out.voucher = voucher.wire }
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

/// A refresh of a blind voucher's held refund into new blind vouchers. From the customer it
/// carries a session (the app server serves only its users); the app server forwards it to the
/// bank without any account.
public struct RefreshRequest: Hashable, Sendable {
    public var session: SessionToken?
    public var authorization: RefreshAuthorization
    public var blinded: [BlindedChain]

    public init(session: SessionToken? = nil, authorization: RefreshAuthorization, blinded: [BlindedChain]) {
        self.session = session
        self.authorization = authorization
        self.blinded = blinded
    }

    /// What the owner signature covers, per chain.
    public var signed: [(keyID: KeyID, message: [UInt8])] { blinded.map { ($0.keyID, $0.blindedMessage) } }

    init(wire: Quickpay_V1_RefreshRequest) throws(QuickPayError) {
        session = try WireField.sessionToken(wire.sessionToken)
        authorization = RefreshAuthorization(
            refreshID: RequestID(try WireField.bytes16(wire.refreshID, "refresh_id")), voucherID: try WireField.voucherID(wire.voucherID),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
        blinded = try decodeAll(try WireField.count(wire.blinded, "blinded", 1...LoadRequest.maximumChains), BlindedChain.init(wire:))
    }

    init(wire: Quickpay_V1_BankRefreshRequest) throws(QuickPayError) {
        authorization = RefreshAuthorization(
            refreshID: RequestID(try WireField.bytes16(wire.refreshID, "refresh_id")), voucherID: try WireField.voucherID(wire.voucherID),
            signature: try WireField.signature(wire.ownerSignature, "owner_signature"))
        blinded = try decodeAll(try WireField.count(wire.blinded, "blinded", 1...LoadRequest.maximumChains), BlindedChain.init(wire:))
    }

    var sessionWire: Quickpay_V1_RefreshRequest {
        var out = Quickpay_V1_RefreshRequest()
        out.sessionToken = Data(session?.raw ?? Bytes16(high: 0, low: 0))
        out.voucherID = Data(authorization.voucherID.raw)
        out.refreshID = Data(authorization.refreshID.raw)
        out.blinded = blinded.map(\.wire)
        out.ownerSignature = Data(authorization.signature.bytes)
        return out
    }

    var bankWire: Quickpay_V1_BankRefreshRequest {
        var out = Quickpay_V1_BankRefreshRequest()
        out.voucherID = Data(authorization.voucherID.raw)
        out.refreshID = Data(authorization.refreshID.raw)
        out.blinded = blinded.map(\.wire)
        out.ownerSignature = Data(authorization.signature.bytes)
        return out
    }
}

public struct RefreshReply: Hashable, Sendable {
    public var voucherID: VoucherID
    public var blindSignatures: [[UInt8]]
    public var refreshed: Amount

    public init(voucherID: VoucherID, blindSignatures: [[UInt8]], refreshed: Amount) {
        self.voucherID = voucherID
        self.blindSignatures = blindSignatures
        self.refreshed = refreshed
    }

    init(wire: Quickpay_V1_RefreshReply) throws(QuickPayError) {
        voucherID = try WireField.voucherID(wire.voucherID)
        blindSignatures = try decodeAll(
            try WireField.count(wire.blindSignatures, "blind_signatures", 1...LoadRequest.maximumChains), { (data: Data) throws(QuickPayError) in try WireField.rsaBytes(data, "blind_signatures") })
        refreshed = try WireField.amount(wire.refreshedPaise, "refreshed_paise")
    }

    var wire: Quickpay_V1_RefreshReply {
        var out = Quickpay_V1_RefreshReply()
        out.voucherID = Data(voucherID.raw)
        out.blindSignatures = blindSignatures.map { Data($0) }
        out.refreshedPaise = refreshed.paise
        return out
    }
}
