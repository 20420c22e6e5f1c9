import QuickPayActors
import QuickPayAudit
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol

/// All five actors in one process on one seeded event queue: the pure actors in their host
/// cores over in-memory stores that model durability, customers driving the pure wallet, a
/// simulated network (delay, loss, duplication, partitions), a virtual clock that jumps when
/// nothing is due, crashes before and after commits, commit failures, clock skew. The same
/// seed replays the same run, event for event.
final class SimWorld {
    enum Event {
        case toServer(NodeID, HostInput)
        case toCustomer(Int, Envelope)
        case timer(NodeID)
        /// The server takes its inbox as one group.
        case drain(NodeID)
        case restart(NodeID)
        case heal(Link)
        case customer(Int)
        case retry(Int, RequestID)
        case redeem(NodeID)
    }

    /// Two ends of a link: a server, or a customer (its connections and its phone).
    enum End: Hashable, Comparable {
        case server(NodeID)
        case customer(Int)
        var rank: (Int, Int, String, Int) {
            switch self {
            case .server(let node): (0, node.rank.0, node.rank.1, 0)
            case .customer(let index): (1, 0, "", index)
            }
        }
        static func < (a: End, b: End) -> Bool { a.rank < b.rank }
    }

    struct Link: Hashable {
        let a: End, b: End
        init(_ x: End, _ y: End) { (a, b) = x < y ? (x, y) : (y, x) }
    }

    let config: SimConfig
    var rng: SplitMix64
    var now: Int64 = 0
    var queue = EventQueue<Event>()
    var servers: [NodeID: any SimServer] = [:]
    var nodes: [NodeID] = []
    var keys: [NodeID: Bytes32] = [:]
    var skew: [NodeID: Int64] = [:]
    var scheduledTimer: [NodeID: Int64] = [:]
    /// Inputs that reached a server and wait for its next drain (lost if it dies first, as a
    /// dying process's socket buffers are).
    var inbox: [NodeID: [HostInput]] = [:]
    var cut: Set<Link> = []
    var customers: [SimCustomer] = []
    var trace = TraceHash()
    var recent: [String] = []
    var violations: [String] = []
    var stats = SimStats()
    /// Faults stop here: the liveness phase heals everything and lets retries run.
    var faultsOn = true
    let epoch: Int64 = 1_800_000_000
    let bankStore = MemoryBankStore()
    let appStore = MemoryAppServerStore()
    let nspStore = MemoryNetworkProviderStore()
    var merchantStores: [ReceiverID: MemoryMerchantStore] = [:]
    var merchantModes: [ReceiverID: MerchantMode] = [:]
    var bankKey: SigningPublicKey
    /// The bank's blind key list when customers load blind vouchers (`config.scheme`).
    var blindKeys: BlindKeyList?
    var lastAudited: [NodeID: Int] = [:]
    var cachedBank: AuditData?
    var cachedBankVersion = -1
    var appHost: SimHost<AppServerActor, MemoryAppServerStore>?
    var merchantHosts: [ReceiverID: SimHost<MerchantActor, MemoryMerchantStore>] = [:]

