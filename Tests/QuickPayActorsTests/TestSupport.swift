import QuickPayCore
import QuickPayHostCore
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

/// An actor in its host core, driven by hand: requests, peer answers and ticks go through the
/// core (idempotency stage, group commit), and what it sends comes back as outputs.
struct TestHost<A: ServerActor> {
    var core: HostCore<A>
    var milliseconds: Int64 = 1_000_000
    let codec = WireCodec()

    init(_ actor: A, journal: any Journal<A.Batch>) {
        core = HostCore(actor: actor, journal: journal)
    }

    var actor: A { core.actor }

    /// What the group sent; the worker pool's jobs are run in place, their results handed back
    /// at once (what they send follows).
    mutating func outputs(_ drained: Drained) -> [Output] {
        var outputs = drained.frames.compactMap { frame -> Output? in
            switch frame {
            case .toClient(let client, let bytes): (try? codec.decode(bytes)).map { .reply(to: client, $0) }
            case .toPeer(let peer, let bytes): (try? codec.decode(bytes)).map { .request(to: peer, $0, deadlineMilliseconds: 0) }
            }
        }
        for job in drained.jobs {
            let at = time(lastNow)
            outputs += self.outputs(core.drain([.computed(job.id, job.computation.run())], at: at))
        }
        return outputs
    }

    /// The deployment time of the last input, for the results of the jobs it caused.
    var lastNow = t0

    mutating func time(_ now: Timestamp) -> HostTime {
        lastNow = now
        return HostTime(milliseconds: milliseconds, now: now)
    }

    mutating func send(_ envelope: Envelope, from client: ClientID, now: Timestamp = t0) -> [Output] {
        let at = time(now)
        return outputs(core.drain([.request(client, codec.encode(envelope))], at: at))
    }

    /// A peer's answer to a request the actor sent.
    mutating func answer(_ reply: Envelope, from peer: PeerName, now: Timestamp = t0) -> [Output] {
        let at = time(now)
        return outputs(core.drain([.peerReply(peer, codec.encode(reply))], at: at))
    }

    /// Lets every peer request in flight reach its deadline: the actor hears nil.
    mutating func timeOut(now: Timestamp = t0) -> [Output] {
        milliseconds += 60_000
        let at = time(now)
        return outputs(core.advance(to: at))
    }

    /// Runs the tick (and the other timers) at `now`.
    mutating func tick(now: Timestamp) -> [Output] {
        milliseconds += 1001
        let at = time(now)
        return outputs(core.advance(to: at))
    }

    /// An operator's action, as the control socket runs it.
    mutating func perform<T>(now: Timestamp = t0, _ body: (inout A, Timestamp) throws -> (T, Step<A.Batch>)) -> (Result<T, any Error>, [Output]) {
        let at = time(now)
        let (result, drained) = core.perform("control", at: at, body)
        return (result, outputs(drained))
    }
}

extension Journal {
    /// Commits one batch alone, as a group would.
    func commitAlone(_ batch: Batch) throws { try inGroup { try stage(batch) } }
}

extension MemoryBankStore {
    var balances: [LedgerAccount: Amount] { state.working.balances }
    var vouchers: [VoucherID: BankVoucher] { state.working.vouchers }
    var codes: Set<Bytes32> { state.working.codes }

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

extension TestHost where A == MerchantActor {
    /// The merchant's redemption, as the operator's `redeem` starts it.
    mutating func redeem(now: Timestamp = t0) -> [Output] {
        perform(now: now) { actor, now in ((), actor.redeem(now: now)) }.1
    }
}
