import QuickPayCore
import Testing
@testable import QuickPayActors

/// The operator's wait for a redemption (`redeem` with `"wait": true`), batch by batch.
struct RedemptionWaitTests {
    let a = VoucherID(Bytes16(high: 1, low: 1))
    let b = VoucherID(Bytes16(high: 2, low: 2))
    var both: [VoucherID] { [a, b] }

    /// More vouchers than one batch takes: each batch that settles some starts the next at once,
    /// and the wait is done when the last is settled, with what was held at the start.
    @Test func batchAfterBatchUntilEveryCoinIsSettled() throws {
        var wait = RedemptionWait(remaining: [(a, 3), (b, 5)], paise: 800)
        var redeemed: [VoucherID: Int] = [:]
        let index = { (id: VoucherID) in redeemed[id, default: 0] }
        #expect(try wait.poll(ended: 0, endedVouchers: both, refusal: nil, isRedeeming: true, atMilliseconds: 0, redeemedIndex: index) == .waiting)
        redeemed[a] = 3
        #expect(try wait.poll(ended: 1, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: 5, redeemedIndex: index) == .redeemAgain)
        #expect(try wait.poll(ended: 1, endedVouchers: both, refusal: nil, isRedeeming: true, atMilliseconds: 6, redeemedIndex: index) == .waiting)
        // b paid on meanwhile: the wait asks only for the index it held at the start.
        redeemed[b] = 5
        #expect(try wait.poll(ended: 2, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: 9, redeemedIndex: index) == .done(settledPaise: 800, vouchers: 2))
    }

    /// Batches that settle nothing are sent again after 50 ms, 100, 200... at most 2 s apart;
    /// one that settles something resets the wait between them.
    @Test func batchesThatSettleNothingBackOff() throws {
        var wait = RedemptionWait(remaining: [(a, 3), (b, 5)], paise: 800)
        var redeemed: [VoucherID: Int] = [:]
        let index = { (id: VoucherID) in redeemed[id, default: 0] }
        #expect(try wait.poll(ended: 0, endedVouchers: both, refusal: nil, isRedeeming: true, atMilliseconds: 0, redeemedIndex: index) == .waiting)
        var now: Int64 = 0
        var ended = 0
        var waits: [Int64] = []
        for _ in 0..<8 {
            ended += 1
            #expect(try wait.poll(ended: ended, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: now, redeemedIndex: index) == .waiting)
            waits.append(wait.backoffMilliseconds)
            now += wait.backoffMilliseconds - 1
            #expect(try wait.poll(ended: ended, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: now, redeemedIndex: index) == .waiting)
            now += 1
            #expect(try wait.poll(ended: ended, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: now, redeemedIndex: index) == .redeemAgain)
        }
        #expect(waits == [50, 100, 200, 400, 800, 1600, 2000, 2000])
        redeemed[a] = 3
        #expect(try wait.poll(ended: ended + 1, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: now, redeemedIndex: index) == .redeemAgain)
        #expect(wait.backoffMilliseconds == 0)
    }

    /// When one batch ends, only the vouchers it carried are read again, not every voucher
    /// still to settle; when more than one ended since the last look, all of them are.
    @Test func aBatchEndReadsOnlyTheVouchersItCarried() throws {
        let held = (1...1000).map { (VoucherID(Bytes16(high: 7, low: UInt64($0))), 4) }
        var wait = RedemptionWait(remaining: held, paise: 1000 * 400)
        var redeemed: [VoucherID: Int] = [:]
        var reads = 0
        let index = { (id: VoucherID) -> Int in
            reads += 1
            return redeemed[id, default: 0]
        }
        #expect(try wait.poll(ended: 0, endedVouchers: [], refusal: nil, isRedeeming: true, atMilliseconds: 0, redeemedIndex: index) == .waiting)
        #expect(reads == 0)
        let batch = held.prefix(256).map(\.0)
        for id in batch { redeemed[id] = 4 }
        #expect(try wait.poll(ended: 1, endedVouchers: batch, refusal: nil, isRedeeming: false, atMilliseconds: 1, redeemedIndex: index) == .redeemAgain)
        #expect(reads == 256 && wait.remaining.count == 744)
        // Two batches ended since the last look: every voucher still to settle is read.
        for (id, _) in held[256..<300] { redeemed[id] = 4 }
        reads = 0
        #expect(try wait.poll(ended: 3, endedVouchers: [], refusal: nil, isRedeeming: false, atMilliseconds: 2, redeemedIndex: index) == .redeemAgain)
        #expect(reads == 744 && wait.remaining.count == 700)
    }

    /// A refusal for good ends the wait only when a batch of this wait ended so (one that ended
    /// before the wait began is not its answer), and only if that batch settled nothing.
    @Test func aRefusalForGoodEndsTheWait() throws {
        let refusal = QuickPayError(.modeMismatch, "the bank holds the merchant as online")
        var wait = RedemptionWait(remaining: [(a, 3)], paise: 300)
        let index = { (_: VoucherID) in 0 }
        #expect(try wait.poll(ended: 4, endedVouchers: both, refusal: refusal, isRedeeming: true, atMilliseconds: 0, redeemedIndex: index) == .waiting)
        #expect(try wait.poll(ended: 5, endedVouchers: both, refusal: refusal, isRedeeming: false, atMilliseconds: 1, redeemedIndex: index) == .refused(refusal))
        // If no start could begin (nothing to redeem found), it tries again after 50 ms.
        var idle = RedemptionWait(remaining: [(a, 3)], paise: 300)
        #expect(try idle.poll(ended: 0, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: 0, redeemedIndex: index) == .redeemAgain)
        #expect(try idle.poll(ended: 0, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: 49, redeemedIndex: index) == .waiting)
        #expect(try idle.poll(ended: 0, endedVouchers: both, refusal: nil, isRedeeming: false, atMilliseconds: 50, redeemedIndex: index) == .redeemAgain)
    }
}
