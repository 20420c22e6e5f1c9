/// One revealed element of a voucher's chain: (voucher id, index i, w_i). It is worth
/// denomination x (i - last accepted index): sending w_i after w_j pays for i - j coins at once.
public struct Coin: Hashable, Sendable {
    public let voucherID: VoucherID
    public let index: Int
    public let value: Bytes32

    public init(voucherID: VoucherID, index: Int, value: Bytes32) {
        self.voucherID = voucherID
        self.index = index
        self.value = value
    }

    public var position: ChainPosition { ChainPosition(index: index, value: value) }
}

/// One payment from a wallet to a merchant: one coin per voucher it spends from (several
/// vouchers, so several denominations, may pay together), the vouchers the merchant has not
/// seen yet, and the order (what service is bought).
public struct Payment: Hashable, Sendable {
    public static let maximumCoins = 16
    public static let maximumOrderBytes = 256

    public let coins: [Coin]
    public let vouchers: [SignedVoucher]
    public let order: String

    /// Checks the shape rules: 1 to 16 coins, at most one coin per voucher, every attached
    /// voucher spent by some coin, an order of at most 256 bytes.
    public init(coins: [Coin], vouchers: [SignedVoucher] = [], order: String = "") throws(QuickPayError) {
        guard (1...Payment.maximumCoins).contains(coins.count) else {
            throw QuickPayError(.malformed, "a payment carries 1 to \(Payment.maximumCoins) coins, got \(coins.count)")
        }
        let spent = Set(coins.map(\.voucherID))
        guard spent.count == coins.count else {
            throw QuickPayError(.malformed, "a payment carries at most one coin per voucher")
        }
        guard vouchers.count <= coins.count, Set(vouchers.map(\.id)).count == vouchers.count,
            vouchers.allSatisfy({ spent.contains($0.id) })
        else {
            throw QuickPayError(.malformed, "every attached voucher must be distinct and spent by a coin")
        }
        guard order.utf8.count <= Payment.maximumOrderBytes else {
            throw QuickPayError(.malformed, "order is over \(Payment.maximumOrderBytes) bytes")
        }
        self.coins = coins
        self.vouchers = vouchers
        self.order = order
    }
}
