import ArgumentParser
import Foundation
import QuickPayActors
import QuickPayHostCore
import QuickPayCore
import QuickPayProtocol
import QuickPayStore

/// `quickpay bench actors`: the merchant's and the bank's own code paths with their real SQLite
/// stores (durable, `synchronous = FULL`), no network: frames in, frames out through the host
/// core (decoding, the idempotency stage, group commit, encoding), as the process runs them.
/// What each could do if the transport were free. Group commit is measured against one
/// transaction per request, in the same run.
struct ActorsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actors",
        abstract: "Merchant payments/s and bank redemption coins/s through the actors and SQLite, with and without group commit; bank bytes per voucher.",
        discussion: """
            Example:
              swift build -c release && .build/release/quickpay bench actors
            """
    )

    @Option(help: "Single-coin payments per merchant measurement.") var payments = 20_000
    @Option(help: "Vouchers the merchant's payments spread over, in turn (fewer: more payments per voucher in a group, as streaming customers pay).")
    var merchantVouchers = 200
    @Option(help: "Vouchers for the bank measurements.") var vouchers = 2_000
    @Option(help: "Folder for the SQLite files (a fresh subfolder is made and removed).") var folder = NSTemporaryDirectory()
    @Option(parsing: .upToNextOption, help: "Requests per transaction to measure the merchant at (to profile one: --groups 256 --merchant-only).") var groups: [Int] = [1, 16, 256]
    @Flag(help: "Measure the merchant only (no bank figures).") var merchantOnly = false
    @Flag(help: "Skip the run with random request ids (for instruction counts: one run, as wallets pay).") var timeOrderedOnly = false

    func run() throws {
        let root = "\(folder)/quickpay-bench-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var generator = SplitMix64(seed: 7)
        let signer = BankSigner(privateKey: .random(using: &generator))
        let shop = try ReceiverID("chai-stall")
        let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
        print("quickpay bench actors: SQLite WAL, synchronous=FULL, files under \(root)")

        // Merchant: single-coin payments, offline mode.
        var figures: [Int: Double] = [:]
        var randomIDs: [Int: Double] = [:]
        for (group, layout) in groups.filter({ $0 > 0 }).map({ ($0, IDLayout.timeOrdered) }) + (groups.contains(256) && !timeOrderedOnly ? [(256, .random)] : []) {
            let store = try SQLiteMerchantStore(path: "\(root)/merchant-\(group).sqlite")
            var merchant = HostCore(actor: MerchantActor(
                store: store, config: MerchantConfig(receiverID: shop, mode: .offline), bankKey: signer.privateKey.publicKey,
                receiptKey: .random(using: &generator), random: SplitMix64(seed: 9)), journal: store)
            // `merchantVouchers` in use at a time, paid in turn; each spent to its end (N = 1000),
            // then the next set: as many vouchers as the payments need.
            let active = max(1, merchantVouchers)
            let count = payments
            let voucherCount = (count + 999) / 1000 + active
            var chains: [(SignedVoucher, HashChain)] = []
            for _ in 0..<voucherCount {
                let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(1000))
                let commitment = VoucherCommitment(
                    voucherID: .random(using: &generator), receiverID: shop, denomination: .rs1, length: chain.length, root: chain.root,
                    expiry: Timestamp(secondsSinceEpoch: now.secondsSinceEpoch + 86_400), ownerKey: SigningPrivateKey.random(using: &generator).publicKey,
                    keyID: signer.privateKey.publicKey.keyID)
                chains.append((signer.sign(commitment), chain))
            }
            var spent = Array(repeating: 0, count: voucherCount)
            var envelopes: [[UInt8]] = []
            let codec = WireCodec()
            for n in 0..<count {
                let v = n / (active * 1000) * active + n % active
                spent[v] += 1
                let coin = Coin(voucherID: chains[v].0.id, index: spent[v], value: chains[v].1.element(at: spent[v]))
                // Ids as wallets make them (time-ordered, as if paid at 30,000/s), or random (the layout before).
                let requestID = layout == .random ? RequestID.random(using: &generator)
                    : RequestID.timeOrdered(unixMilliseconds: now.secondsSinceEpoch * 1000 + Int64(n / 30), using: &generator)
                envelopes.append(codec.encode(Envelope(requestID: requestID, body: .payment(try Payment(coins: [coin], vouchers: spent[v] == 1 ? [chains[v].0] : [])))))
            }
            let client = ClientID([1])
            var failures = 0
            let started = nowSeconds()
            let cpuStarted = cpuSeconds()
            var position = 0
            while position < envelopes.count {
                let end = min(position + group, envelopes.count)
                let drained = measuredDrain(&merchant, envelopes[position..<end].map { .request(client, $0) }, at: HostTime(milliseconds: 0, now: now))
                // A wire scan, not a decode: the bench's own work stays out of the figure.
                for case .toClient(_, let frame) in drained.frames where FrameSummary(frame).type == "error" { failures += 1 }
                position = end
            }
            let seconds = nowSeconds() - started
            let cpu = cpuSeconds() - cpuStarted
            let rate = Double(count) / seconds
            if layout == .random { randomIDs[group] = rate } else { figures[group] = rate }
            print(String(format: "  merchant, %3d requests per transaction: %9.0f durable single-coin payments/s (%d payments, %d vouchers at a time, %d refused, %d row writes)%@", group, rate,
                         count, active, failures, store.positionWrites, layout == .random ? ", random request ids" : ""))
            print(String(format: "    CPU per payment: %.2f µs on this thread (wall %.2f µs; the rest is waiting for fdatasync)", cpu * 1e6 / Double(count), seconds * 1e6 / Double(count)))
        }
        if let timeOrdered = figures[256], let random = randomIDs[256] {
            print(String(format: "  time-ordered request ids (UUIDv7) over random ones, 256 per transaction: %.2fx", timeOrdered / random))
        }
        if let grouped = figures[256], let single = figures[1] {
            print(String(format: "  group commit (256) over one transaction per payment: %.1fx", grouped / single))
        }
        if merchantOnly { return }

        // Bank: redemption of whole vouchers (one coin at index N credits N coins) and of single steps.
        let bankStore = try SQLiteBankStore(path: "\(root)/bank.sqlite")
        let account = try AccountID("ACC-ALICE")
        try bankStore.seed(account, deposit: Amount(paise: Int64(vouchers) * 100_000 + 100), receiver: nil)
        try bankStore.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
        let emptySize = try fileBytes("\(root)/bank.sqlite", bankStore)
        var bank = HostCore(actor: BankActor(store: bankStore, signer: signer, random: SplitMix64(seed: 11)), journal: bankStore)
        let appServer = ClientID([2])
        var loaded: [(SignedVoucher, HashChain)] = []
        let loadStarted = nowSeconds()
        for _ in 0..<vouchers {
            let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(1000))
            let request = LoadRequest(account: account, receiverID: shop, chains: [ChainRequest(
                denomination: .rs1, length: chain.length, root: chain.root, ownerKey: SigningPrivateKey.random(using: &generator).publicKey)])
            guard case .loadReply(let answer)? = try answer(&bank, .bankLoad(request), appServer, now, &generator) else { throw ValidationError("the bank refused a load") }
            loaded.append((answer.vouchers[0], chain))
        }
        let loadSeconds = nowSeconds() - loadStarted
        let loadedSize = try fileBytes("\(root)/bank.sqlite", bankStore)
        print(String(format: "  bank loads: %d vouchers (N = 1000) at %.0f/s, one transaction each (Ed25519 signing included)", vouchers, Double(vouchers) / loadSeconds))
        print(String(format: "  bank storage: %.0f bytes per voucher of file growth over %d vouchers of N = 1000 (voucher row, ledger entry, kept load answer)", Double(loadedSize - emptySize) / Double(vouchers), vouchers))
        func perVoucher(_ tables: [String: Int], _ names: [String]) -> Double { Double(names.reduce(0) { $0 + (tables[$1] ?? 0) }) / Double(vouchers) }
        let tables = try bankStore.tableBytes()
        let answerTables = tables.keys.filter { $0.hasPrefix("answers") }
        let stateTables = tables.keys.filter { !$0.hasPrefix("answers") && !$0.hasPrefix("sqlite_") }
        print(String(format: "    live bytes per voucher (dbstat): %.0f in vouchers and ledger tables, %.0f in kept answers", perVoucher(tables, stateTables), perVoucher(tables, answerTables)))
        // Past retention: answers go, the compact permanent record of each load's id stays.
        var later = HostTime(milliseconds: 0, now: now.adding(seconds: 2 * 86_400))
        for _ in 0...(vouchers / 1000 + 1) {
            later.milliseconds += 2000
            _ = bank.advance(to: later)
        }
        let after = try bankStore.tableBytes()
        print(String(format: "    after the answer retention has passed: %.0f bytes per voucher in all tables (%.0f in permanent load ids)", perVoucher(after, Array(after.keys.filter { !$0.hasPrefix("sqlite_") })), perVoucher(after, answerTables)))

        // Half the vouchers are redeemed one step each (the worst case: one hash, one row per coin)...
        let merchantClient = ClientID([3])
        let half = vouchers / 2
        var steps = 0
        var started = nowSeconds()
        for batchStart in stride(from: 0, to: half, by: Redeem.maximumCoins) {
            let coins = (batchStart..<min(batchStart + Redeem.maximumCoins, half)).map { Coin(voucherID: loaded[$0].0.id, index: 1, value: loaded[$0].1.element(at: 1)) }
            steps += try redeem(&bank, coins, merchantClient, now, &generator)
        }
        let stepSeconds = nowSeconds() - started
        print(String(format: "  bank redemption, one coin per voucher:  %9.0f coins credited/s (%d coins, %d requests of up to 256)", Double(steps) / stepSeconds, steps, (half + 255) / 256))
        // ... and the other half whole: a merchant redeems the last coin it holds, N coins at once.
        steps = 0
        started = nowSeconds()
        for batchStart in stride(from: half, to: vouchers, by: Redeem.maximumCoins) {
            let coins = (batchStart..<min(batchStart + Redeem.maximumCoins, vouchers)).map { Coin(voucherID: loaded[$0].0.id, index: 1000, value: loaded[$0].1.element(at: 1000)) }
            steps += try redeem(&bank, coins, merchantClient, now, &generator)
        }
        let wholeSeconds = nowSeconds() - started
        print(String(format: "  bank redemption, whole vouchers (N = 1000): %9.0f coins credited/s (%d coins in %.3f s: %.0f vouchers/s)", Double(steps) / wholeSeconds, steps, wholeSeconds, Double(vouchers - half) / wholeSeconds))
    }

    func redeem(_ bank: inout HostCore<BankActor>, _ coins: [Coin], _ client: ClientID, _ now: Timestamp, _ generator: inout SplitMix64) throws -> Int {
        guard case .redeemReply(let answer)? = try self.answer(&bank, .redeem(Redeem(receiverID: try ReceiverID("chai-stall"), coins: coins)), client, now, &generator) else {
            throw ValidationError("the bank refused a redemption")
        }
        return Int(answer.totalCredited.paise / 100)
    }

    /// One request through the bank's host core, its group committed: the answer.
    func answer(_ bank: inout HostCore<BankActor>, _ body: Body, _ client: ClientID, _ now: Timestamp, _ generator: inout SplitMix64) throws -> Body? {
        let codec = WireCodec()
        let drained = bank.drain([.request(client, codec.encode(Envelope(requestID: .random(using: &generator), body: body)))], at: HostTime(milliseconds: 0, now: now))
        for case .toClient(_, let frame) in drained.frames { return try codec.decode(frame).body }
        return nil
    }

    /// The database's size on disk with its write-ahead log folded in.
    func fileBytes(_ path: String, _ store: SQLiteBankStore) throws -> Int {
        try store.checkpoint()
        return (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}

/// How the bench's payments lay out their request ids.
enum IDLayout { case timeOrdered, random }

/// CPU time of the calling thread (the actor's work; the checkpointer runs on another).
func cpuSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func nowSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// One group of the merchant's host core, never inlined: the function whose instructions
/// `scripts/instructions-per-payment.sh` counts (callgrind's `--toggle-collect`), whatever the
/// optimizer does with the core's own functions (inlined or specialized across modules).
@inline(never)
func measuredDrain(_ core: inout HostCore<MerchantActor>, _ inputs: [HostInput], at time: HostTime) -> Drained {
    core.drain(inputs, at: time)
}