    init(_ config: SimConfig) throws {
        self.config = config
        rng = SplitMix64(seed: config.seed)
        let signer = BankSigner(privateKey: .random(using: &rng))
        bankKey = signer.privateKey.publicKey
        var blindSigner: BlindSigner?
        if config.scheme == .blindRSA {
            let (list, blind) = try SimBlind.keys(bank: signer.privateKey, from: Timestamp(secondsSinceEpoch: epoch))
            blindKeys = list
            blindSigner = blind
        }
        var merchants: [(ReceiverID, MerchantMode)] = []
        for n in 0..<config.offlineMerchants { merchants.append((try ReceiverID("shop-\(n)"), .offline)) }
        for n in 0..<config.onlineMerchants { merchants.append((try ReceiverID("news-\(n)"), .online)) }
        nodes = [.bank, .appServer, .nsp] + merchants.map { .merchant($0.0) }
        for node in nodes {
            keys[node] = .random(using: &rng)
            skew[node] = config.clockSkewSeconds == 0 ? 0 : Int64(rng.next() % UInt64(2 * config.clockSkewSeconds + 1)) - config.clockSkewSeconds
        }
        var core = HostCoreConfig()
        core.crashPointsEnabled = false

        // The bank: accounts and receivers seeded, as a deployment's seed does.
        for (position, (receiver, mode)) in merchants.enumerated() {
            try bankStore.open(try AccountID("ACC-\(receiver.value.uppercased())"), deposit: .zero, receiver: (receiver, mode), phone: try Self.ownerPhone(position))
            merchantModes[receiver] = mode
        }
        // The key ceremony's SIMs: one per customer's phone (derived from the seed without
        // drawing from the run's generator, so adding them moved no other decision).
        let sims = (0..<config.customers).map { Self.sim(for: try! Self.customerPhone($0), seed: config.seed) }
        // And each customer's second phone, which no account has on record: what an attacker
        // registers someone else's account with (ATTACKS 25).
        let spareSims = (0..<config.customers).map { Self.sim(for: try! Self.sparePhone($0), seed: config.seed) }
        var bankConfig = BankConfig()
        bankConfig.callers = CallerPolicy(
            appServers: [keys[.appServer]!], merchants: Dictionary(uniqueKeysWithValues: merchants.map { (keys[.merchant($0.0)]!, $0.0) }))
        servers[.bank] = SimHost(node: .bank, store: bankStore, config: core, seed: rng.next()) { [bankStore] seed in
            BankActor(store: bankStore, signer: signer, blind: blindSigner, config: bankConfig, random: SplitMix64(seed: seed))
        }
        var appConfig = AppServerConfig()
        appConfig.passwordRounds = 100  // the simulation's explicit setting; OWASP strength is 600,000
        appConfig.lockoutSeconds = 120  // a guessed-at customer is back within a run
        let otpKey = Bytes32.random(using: &rng)
        let app = SimHost(node: .appServer, store: appStore, config: core, seed: rng.next()) { [appStore] seed in
            AppServerActor(store: appStore, config: appConfig, otpKey: otpKey, random: SplitMix64(seed: seed))
        }
        appHost = app
        servers[.appServer] = app
        let nspCallers = CallerPolicy(appServers: [keys[.appServer]!])
        servers[.nsp] = SimHost(node: .nsp, store: nspStore, config: core, seed: rng.next()) { [nspStore] seed in
            NetworkProviderActor(store: nspStore, sims: sims + spareSims, random: SplitMix64(seed: seed), callers: nspCallers)
        }
        for (receiver, mode) in merchants {
            let store = MemoryMerchantStore()
            merchantStores[receiver] = store
            var merchantConfig = MerchantConfig(receiverID: receiver, mode: mode)
            merchantConfig.callers = CallerPolicy(bank: keys[.bank]!)
            let receiptKey = SigningPrivateKey.random(using: &rng)
            let bankKey = self.bankKey
            let blindKeys = self.blindKeys
            let host = SimHost(node: .merchant(receiver), store: store, config: core, seed: rng.next()) { seed in
                MerchantActor(store: store, config: merchantConfig, bankKey: bankKey, blindKeys: blindKeys, receiptKey: receiptKey, random: SplitMix64(seed: seed))
            }
            merchantHosts[receiver] = host
            servers[.merchant(receiver)] = host
            // The merchant's owner, registered as a deployment would have it.
            try appStore.inGroup {
                var batch = AppServerBatch()
                batch.users = [UserRecord(
                    username: try Username(receiver.value), passwordHash: PasswordHasher(rounds: 1000).hash(try Password("merchant password"), salt: .random(using: &rng)),
                    phone: try Self.ownerPhone(merchants.firstIndex { $0.0 == receiver }!),
                    account: try AccountID("ACC-\(receiver.value.uppercased())"), role: .merchant)]
                try appStore.stage(batch)
            }
        }
        for index in 0..<config.customers {
            let account = try AccountID("ACC-C\(index)")
            try bankStore.open(account, deposit: Amount(paise: 200_000), phone: try Self.customerPhone(index))
            customers.append(SimCustomer(index: index, account: account, sim: sims[index], random: SplitMix64(seed: rng.next())))
        }
        stats.depositedPaise = Int64(config.customers) * 200_000
    }

    static func customerPhone(_ index: Int) throws -> PhoneNumber { try PhoneNumber("+9198\(String(format: "%08d", index))") }
    static func sparePhone(_ index: Int) throws -> PhoneNumber { try PhoneNumber("+9196\(String(format: "%08d", index))") }
    static func ownerPhone(_ position: Int) throws -> PhoneNumber { try PhoneNumber("+9197\(String(format: "%08d", position))") }
    static func sim(for phone: PhoneNumber, seed: UInt64) -> SimCard {
        SimCard(phone: phone, secret: Bytes32.sha256(of: Array("sim \(phone) \(seed)".utf8)))
    }

