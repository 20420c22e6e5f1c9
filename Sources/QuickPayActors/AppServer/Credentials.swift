import CryptoExtras
import Crypto
import Foundation
import QuickPayCore

/// Password hashing with PBKDF2-HMAC-SHA256 (swift-crypto's extras). 600,000 rounds by default,
/// OWASP's figure; tests lower it only through `AppServerConfig.passwordRounds`.
public struct PasswordHasher: Sendable {
    public static let owaspRounds = 600_000
    public let rounds: Int

    public init(rounds: Int = PasswordHasher.owaspRounds) { self.rounds = rounds }

    public func hash(_ password: Password, salt: Bytes16) -> PasswordHash {
        PasswordHash(rounds: rounds, salt: salt, hash: Self.derive(password, salt: salt, rounds: rounds))
    }

    /// Constant-time comparison of the derived key with the stored one.
    public func verify(_ password: Password, against stored: PasswordHash) -> Bool {
        Self.derive(password, salt: stored.salt, rounds: stored.rounds) == stored.hash
    }

    static func derive(_ password: Password, salt: Bytes16, rounds: Int) -> Bytes32 {
        // Rounds below 210,000 are only reachable through explicit test configuration.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.value.utf8), salt: salt.bytes, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Bytes32($0)! }
    }
}

/// Keyed hashes of one-time codes: a 6-digit code has only 10^6 values, so a plain hash of it
/// would be reversed at once by anyone who reads the table; HMAC with the server's key is not.
public struct OneTimeCodeMAC: Sendable {
    let key: SymmetricKey
    public init(key: Bytes32) { self.key = SymmetricKey(data: key.bytes) }

    public func mac(_ code: OneTimeCode, challenge: ChallengeID) -> Bytes32 {
        let message = challenge.raw.bytes + Array(code.digits.utf8)
        let tag = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return tag.withUnsafeBytes { Bytes32($0)! }
    }
}
