import Foundation
import QuickPayActors
import QuickPayCore
import Yams

/// A load file (`scenarios/load/*.yaml`): who takes part, what they do, and how hard.
///
/// ```yaml
/// name: one-merchant-many-customers
/// description: forty customers paying one offline merchant single coins
/// customers: 40
/// merchants: [{id: chai-stall, mode: offline}]
/// mix: {single: 100}          # weights of: single, multi, load, redeem
/// open_loop: {rate: 10000}    # operations/s offered, on a fixed schedule
/// # closed_loop: {concurrency: 1}   # or: this many users, each sending its next operation when its last ends
/// warmup_seconds: 2
/// seconds: 10
/// ```
///
/// Operations: `single` a one-coin payment (Re 1); `multi` a three-coin payment (Rs 16 as
/// Rs 10 + Rs 5 + Re 1 coins of three vouchers); `load` a Rs 10 load through the app server
/// (bank signs a voucher); `redeem` a merchant's redemption with the bank, asked for through its
/// control socket (`"wait": true`) and timed until the merchant answers that the bank has
/// credited every coin it held at the request and it has recorded that.
public struct LoadSpec: Sendable {
    public enum Operation: String, Sendable, CaseIterable, Comparable {
        case single, multi, load, redeem
        public static func < (a: Operation, b: Operation) -> Bool { a.rawValue < b.rawValue }
    }

    public enum Pacing: Sendable, Equatable {
        /// Operations are due at fixed intervals, whatever happened to earlier ones.
        case open(ratePerSecond: Double)
        /// `concurrency` users, each with one operation outstanding; each answer sends that
        /// user's next at once.
        case closed(concurrency: Int)
    }

    public struct Merchant: Sendable {
        public let id: String
        public let mode: MerchantMode
        public init(id: String, mode: MerchantMode) {
            self.id = id
            self.mode = mode
        }
    }

    public var name: String
    public var description: String
    public var path: String
    public var customers: Int
    public var merchants: [Merchant]
    public var mix: [Operation: Int]
    public var pacing: Pacing
    public var warmupSeconds: Double
    public var seconds: Double
    /// Payments' request ids: time-ordered as wallets make them (default), or random (the
    /// layout before; `quickpay load --compare-request-ids` runs both).
    public var randomRequestIDs = false

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String) throws {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Invalid(description: "cannot read \(path)") }
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw Invalid(description: "\(path): a load file is a mapping") }
        let known: Set<String> = ["name", "description", "customers", "merchants", "mix", "open_loop", "closed_loop", "warmup_seconds", "seconds"]
        if let unknown = root.keys.first(where: { !known.contains($0) }) { throw Invalid(description: "\(path): unknown key \(unknown)") }
        name = root["name"] as? String ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        description = root["description"] as? String ?? ""
        customers = root["customers"] as? Int ?? 1
        guard (1...500).contains(customers) else { throw Invalid(description: "\(path): customers is 1 to 500") }
        merchants = []
        for entry in root["merchants"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? String, let mode = MerchantMode(rawValue: entry["mode"] as? String ?? "offline") else {
                throw Invalid(description: "\(path): a merchant has an id and a mode (offline or online)")
            }
            _ = try ReceiverID(id)
            merchants.append(Merchant(id: id, mode: mode))
        }
        guard !merchants.isEmpty else { throw Invalid(description: "\(path): at least one merchant") }
        mix = [:]
        for (key, value) in root["mix"] as? [String: Any] ?? ["single": 1] {
            guard let operation = Operation(rawValue: key), let weight = value as? Int, weight >= 0 else {
                throw Invalid(description: "\(path): mix weights are whole numbers for single, multi, load, redeem")
            }
            mix[operation] = weight
        }
        guard mix.values.reduce(0, +) > 0 else { throw Invalid(description: "\(path): the mix has no weight") }
        if let open = root["open_loop"] as? [String: Any] {
            guard let rate = (open["rate"] as? NSNumber)?.doubleValue, rate > 0 else { throw Invalid(description: "\(path): open_loop needs rate > 0") }
            pacing = .open(ratePerSecond: rate)
        } else if let closed = root["closed_loop"] as? [String: Any] {
            guard let concurrency = closed["concurrency"] as? Int, concurrency > 0 else { throw Invalid(description: "\(path): closed_loop needs concurrency > 0") }
            pacing = .closed(concurrency: concurrency)
        } else {
            throw Invalid(description: "\(path): give open_loop: {rate} or closed_loop: {concurrency}")
        }
        warmupSeconds = (root["warmup_seconds"] as? NSNumber)?.doubleValue ?? 1
        seconds = (root["seconds"] as? NSNumber)?.doubleValue ?? 10
        guard seconds > 0, warmupSeconds >= 0 else { throw Invalid(description: "\(path): seconds > 0, warmup_seconds >= 0") }
    }

    /// The operation of the `n`th dispatch: a fixed, interleaved sequence that honours the weights.
    public func operation(_ n: Int) -> Operation {
        let weights = Operation.allCases.compactMap { op in mix[op].map { (op, $0) } }.filter { $0.1 > 0 }
        let total = weights.reduce(0) { $0 + $1.1 }
        var slot = (n &* 7919) % total  // spread operations of one kind through the cycle
        if slot < 0 { slot += total }
        for (op, weight) in weights {
            if slot < weight { return op }
            slot -= weight
        }
        return weights[0].0
    }

    /// The largest number of operations the run can offer, for sizing the customers' vouchers.
    public var maximumOperations: Int {
        switch pacing {
        case .open(let rate): Int(rate * (warmupSeconds + seconds) * 1.1) + 100
        // A closed loop is bounded by the machine; 30,000 per second is far above it.
        case .closed(let concurrency): Int(30_000 * (warmupSeconds + seconds)) + concurrency * 100
        }
    }
}