    // MARK: Time

    func time(_ node: NodeID) -> HostTime {
        HostTime(milliseconds: now, now: Timestamp(secondsSinceEpoch: epoch + now / 1000 + (skew[node] ?? 0)))
    }

    /// What customers and the checks call now (no skew).
    var timestamp: Timestamp { Timestamp(secondsSinceEpoch: epoch + now / 1000) }

    func schedule(_ event: Event, in milliseconds: Int64) { queue.push(event, at: now + max(0, milliseconds)) }

    func chance(_ probability: Double) -> Bool {
        guard probability > 0 else { return false }
        return Double(rng.next() >> 11) / Double(1 << 53) < probability
    }

    func random(_ range: ClosedRange<Int64>) -> Int64 { range.lowerBound + Int64(rng.next() % UInt64(range.upperBound - range.lowerBound + 1)) }

    func note(_ line: String) {
        trace.add(now)
        trace.add(line)
        recent.append("t=\(now) \(line)")
        if recent.count > 400 { recent.removeFirst(recent.count - 400) }
    }

    // MARK: The network

    func routing(_ node: NodeID) -> [UInt8] { Array("s:\(node)".utf8) }

    /// Where a routing id leads: a server (as the client of a peer request), or a customer.
    func end(of routing: [UInt8]) -> End? {
        let text = String(decoding: routing, as: UTF8.self)
        if text.hasPrefix("s:") { return nodes.first { "s:\($0)" == text }.map { .server($0) } }
        if text.hasPrefix("c:") || text.hasPrefix("d:"), let index = Int(text.dropFirst(2).split(separator: ":").first ?? "") { return .customer(index) }
        return nil
    }

    /// Sends one message across a link: it may be lost, duplicated, delayed; a cut link drops it.
    func transmit(_ event: Event, from: End, to: End) {
        guard !cut.contains(Link(from, to)) else {
            stats.dropped += 1
            return
        }
        if faultsOn && chance(config.lossRate) {
            stats.dropped += 1
            return
        }
        schedule(event, in: random(1...config.maximumDelayMilliseconds))
        if faultsOn && chance(config.duplicateRate) {
            stats.duplicated += 1
            schedule(event, in: random(1...config.maximumDelayMilliseconds * 3))
        }
    }

    /// What a server's group sends, once it is durable.
    func send(_ drained: Drained, from node: NodeID) {
        // The worker pool: the job runs now, its result comes back a little later (a password
        // hash at the simulation's rounds; a process runs it on another thread).
        for job in drained.jobs {
            schedule(.toServer(node, .computed(job.id, job.computation.run())), in: random(1...config.maximumDelayMilliseconds))
        }
        for frame in drained.frames {
            switch frame {
            case .toPeer(let peer, let bytes):
                if FrameSummary(bytes).type == "batch" { stats.batchesSent += 1 }
                let target = NodeID.of(peer)
                transmit(.toServer(target, .request(ClientID(routing(node), key: keys[node]), bytes)), from: .server(node), to: .server(target))
            case .toClient(let client, let bytes):
                switch end(of: client.routingID) {
                case .server(let caller)?:
                    guard let peer = node.peer else { continue }
                    transmit(.toServer(caller, .peerReply(peer, bytes)), from: .server(node), to: .server(caller))
                case .customer(let index)?:
                    guard let envelope = try? WireCodec().decode(bytes) else { continue }
                    transmit(.toCustomer(index, envelope), from: .server(node), to: .customer(index))
                case nil:
                    continue
                }
            }
        }
    }

    // MARK: Servers

    func handle(_ node: NodeID, _ work: (any SimServer) -> Drained) {
        guard let server = servers[node], server.isUp else { return }
        if faultsOn && chance(config.commitFailureRate) {
            stats.commitFailures += 1
            note("commit failure planted at \(node)")
            server.failNextCommit()
        }
        let drained = work(server)
        for case .groupFailed(let steps, let error) in drained.logs {
            stats.failedGroups += 1
            note("\(node): group of \(steps) failed: \(error)")
        }
        if faultsOn && !drained.committed.isEmpty && chance(config.crashAfterCommitRate) {
            // Died right after the group commit, before sending anything of it.
            stats.crashes += 1
            note("\(node) dies after committing \(drained.committed.joined(separator: ","))")
            crash(node)
            return
        }
        send(drained, from: node)
        scheduleTimer(node)
    }

