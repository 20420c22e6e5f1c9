import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol

/// A server of the simulation: one of the five actors, in its host core, over an in-memory
/// store that models durability.
enum NodeID: Hashable, Comparable, CustomStringConvertible {
    case bank, appServer, nsp
    case merchant(ReceiverID)

    var description: String {
        switch self {
        case .bank: "bank"
        case .appServer: "appserver"
        case .nsp: "nsp"
        case .merchant(let id): "merchant:\(id)"
        }
    }

    /// How the actors name this node as a peer.
    var peer: PeerName? {
        switch self {
        case .bank: .bank
        case .nsp: .networkProvider
        case .merchant(let id): .merchant(id)
        case .appServer: nil
        }
    }

    static func of(_ peer: PeerName) -> NodeID {
        switch peer {
        case .bank: .bank
        case .networkProvider: .nsp
        case .merchant(let id): .merchant(id)
        }
    }

    var rank: (Int, String) {
        switch self {
        case .bank: (0, "")
        case .appServer: (1, "")
        case .nsp: (2, "")
        case .merchant(let id): (3, id.value)
        }
    }

    static func < (a: NodeID, b: NodeID) -> Bool { a.rank < b.rank }
}

/// What the world asks of a server, whatever its actor.
protocol SimServer: AnyObject {
    var node: NodeID { get }
    var isUp: Bool { get }
    /// Incremented each time the server's durable state changes (for the checks).
    var version: Int { get }
    func drain(_ inputs: [HostInput], at time: HostTime) -> Drained
    func advance(to time: HostTime) -> Drained
    func nextWakeup() -> Int64?
    /// Loses everything not durable: the actor, its peer requests, what it was doing.
    func crash()
    func restart()
    func failNextCommit()
}

/// One actor in its host core, over a `MemoryJournal` store.
final class SimHost<A: ServerActor, Store: MemoryJournal & Journal>: SimServer where Store.Batch == A.Batch {
    let node: NodeID
    let store: Store
    /// Makes the actor, its randomness seeded by the argument (a restarted actor draws anew, as
    /// a process reading the system generator would).
    let make: (UInt64) -> A
    let config: HostCoreConfig
    let seed: UInt64
    private(set) var core: HostCore<A>?
    private(set) var version = 0
    private var starts: UInt64 = 0

    init(node: NodeID, store: Store, config: HostCoreConfig, seed: UInt64, make: @escaping (UInt64) -> A) {
        self.node = node
        self.store = store
        self.make = make
        self.config = config
        self.seed = seed
        core = HostCore(actor: make(seed), journal: store, config: config)
    }

    var isUp: Bool { core != nil }

    func drain(_ inputs: [HostInput], at time: HostTime) -> Drained {
        guard core != nil else { return Drained() }
        let drained = core!.drain(inputs, at: time)
        if !drained.committed.isEmpty { version += 1 }
        return drained
    }

    func advance(to time: HostTime) -> Drained {
        guard core != nil else { return Drained() }
        let drained = core!.advance(to: time)
        if !drained.committed.isEmpty { version += 1 }
        return drained
    }

    func nextWakeup() -> Int64? { core?.nextWakeup() }

    func crash() {
        core = nil
        store.crash()
    }

    func restart() {
        guard core == nil else { return }
        starts += 1
        // A new stream, not the old one shifted: SplitMix64(s + golden) would replay it.
        var mixer = SplitMix64(seed: seed ^ (starts &* 0xD1B5_4A32_D192_ED03))
        core = HostCore(actor: make(mixer.next() ^ mixer.next()), journal: store, config: config)
    }

    func failNextCommit() { store.failNextCommit = true }

    /// An operator's action (a merchant's redemption, prepaid codes).
    func perform<T>(_ label: String, at time: HostTime, _ body: (inout A, Timestamp) throws -> (T, Step<A.Batch>)) -> (Result<T, any Error>, Drained)? {
        guard core != nil else { return nil }
        let result = core!.perform(label, at: time, body)
        if !result.1.committed.isEmpty { version += 1 }
        return result
    }
}
