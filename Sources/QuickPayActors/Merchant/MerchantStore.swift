import QuickPayCore
import QuickPayProtocol

/// A merchant's state for one voucher (PayWord): the voucher, the last coin accepted, how far
/// it is redeemed at the bank, its receipt-chain seed, and whether the bank closed it.
public struct MerchantVoucher: Hashable, Sendable {
    public let voucher: SignedVoucher
    public var last: ChainPosition
    public var redeemedIndex: Int
    public let receiptSeed: Bytes32
    public var closed: Bool

    public init(voucher: SignedVoucher, last: ChainPosition, redeemedIndex: Int, receiptSeed: Bytes32, closed: Bool) {
        self.voucher = voucher
        self.last = last
        self.redeemedIndex = redeemedIndex
        self.receiptSeed = receiptSeed
        self.closed = closed
    }

    public var id: VoucherID { voucher.id }
    /// Accepted but not yet credited by the bank.
    public var unredeemedValue: Amount {
        try! voucher.commitment.denomination.value(ofCoins: last.index - redeemedIndex)
    }
}

/// Everything one merchant step changes, committed in one transaction.
public struct MerchantBatch: Sendable {
    public var vouchers: [MerchantVoucher] = []
    /// Vouchers the bank closed before this merchant ever saw them: refused from now on.
    public var closedUnseen: [VoucherID] = []
    public var reply: (key: RequestID, cached: CachedReply)?
    public init() {}
}

public protocol MerchantStore: AnyObject {
    func voucher(_ id: VoucherID) throws -> MerchantVoucher?
    func isClosedUnseen(_ id: VoucherID) throws -> Bool
    func cachedReply(_ key: RequestID) throws -> CachedReply?
    func commit(_ batch: MerchantBatch) throws
    /// Vouchers holding coins not yet redeemed, at most `limit`.
    func unredeemed(limit: Int) throws -> [MerchantVoucher]
    func allVouchers() throws -> [MerchantVoucher]
}

/// An in-memory `MerchantStore` for unit tests of the pure core.
public final class MemoryMerchantStore: MerchantStore {
    var vouchers: [VoucherID: MerchantVoucher] = [:]
    var replies: [RequestID: CachedReply] = [:]
    var closed: Set<VoucherID> = []
    public var failNextCommit = false
    public init() {}

    public func voucher(_ id: VoucherID) throws -> MerchantVoucher? { vouchers[id] }
    public func isClosedUnseen(_ id: VoucherID) throws -> Bool { closed.contains(id) }
    public func cachedReply(_ key: RequestID) throws -> CachedReply? { replies[key] }
    public func commit(_ batch: MerchantBatch) throws {
        if failNextCommit {
            failNextCommit = false
            throw StoreError("injected commit failure")
        }
        for row in batch.vouchers { vouchers[row.id] = row }
        closed.formUnion(batch.closedUnseen)
        if let (key, cached) = batch.reply { replies[key] = cached }
    }
    public func unredeemed(limit: Int) throws -> [MerchantVoucher] {
        Array(vouchers.values.filter { $0.last.index > $0.redeemedIndex }.sorted { $0.id.raw.hex < $1.id.raw.hex }.prefix(limit))
    }
    public func allVouchers() throws -> [MerchantVoucher] { Array(vouchers.values) }
}
