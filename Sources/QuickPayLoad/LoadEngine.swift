import Foundation
import Histogram
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import ZeroMQ

/// Nanoseconds on the monotonic clock.
func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Milliseconds since the Unix epoch on the wall clock (the time in a request id).
func unixMilliseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

/// Drives the load: one thread, one DEALER per customer and merchant (each with a fresh CURVE
/// key, as a wallet would), one per customer to the app server, one per merchant to its control
/// socket. Open loop: operation k is due at start + k/rate and its latency counts from then, so
/// a stall of the system (or of this generator) shows in the figures instead of hiding as
/// fewer samples (coordinated omission). Closed loop: `concurrency` users, each with one
/// operation outstanding, each sending its next when its last is answered (user u takes the
/// pairs u, u + concurrency, u + 2 concurrency, ... in turn: with as many users as customers,
/// each user is one customer paying one payment after another).
final class LoadEngine {
    let spec: LoadSpec
    let setup: LoadSetup
    let context: Context
    var results: LoadResults
    var customers: [LoadCustomer] { setup.customers }

    struct Pending {
        let operation: LoadSpec.Operation
        let intended: UInt64
        let measured: Bool
        let customer: Int
        let merchant: Int
        /// The chains whose coins the payment carried, to mark their vouchers acknowledged.
        let chains: [(denomination: Denomination, position: Int)]
        let expectedPaise: Int64
        /// The coins sent, by voucher: each needs its receipt.
        let coins: [(voucher: VoucherID, index: Int)]
        /// The closed loop's user that sent it (nil in an open loop).
        let user: Int?
    }

    /// Sockets by poll position: what each one is.
    enum Endpoint {
        case merchant(customer: Int, merchant: Int)
        case appServer(customer: Int)
        case control(merchant: Int)
    }

    var paySockets: [[Socket]] = []
    var appSockets: [Socket] = []
    var controlSockets: [Socket] = []
    var poller = Poller()
    var pollMap: [Endpoint] = []
    var pollSockets: [Socket] = []
    var pending: [RequestID: Pending] = [:]
    /// Redemption requests out at each merchant's control socket, by the tag the answer comes
    /// back under: waiting answers come back in the order they are ready, not the order asked.
    var redeemsOut: [[UInt64: Pending]] = []
    var nextRedeemTag: UInt64 = 0
    /// Redemptions due while a merchant already had `redeemsOutPerMerchant` out (the most its
    /// control socket lets wait), oldest first: sent as answers come, timed from when due.
    var redeemsHeld: [[Pending]] = []
    static let redeemsOutPerMerchant = 8
    var generator = SplitMix64(seed: 42)
    let codec = WireCodec()
    var dispatched = 0
    /// At an online merchant a customer has one payment out at a time (the merchant refuses a
    /// second one on a voucher the bank is still verifying): payments due meanwhile wait here,
    /// and their latency still counts from when they were due. At an offline merchant payments
    /// are pipelined on the customer's connection, which keeps them in order.
    var paying: Set<Int> = []
    var waiting: [Int: [(multi: Bool, intended: UInt64, measured: Bool, user: Int?)]] = [:]
    var turns: [LoadSpec.Operation: Int] = [:]
    /// Closed loop: each user's own count of each kind of operation.
    var userTurns: [[LoadSpec.Operation: Int]] = []
    let measureStart: UInt64
    let measureEnd: UInt64
    let progress: Bool
    let rssPIDs: [String: Int32]

    init(spec: LoadSpec, setup: LoadSetup, progress: Bool) throws {
        self.spec = spec
        self.setup = setup
        self.progress = progress
        context = try Context()
        results = LoadResults(spec: spec)
        let start = nowNanoseconds() + 200_000_000
        measureStart = start + UInt64(spec.warmupSeconds * 1e9)
        measureEnd = measureStart + UInt64(spec.seconds * 1e9)
        scheduleStart = start
        var pids: [String: Int32] = [:]
        for merchant in spec.merchants { pids["merchant-\(merchant.id)"] = setup.deployment.processes["merchant-\(merchant.id)"]?.processIdentifier }
        pids["bank"] = setup.deployment.processes["bank"]?.processIdentifier
        rssPIDs = pids
        let deployment = setup.deployment
        for customer in setup.customers {
            var row: [Socket] = []
            for (position, merchant) in spec.merchants.enumerated() {
                let socket = try dealer(deployment.endpoints["merchant-\(merchant.id)"]!, try deployment.clientSecurity(to: "merchant-\(merchant.id)"))
                row.append(socket)
                register(socket, .merchant(customer: customer.index, merchant: position))
            }
            paySockets.append(row)
            if spec.mix[.load, default: 0] > 0 {
                let socket = try dealer(deployment.endpoints["appserver"]!, try deployment.clientSecurity(to: "appserver"))
                appSockets.append(socket)
                register(socket, .appServer(customer: customer.index))
            }
        }
        for (position, merchant) in spec.merchants.enumerated() where spec.mix[.redeem, default: 0] > 0 {
            let name = "merchant-\(merchant.id)"
            let socket = try dealer(deployment.endpoints["\(name)-control"]!, try deployment.controlSecurity(name))
            controlSockets.append(socket)
            register(socket, .control(merchant: position))
        }
        redeemsOut = Array(repeating: [:], count: spec.merchants.count)
        redeemsHeld = Array(repeating: [], count: spec.merchants.count)
    }
    let scheduleStart: UInt64