    func scheduleTimer(_ node: NodeID) {
        guard let server = servers[node], server.isUp, let wakeup = server.nextWakeup() else { return }
        let at = max(wakeup, now + 1)
        if let scheduled = scheduledTimer[node], scheduled <= at, scheduled > now { return }
        scheduledTimer[node] = at
        queue.push(.timer(node), at: at)
    }

    func crash(_ node: NodeID) {
        servers[node]?.crash()
        scheduledTimer[node] = nil
        inbox[node] = nil
        schedule(.restart(node), in: random(1000...5000))
    }

    // MARK: The loop

    func step(_ event: Event) {
        switch event {
        case .toServer(let node, let input):
            switch input {
            case .request(let client, let bytes): note("\(node) <- \(String(decoding: client.routingID, as: UTF8.self)) \(bytes.count)B \(bytes.suffix(8).map(String.init).joined(separator: "."))")
            case .peerReply(let peer, let bytes): note("\(node) <- reply of \(peer) \(bytes.count)B")
            case .computed(let id, _): note("\(node) <- computed \(id)")
            }
            guard let server = servers[node], server.isUp else { return }
            if inbox[node] == nil { schedule(.drain(node), in: random(0...config.drainDelayMilliseconds)) }
            inbox[node, default: []].append(input)
        case .drain(let node):
            guard let inputs = inbox.removeValue(forKey: node) else { return }
            if inputs.count > 1 { stats.multiInputGroups += 1 }
            handle(node) { $0.drain(inputs, at: time(node)) }
        case .timer(let node):
            guard scheduledTimer[node] == now else { return }
            scheduledTimer[node] = nil
            handle(node) { $0.advance(to: time(node)) }
        case .restart(let node):
            note("\(node) restarts")
            servers[node]?.restart()
            scheduleTimer(node)
        case .heal(let link):
            note("link \(link.a)-\(link.b) healed")
            cut.remove(link)
        case .toCustomer(let index, let envelope):
            if case .error(let error) = envelope.body {
                note("customer \(index) <- \(error.code.name) from \(error.origin.map { "\($0)" } ?? "?") \(envelope.requestID): \(error.message)")
            } else {
                note("customer \(index) <- \(envelope.body.typeName) \(envelope.requestID)")
            }
            customerReceives(index, envelope)
        case .customer(let index):
            customerStep(index)
        case .retry(let index, let requestID):
            customerRetry(index, requestID)
        case .redeem(let node):
            operatorRedeems(node)
        }
    }

    /// A fault, maybe, before each event.
    func maybeFault() {
        guard faultsOn else { return }
        if chance(config.crashRate) {
            let node = nodes[Int(rng.next() % UInt64(nodes.count))]
            if servers[node]?.isUp == true {
                stats.crashes += 1
                note("\(node) crashes")
                crash(node)
            }
        }
        if chance(config.partitionRate) {
            let ends: [End] = nodes.map { .server($0) } + customers.indices.map { .customer($0) }
            let a = ends[Int(rng.next() % UInt64(ends.count))], b = ends[Int(rng.next() % UInt64(ends.count))]
            if a != b, case .server = a {
                let link = Link(a, b)
                if cut.insert(link).inserted {
                    stats.partitions += 1
                    note("link \(link.a)-\(link.b) cut")
                    schedule(.heal(link), in: random(1000...8000))
                }
            }
        }
    }
}

/// What a run counted.
public struct SimStats: Sendable {
    public var events = 0
    public var payments = 0
    public var paymentsAttempted = 0
    public var loads = 0
    public var unloads = 0
    public var refreshes = 0
    public var attacks = 0
    public var attacksRefused = 0
    public var dropped = 0
    public var duplicated = 0
    public var crashes = 0
    public var partitions = 0
    public var commitFailures = 0
    public var failedGroups = 0
    /// Groups of more than one input, and batch frames a server sent to a peer.
    public var multiInputGroups = 0
    public var batchesSent = 0
    public var depositedPaise: Int64 = 0
    public var virtualSeconds: Int64 = 0
}
