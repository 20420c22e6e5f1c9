import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

typealias SeededGenerator = SplitMix64

let client = ClientID([0, 1, 2, 3])
let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

func rupees(_ value: Int64) -> Amount { Amount(paise: value * 100) }

/// The single reply among `outputs`, or a recorded issue.
func onlyReply(_ outputs: [Output], sourceLocation: SourceLocation = #_sourceLocation) -> Body? {
    let replies = outputs.compactMap { output -> Body? in
        if case .reply(_, let envelope) = output { return envelope.body }
        return nil
    }
    #expect(replies.count == 1, "expected one reply, got \(outputs)", sourceLocation: sourceLocation)
    return replies.first
}

func errorCode(_ body: Body?) -> ErrorCode? {
    if case .error(let error)? = body { return error.code }
    return nil
}

/// A wallet's chain with its owner key, ready to load.
struct TestChain {
    let chain: HashChain
    let owner: SigningPrivateKey
    let denomination: Denomination
    var request: ChainRequest {
        ChainRequest(denomination: denomination, length: chain.length, root: chain.root, ownerKey: owner.publicKey)
    }
    func coin(_ voucher: VoucherID, _ index: Int) -> Coin {
        Coin(voucherID: voucher, index: index, value: chain.element(at: index))
    }
}

extension MemoryBankStore {
    /// Everything the bank holds, to assert that a rejected request changed nothing.
    var snapshot: String {
        let ledger = balances.map { "\($0.key)=\($0.value.paise)" }.sorted().joined(separator: ",")
        let rows = vouchers.values.map { "\($0.commitment.voucherID):\($0.redeemed.index):\($0.state)" }.sorted().joined(separator: ",")
        // The reply cache is left out: a refusal is remembered there (so a duplicate gets the
        // same answer) without changing any money or voucher.
        return "\(ledger)|\(rows)|\(codes.count)"
    }

    /// Double entry: every balance sums to zero, and no account but the external ones is negative.
    func checkLedger(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(balances.values.reduce(Int64(0)) { $0 + $1.paise } == 0, sourceLocation: sourceLocation)
        for (account, balance) in balances where !account.isExternal {
            #expect(balance >= .zero, "\(account) is \(balance)", sourceLocation: sourceLocation)
        }
        // The float holds exactly the unredeemed, unrefunded value of the vouchers.
        let outstanding = vouchers.values.reduce(Int64(0)) { total, row in
            if case .closed = row.state { return total }
            return total + row.unredeemedValue.paise
        }
        #expect((balances[.voucherFloat] ?? .zero).paise == outstanding, sourceLocation: sourceLocation)
    }
}
