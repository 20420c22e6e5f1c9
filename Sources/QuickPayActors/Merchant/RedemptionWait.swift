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
    private(set) var remaining: [(id: VoucherID, index: Int)]
    private var endedSeen = -1
    private(set) var backoffMilliseconds: Int64 = 0
    private var nextTry: Int64 = 0

    public static let firstBackoffMilliseconds: Int64 = 50
    public static let maximumBackoffMilliseconds: Int64 = 2000

    public init(held: [MerchantVoucher]) {
        self.init(remaining: held.map { (id: $0.id, index: $0.last.index) }, paise: held.reduce(Int64(0)) { $0 + $1.unredeemedValue.paise })
    }

    init(remaining: [(id: VoucherID, index: Int)], paise: Int64) {
        self.paise = paise
        vouchers = remaining.count
        self.remaining = remaining
    }

    /// `ended` and `refusal`: the actor's `redemptionsEnded` and `lastRedemptionRefusal`;
    /// `redeemedIndex`: a voucher's redeemed index as stored now (read only when a batch ended).
    public mutating func poll(
        ended: Int, refusal: QuickPayError?, isRedeeming: Bool, atMilliseconds now: Int64, redeemedIndex: (VoucherID) throws -> Int
    ) throws -> Next {
        if ended != endedSeen {
            let first = endedSeen < 0
            endedSeen = ended
            let before = remaining.count
            remaining = try remaining.filter { try redeemedIndex($0.id) < $0.index }
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
