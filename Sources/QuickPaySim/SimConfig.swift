import QuickPayCore

/// What one simulation run does: its seed, its size, and how hostile its world is. Rates are
/// per message (network) or per event (crashes, partitions, commit failures).
public struct SimConfig: Sendable, Equatable, CustomStringConvertible {
    public var seed: UInt64
    public var customers = 3
    /// Operations each customer performs after registering and logging in.
    public var operations = 25
    public var offlineMerchants = 1
    public var onlineMerchants = 1
    public var lossRate = 0.02
    public var duplicateRate = 0.02
    /// Each message takes 1 ms to this many (reordering follows from it).
    public var maximumDelayMilliseconds: Int64 = 30
    /// A server dies (and is restarted 1-5 s later), per event.
    public var crashRate = 0.0015
    /// A server dies right after a group commit, before it sends anything of it, per drain.
    public var crashAfterCommitRate = 0.003
    /// A link is cut for 1-8 s, per event.
    public var partitionRate = 0.0015
    /// A server's next group commit fails, per event.
    public var commitFailureRate = 0.001
    /// A server takes what reached it as one group, 0 ms to this many after the first input
    /// (a host's poll loop drains everything waiting): groups of several inputs, and a group's
    /// requests to one peer in one batch.
    public var drainDelayMilliseconds: Int64 = 10
    /// Each server's clock is off by up to this many seconds.
    public var clockSkewSeconds: Int64 = 2
    /// Share of a customer's operations that are attacks.
    public var attackRate = 0.15
    /// A run that has not finished by then (virtual time) is a liveness failure.
    public var timeLimitSeconds: Int64 = 3600
    /// Which vouchers customers load: Ed25519 (the default, the cheap one), or blind RSA.
    public var scheme: SignatureScheme = .ed25519

    public init(seed: UInt64) { self.seed = seed }

    /// No faults at all: the reference a failure is shrunk against.
    public var calm: SimConfig {
        var copy = self
        copy.lossRate = 0
        copy.duplicateRate = 0
        copy.crashRate = 0
        copy.crashAfterCommitRate = 0
        copy.partitionRate = 0
        copy.commitFailureRate = 0
        return copy
    }

    /// The `quickpay simulate` arguments that run exactly this configuration.
    public var replayArguments: String {
        "--seed \(seed) --customers \(customers) --operations \(operations) --loss \(lossRate) --duplicates \(duplicateRate) "
            + "--crashes \(crashRate) --crashes-after-commit \(crashAfterCommitRate) --partitions \(partitionRate) "
            + "--commit-failures \(commitFailureRate) --attacks \(attackRate)" + (scheme == .blindRSA ? " --scheme blind-rsa" : "")
    }

    public var description: String {
        "seed \(seed): \(customers) customers x \(operations) operations, \(offlineMerchants)+\(onlineMerchants) merchants, "
            + "loss \(lossRate), duplicates \(duplicateRate), crashes \(crashRate)/\(crashAfterCommitRate), partitions \(partitionRate), "
            + "commit failures \(commitFailureRate), attacks \(attackRate)" + (scheme == .blindRSA ? ", blind vouchers" : "")
    }
}
