import QuickPayCore

/// An operator's wait for the redemption of every coin the merchant held when it asked (the
/// control action `redeem` with `"wait": true`), batch after batch: pure, read by the host
/// after every turn of its loop (`ActorHost.awaitingActions`), which also bounds it in time.
///
/// - Done when the bank has answered for every coin held at the request (credited, or refused
///   for good) and the merchant has recorded it: `settledPaise` is what was held then.
/// - Refused at once when the bank refuses a batch whole and for good (the merchant's mode,
///   an unknown receiver): the next batch would be refused the same way.
/// - A batch that settled nothing (a transient refusal, no answer) is followed by the next
///   after 50 ms, doubling to 2 s; a batch that settled something, at once.
/// - When a batch ends, only the rows of the vouchers it carried are read again (at most a
///   batch's 256), not every voucher still to settle: a wait over a merchant holding many
///   vouchers costs the serving thread a batch's reads per batch, not all of them each time.
public struct RedemptionWait: Sendable {
    public enum Next: Equatable, Sendable {
        case done(settledPaise: Int64, vouchers: Int)
        case refused(QuickPayError)
        case waiting
        /// Start the next batch now.
        case redeemAgain
    }

    public let paise: Int64
    public let vouchers: Int
    /// The coins still to settle: each voucher, and the index it must be redeemed to.
    private(set) var remaining: [VoucherID: Int]
    private var endedSeen = -1
    private(set) var backoffMilliseconds: Int64 = 0
    private var nextTry: Int64 = 0

    public static let firstBackoffMilliseconds: Int64 = 50
    public static let maximumBackoffMilliseconds: Int64 = 2000

    /// `held`: the vouchers holding unredeemed coins, as the store has them now.
    public init(held: [MerchantVoucher]) {
        self.init(remaining: held.map { (id: $0.id, index: $0.last.index) }, paise: held.reduce(Int64(0)) { $0 + $1.unredeemedValue.paise })
    }

    init(remaining: [(id: VoucherID, index: Int)], paise: Int64) {
        self.paise = paise
        self.remaining = Dictionary(remaining, uniquingKeysWith: { max($0, $1) })
        vouchers = self.remaining.count
    }

    /// `ended`, `endedVouchers` and `refusal`: the actor's `redemptionsEnded`,
    /// `lastEndedRedemption` and `lastRedemptionRefusal`; `redeemedIndex`: a voucher's redeemed
    /// index as stored now (read only when a batch ended, and only for the vouchers it carried;
    /// for all still to settle if more than one batch ended since the last poll).
    public mutating func poll(
        ended: Int, endedVouchers: [VoucherID], refusal: QuickPayError?, isRedeeming: Bool, atMilliseconds now: Int64,
        redeemedIndex: (VoucherID) throws -> Int
    ) throws -> Next {
        if ended != endedSeen {
            let first = endedSeen < 0
            let onlyOne = ended == endedSeen + 1
            endedSeen = ended
            let before = remaining.count
            // At the first poll nothing has ended since `held` was read.
            if !first {
                for id in onlyOne ? endedVouchers : Array(remaining.keys) {
                    if let index = remaining[id], try redeemedIndex(id) >= index { remaining[id] = nil }
                }
            }
            if !first, remaining.count == before, let refusal { return .refused(refusal) }
            backoffMilliseconds = remaining.count < before || first ? 0 : min(max(Self.firstBackoffMilliseconds, backoffMilliseconds * 2), Self.maximumBackoffMilliseconds)
            nextTry = now + backoffMilliseconds
        }
        if remaining.isEmpty { return .done(settledPaise: paise, vouchers: vouchers) }
        guard !isRedeeming, now >= nextTry else { return .waiting }
        // The batch now started keeps the actor redeeming until it ends; if none could start,
        // another try after the first backoff.
        nextTry = now + Self.firstBackoffMilliseconds
        return .redeemAgain
    }
}
