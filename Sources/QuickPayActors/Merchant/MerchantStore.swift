import QuickPayCore
import QuickPayProtocol

/// A merchant's state for one voucher (PayWord): the voucher, the last coin accepted, how far
/// it is redeemed at the bank, its receipt-chain seed and whether the bank closed it.
public struct MerchantVoucher: Hashable, Sendable {
    public let voucher: SignedVoucher
    public var last: ChainPosition
    public var redeemedIndex: Int
    /// Derived from the merchant's receipt key and the voucher id (`MerchantActor.receiptSeed`):
    /// the same whenever it is computed, so no cache or failed commit can serve another chain.
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

/// Everything one merchant step changes, staged in one piece.
public struct MerchantBatch: Sendable {
    public var vouchers: [MerchantVoucher] = []
    /// Vouchers the bank closed before this merchant ever saw them: refused from now on.
    public var closedUnseen: [VoucherID] = []
    public init() {}

    public var isEmpty: Bool { vouchers.isEmpty && closedUnseen.isEmpty }
}

/// The merchant's storage: reads for the actor; changes through the host's `Journal`.
public protocol MerchantStore: Journal where Batch == MerchantBatch {
    func voucher(_ id: VoucherID) throws -> MerchantVoucher?
    func isClosedUnseen(_ id: VoucherID) throws -> Bool
    /// Vouchers holding coins not yet redeemed, at most `limit`.
    func unredeemed(limit: Int) throws -> [MerchantVoucher]
    func allVouchers() throws -> [MerchantVoucher]
}

/// The checks every merchant store makes before it applies a row.
public enum MerchantBatchRules {
    public static func check(_ row: MerchantVoucher, before: MerchantVoucher?) throws {
        let n = row.voucher.commitment.length.value
        guard (0...n).contains(row.last.index), (0...row.last.index).contains(row.redeemedIndex) else {
            throw StoreError("voucher \(row.id): last \(row.last.index), redeemed \(row.redeemedIndex) outside 0...N = \(n)")
        }
        guard let before else { return }
        guard before.voucher == row.voucher, before.receiptSeed == row.receiptSeed else { throw StoreError("voucher \(row.id): its voucher or receipt seed changed") }
        guard row.last.index >= before.last.index, row.redeemedIndex >= before.redeemedIndex, row.closed || !before.closed else {
            throw StoreError("voucher \(row.id): went back (last \(before.last.index) -> \(row.last.index), redeemed \(before.redeemedIndex) -> \(row.redeemedIndex))")
        }
    }
}

/// An in-memory `MerchantStore` for unit tests and the simulator; models durability like
/// `MemoryBankStore`.
public final class MemoryMerchantStore: MerchantStore, MemoryJournal {
    public struct State: MemoryState {
        public var vouchers: [VoucherID: MerchantVoucher] = [:]
        public var closed: Set<VoucherID> = []
        public var answers = MemoryAnswers()
    }

    public var state = Durable(State())
    public init() {}


    public func voucher(_ id: VoucherID) throws -> MerchantVoucher? { state.working.vouchers[id] }
    public func isClosedUnseen(_ id: VoucherID) throws -> Bool { state.working.closed.contains(id) }
    public func unredeemed(limit: Int) throws -> [MerchantVoucher] {
        Array(state.working.vouchers.values.filter { $0.last.index > $0.redeemedIndex }.sorted { $0.id.raw.hex < $1.id.raw.hex }.prefix(limit))
    }
    public func allVouchers() throws -> [MerchantVoucher] { Array(state.working.vouchers.values) }


    public func stage(_ batch: MerchantBatch) throws {
        var next = state.working
        for row in batch.vouchers {
            try MerchantBatchRules.check(row, before: next.vouchers[row.id])
            next.vouchers[row.id] = row
        }
        next.closed.formUnion(batch.closedUnseen)
        state.working = next
    }

}