    func dealer(_ endpoint: String, _ security: ClientSecurity) throws -> Socket {
        let socket = try context.socket(.dealer)
        try socket.setSendHighWaterMark(1_000_000)
        try socket.setReceiveHighWaterMark(1_000_000)
        try security.secure(socket, for: endpoint)
        try socket.connect(endpoint)
        return socket
    }

    func register(_ socket: Socket, _ endpoint: Endpoint) {
        poller.register(socket)
        pollMap.append(endpoint)
        pollSockets.append(socket)
    }

    /// Waits until every connection has finished its handshake (one health-free probe each is not
    /// possible on DEALERs, so a short pause suffices: CURVE handshakes take about a millisecond).
    func warmConnections() { usleep(300_000) }

    // MARK: Running

    func run() throws -> LoadResults {
        warmConnections()
        var nextProgress = scheduleStart + 1_000_000_000
        switch spec.pacing {
        case .open(let rate):
            let interval = 1e9 / rate
            var k = 0
            while true {
                let now = nowNanoseconds()
                if now >= measureEnd { break }
                var burst = 0
                while burst < 2000 {
                    let due = scheduleStart + UInt64(Double(k) * interval)
                    guard due <= now, due < measureEnd else { break }
                    dispatch(spec.operation(k), intended: due, user: nil)
                    k += 1
                    burst += 1
                }
                let nextDue = scheduleStart + UInt64(Double(k) * interval)
                let wait = nextDue > now ? Int((nextDue - now) / 1_000_000) : 0
                // Below a millisecond zmq_poll cannot wait; sleep briefly instead of spinning, so the
                // generator leaves the actors the CPU (what is due is sent, late, and counted late).
                if try !receive(timeoutMilliseconds: min(wait, 5)), wait == 0, nextDue > now {
                    usleep(UInt32(min((nextDue - now) / 1000, 200)))
                }
                if now >= nextProgress { tick(now); nextProgress += 1_000_000_000 }
            }
        case .closed(let concurrency):
            while nowNanoseconds() < scheduleStart { usleep(1000) }
            userTurns = Array(repeating: [:], count: concurrency)
            for user in 0..<concurrency { dispatchNextClosed(user: user) }
            while true {
                let now = nowNanoseconds()
                if now >= measureEnd { break }
                try receive(timeoutMilliseconds: 5, closedLoop: true)
                if now >= nextProgress { tick(now); nextProgress += 1_000_000_000 }
            }
        }
        // Whatever is still out is given five seconds; after that it counts as unanswered, with
        // the latency it had reached (never less than it really was).
        let drainDeadline = nowNanoseconds() + 5_000_000_000
        while !pending.isEmpty || redeemsOut.contains(where: { !$0.isEmpty }) || waiting.values.contains(where: { !$0.isEmpty }),
            nowNanoseconds() < drainDeadline
        {
            try receive(timeoutMilliseconds: 20)
        }
        let now = nowNanoseconds()
        for entry in pending.values + redeemsOut.flatMap(\.values) + redeemsHeld.joined() where entry.measured {
            results.record(entry.operation, latencyNanoseconds: now - entry.intended, at: entry.intended - measureStart, error: "UNANSWERED")
        }
        for entry in waiting.values.flatMap({ $0 }) where entry.measured {
            results.record(entry.multi ? .multi : .single, latencyNanoseconds: now - entry.intended, at: entry.intended - measureStart, error: "UNANSWERED")
        }
        if progress { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        results.sampleMemory(rssPIDs, second: Double(nowNanoseconds() - measureStart) / 1e9)
        return results
    }

    var closedCounter = 0
    /// The round-robin position of a closed loop user's `own`-th operation of a kind: user u
    /// takes u, u + users, u + 2 users, ... (position p is customer p mod customers, merchant
    /// p / customers mod merchants), so with as many users as (customer, merchant) pairs each
    /// user keeps to one pair and never has two payments out.
    static func closedLoopTurn(user: Int, own: Int, users: Int) -> Int { user + own * users }

    /// The (customer, merchant) pair of a round-robin position: the customers in turn, then the
    /// next merchant.
    static func pair(turn: Int, customers: Int, merchants: Int) -> (customer: Int, merchant: Int) {
        (turn % customers, (turn / customers) % merchants)
    }
    /// The user's last operation is answered: its next one leaves now (the operation's kind
    /// from the mix's shared count, its pair from the user's own count of that kind).
    func dispatchNextClosed(user: Int) {
        let now = nowNanoseconds()
        guard now < measureEnd else { return }
        dispatch(spec.operation(closedCounter), intended: now, user: user)
        closedCounter += 1
    }

    func tick(_ now: UInt64) {
        results.sampleMemory(rssPIDs, second: now > measureStart ? Double(now - measureStart) / 1e9 : -Double(measureStart - now) / 1e9)
        guard progress else { return }
        let line = results.progressLine(elapsed: Double(Int64(now) - Int64(measureStart)) / 1e9, warmup: now < measureStart)
        FileHandle.standardError.write(("\r" + line + "   ").data(using: .utf8)!)
    }

    // MARK: Operations

    func dispatch(_ operation: LoadSpec.Operation, intended: UInt64, user: Int?) {
        let measured = intended >= measureStart && intended < measureEnd
        if measured { results.offered[operation, default: 0] += 1 }
        // Each kind of operation goes round the customers and merchants on its own count, so
        // every (customer, merchant) pair gets its share of every kind (its coins were sized so);
        // a closed loop's user goes round its own pairs.
        let turn: Int
        if let user {
            let own = userTurns[user][operation, default: 0]
            userTurns[user][operation] = own + 1
            turn = Self.closedLoopTurn(user: user, own: own, users: userTurns.count)
        } else {
            turn = turns[operation, default: 0]
            turns[operation] = turn + 1
        }
        let (customerIndex, merchant) = Self.pair(turn: turn, customers: customers.count, merchants: spec.merchants.count)
        dispatched += 1
        do {
            switch operation {
            case .single: try pay(customerIndex, merchant, multi: false, intended: intended, measured: measured, user: user)
            case .multi: try pay(customerIndex, merchant, multi: true, intended: intended, measured: measured, user: user)
            case .load: try load(customerIndex, merchant, intended: intended, measured: measured, user: user)
            case .redeem: try redeem(merchant, intended: intended, measured: measured, user: user)
            }
        } catch {
            if measured { results.record(operation, latencyNanoseconds: nil, at: intended - measureStart, error: Self.failureCode(error)) }
            userStopped(user)
        }
    }

    /// Why an operation could not leave: the customer's coins ran out, a refusal, or the send.
    static func failureCode(_ error: any Error) -> String {
        guard let error = error as? QuickPayError else { return "SEND_FAILED" }
        return error.message == "EXHAUSTED" ? "EXHAUSTED" : error.code.name
    }

    /// A closed loop's user whose next operation could not leave has nothing outstanding and
    /// sends no more (sending again at once would spin on an empty pool): the run reports it,
    /// since the loop then holds fewer operations than it says.
    func userStopped(_ user: Int?) {
        if user != nil { results.closedLoopUsersStopped += 1 }
    }

    struct Exhausted: Error {}

    func pay(_ customerIndex: Int, _ merchant: Int, multi: Bool, intended: UInt64, measured: Bool, user: Int?) throws {
        let pair = customerIndex * spec.merchants.count + merchant
        let oneAtATime = spec.merchants[merchant].mode == .online
        if oneAtATime && paying.contains(pair) {
            waiting[pair, default: []].append((multi, intended, measured, user))
            if measured { results.heldForTheirCustomer += 1 }
            return
        }
        let customer = customers[customerIndex]
        var coins: [Coin] = []
        var vouchers: [SignedVoucher] = []
        var used: [(Denomination, Int)] = []
        func take(_ chain: inout CoinChain) {
            chain.spent += 1
            coins.append(Coin(voucherID: chain.voucher.id, index: chain.spent, value: chain.chain.element(at: chain.spent)))
            if !chain.acknowledged { vouchers.append(chain.voucher) }
        }
        if multi {
            for denomination in [Denomination.rs10, .rs5, .rs1] {
                guard let position = customer.multis[merchant][denomination]?.firstIndex(where: { $0.remaining > 0 }) else {
                    throw QuickPayError(.insufficientFunds, "EXHAUSTED")
                }
                take(&customer.multis[merchant][denomination]![position])
                used.append((denomination, position))
            }
        } else {
            guard let position = customer.singles[merchant].firstIndex(where: { $0.remaining > 0 }) else { throw QuickPayError(.insufficientFunds, "EXHAUSTED") }
            take(&customer.singles[merchant][position])
            used.append((.rs1, position))
        }
        let payment = try Payment(coins: coins, vouchers: vouchers)
        // As the wallet does: ids in time order, so the merchant's index of kept answers grows at its end.
        let requestID = spec.randomRequestIDs ? RequestID.random(using: &generator)
            : RequestID.timeOrdered(unixMilliseconds: unixMilliseconds(), using: &generator)
        try paySockets[customerIndex][merchant].send(codec.encode(Envelope(requestID: requestID, body: .payment(payment))), flags: .dontWait)
        if oneAtATime { paying.insert(pair) }
        pending[requestID] = Pending(
            operation: multi ? .multi : .single, intended: intended, measured: measured, customer: customerIndex, merchant: merchant,
            chains: used.map { (denomination: $0.0, position: $0.1) }, expectedPaise: multi ? 1600 : 100,
            coins: coins.map { (voucher: $0.voucherID, index: $0.index) }, user: user)
    }

    func load(_ customerIndex: Int, _ merchant: Int, intended: UInt64, measured: Bool, user: Int?) throws {
        let seed = Bytes32.random(using: &generator)
        let chain = HashChain(seed: seed, length: try ChainLength(1))
        let owner = SigningPrivateKey(seed: Bytes32.random(using: &generator)).publicKey
        let request = LoadRequest(
            session: customers[customerIndex].session, receiverID: setup.merchantIDs[merchant],
            chains: [ChainRequest(denomination: .rs10, length: chain.length, root: chain.root, ownerKey: owner)])
        let requestID = RequestID.random(using: &generator)
        try appSockets[customerIndex].send(codec.encode(Envelope(requestID: requestID, body: .load(request))), flags: .dontWait)
        pending[requestID] = Pending(operation: .load, intended: intended, measured: measured, customer: customerIndex, merchant: merchant, chains: [], expectedPaise: 1000, coins: [], user: user)
    }

    func redeem(_ merchant: Int, intended: UInt64, measured: Bool, user: Int?) throws {
        // DEALER to the control socket's ROUTER: a tag, the empty delimiter, then the request;
        // the answer comes back under the same tag. The merchant answers once the bank has
        // credited every coin it held (`wait`), not when the redemption leaves.
        let entry = Pending(operation: .redeem, intended: intended, measured: measured, customer: 0, merchant: merchant, chains: [], expectedPaise: 0, coins: [], user: user)
        guard redeemsOut[merchant].count < Self.redeemsOutPerMerchant else {
            redeemsHeld[merchant].append(entry)
            if measured { results.redeemsHeld += 1 }
            return
        }
        try send(entry)
    }

    func send(_ redeem: Pending) throws {
        nextRedeemTag += 1
        try controlSockets[redeem.merchant].send(multipart: [Self.tagFrame(nextRedeemTag), [], ControlJSON.encode(["action": "redeem", "wait": true])], flags: .dontWait)
        redeemsOut[redeem.merchant][nextRedeemTag] = redeem
    }

    static func tagFrame(_ tag: UInt64) -> [UInt8] { withUnsafeBytes(of: tag.littleEndian, Array.init) }

    static func tag(_ frame: [UInt8]) -> UInt64? {
        guard frame.count == 8 else { return nil }
        return frame.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    // MARK: Answers

    /// Reads every answer waiting (after up to `timeoutMilliseconds`); true if there were any.
    @discardableResult
    func receive(timeoutMilliseconds: Int, closedLoop: Bool = false) throws -> Bool {
        let events = try poller.poll(timeoutMilliseconds: timeoutMilliseconds)
        var any = false
        for (position, event) in events.enumerated() where event.contains(.readable) {
            any = true
            let socket = pollSockets[position]
            while let frames = try socket.receive(flags: .dontWait, maximumFrames: 4) {
                var now = nowNanoseconds()
                let answered: Pending
                switch pollMap[position] {
                case .control(let merchant):
                    guard frames.count == 3, let tag = Self.tag(frames[0]), let entry = redeemsOut[merchant].removeValue(forKey: tag) else { continue }
                    answered = entry
                    if !redeemsHeld[merchant].isEmpty { try send(redeemsHeld[merchant].removeFirst()) }
                    let answer = ControlJSON.decode(frames.last ?? [])
                    let ok = answer?["ok"] as? Bool == true
                    if entry.measured {
                        results.record(.redeem, latencyNanoseconds: now - entry.intended, at: entry.intended - measureStart, error: ok ? nil : (answer?["code"] as? String ?? "FAILED"))
                    }
                case .merchant, .appServer:
                    guard let envelope = try? codec.decode(frames.last ?? []), let entry = pending.removeValue(forKey: envelope.requestID) else { continue }
                    answered = entry
                    var error: String?
                    switch envelope.body {
                    case .paymentReply(let reply):
                        if reply.amount.paise != entry.expectedPaise { error = "AMOUNT_MISMATCH" }
                        acknowledge(entry)
                        // The client's work: every receipt checked as a wallet checks it, inside
                        // the latency (the payment is done when its receipt is), and timed alone.
                        let checking = nowNanoseconds()
                        if let refusal = checkReceipts(reply, entry), error == nil { error = refusal }
                        let checked = nowNanoseconds()
                        if entry.measured { results.clientWork(receipts: entry.coins.count, nanoseconds: checked - checking) }
                        now = checked
                    case .loadReply: break
                    case .error(let refusal): error = refusal.code.name
                    default: error = "UNEXPECTED_\(envelope.body.typeName)"
                    }
                    if entry.measured { results.record(entry.operation, latencyNanoseconds: now - entry.intended, at: entry.intended - measureStart, error: error) }
                    if entry.operation == .single || entry.operation == .multi { nextPayment(entry.customer, entry.merchant) }
                }
                if closedLoop, let user = answered.user { dispatchNextClosed(user: user) }
            }
        }
        return any
    }

    /// The pair's payment is answered: send the next one that waited, if any.
    func nextPayment(_ customerIndex: Int, _ merchant: Int) {
        let pair = customerIndex * spec.merchants.count + merchant
        paying.remove(pair)
        guard var queue = waiting[pair], !queue.isEmpty else { return }
        let next = queue.removeFirst()
        waiting[pair] = queue
        do {
            try pay(customerIndex, merchant, multi: next.multi, intended: next.intended, measured: next.measured, user: next.user)
        } catch {
            if next.measured {
                results.record(next.multi ? .multi : .single, latencyNanoseconds: nil, at: next.intended - measureStart, error: Self.failureCode(error))
            }
            userStopped(next.user)
            nextPayment(customerIndex, merchant)
        }
    }

    /// Checks each coin's receipt as `Wallet.acceptReceipts` does: the merchant's signed receipt
    /// root (one Ed25519 verification per voucher), the receipt newer than the last and on that
    /// chain at the coin's index (hashed from the last receipt checked, or from the root).
    /// nil, or the refusal's code.
    func checkReceipts(_ reply: PaymentReply, _ entry: Pending) -> String? {
        let customer = customers[entry.customer]
        for ((denomination, position), coin) in zip(entry.chains, entry.coins) {
            var chain = entry.operation == .single ? customer.singles[entry.merchant][position] : customer.multis[entry.merchant][denomination]![position]
            guard let receipt = reply.receipts.first(where: { $0.voucherID == coin.voucher }), receipt.index == coin.index else { return "NO_RECEIPT" }
            if chain.receiptRoot == nil {
                guard let root = reply.receiptRoots.first(where: { $0.commitment.voucherID == coin.voucher }), (try? root.verify()) != nil else { return "BAD_RECEIPT_ROOT" }
                chain.receiptRoot = root
            }
            let after = chain.lastReceiptValue.map { ChainPosition(index: chain.lastReceipt, value: $0) } ?? chain.receiptRoot.map { .root($0.commitment.root) }
            guard let root = chain.receiptRoot, let after, receipt.index > chain.lastReceipt,
                (try? ChainVerifier.verify(receipt.position, after: after, length: root.commitment.length)) != nil
            else { return "BAD_RECEIPT" }
            chain.lastReceipt = receipt.index
            chain.lastReceiptValue = receipt.value
            if entry.operation == .single {
                customer.singles[entry.merchant][position] = chain
            } else {
                customer.multis[entry.merchant][denomination]![position] = chain
            }
        }
        return nil
    }

    func acknowledge(_ entry: Pending) {
        let customer = customers[entry.customer]
        for (denomination, position) in entry.chains {
            if entry.operation == .single {
                customer.singles[entry.merchant][position].acknowledged = true
            } else {
                customer.multis[entry.merchant][denomination]?[position].acknowledged = true
            }
        }
    }
}
