import QuickPayCore

/// Work too slow for the serving thread (a password hash costs 600,000 PBKDF2 rounds, a few
/// hundred milliseconds): an actor asks for it with `Output.compute`, the host runs it on a
/// bounded worker pool, and the result comes back through `ServerActor.handleComputed`. The
/// value is the whole job, so the pure actor stays pure and the simulator can run it in place.
public enum Computation: Sendable, Equatable {
    /// Does `password` match `stored`?
    case verifyPassword(Password, against: PasswordHash)
    /// A new hash of `password` (registration).
    case hashPassword(Password, salt: Bytes16, rounds: Int)

    /// Runs the job (on a worker thread in a process; in place in the simulator and tests).
    public func run() -> ComputationResult {
        switch self {
        case .verifyPassword(let password, let stored): .verified(PasswordHasher(rounds: stored.rounds).verify(password, against: stored))
        case .hashPassword(let password, let salt, let rounds): .hashed(PasswordHasher(rounds: rounds).hash(password, salt: salt))
        }
    }
}

public enum ComputationResult: Sendable, Equatable {
    case verified(Bool)
    case hashed(PasswordHash)
}

/// A computation's handle: the actor matches the result to what asked for it.
public struct ComputationID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Bytes16
    public init(_ raw: Bytes16) { self.raw = raw }
    public static func random(using generator: inout some RandomNumberGenerator) -> ComputationID {
        ComputationID(.random(using: &generator))
    }
    public var description: String { raw.description }
}
