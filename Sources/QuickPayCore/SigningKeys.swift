import Crypto
import Foundation

/// An Ed25519 public key (32 bytes) as it travels and is stored.
public struct SigningPublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let raw: Bytes32
    let key: Curve25519.Signing.PublicKey

    /// Exactly 32 bytes, or nil. (swift-crypto on Linux checks only the length, so a bogus key
    /// is caught at its first signature check, never trusted.)
    public init?(_ bytes: some Collection<UInt8>) {
        guard let raw = Bytes32(bytes),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: Array(bytes))
        else { return nil }
        self.raw = raw
        self.key = key
    }

    /// The first 8 bytes of SHA-256(key): how a voucher names the bank key that signed it.
    public var keyID: KeyID {
        let digest = raw.withUnsafeBytes { SHA256.hash(data: $0) }
        return KeyID(Array(digest.prefix(8)))!
    }

    /// Whether `signature` (64 bytes) is this key's Ed25519 signature over `message`.
    public func isValidSignature(_ signature: Signature64, for message: [UInt8]) -> Bool {
        key.isValidSignature(signature.bytes, for: message)
    }

    public static func == (lhs: SigningPublicKey, rhs: SigningPublicKey) -> Bool { lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
    public var description: String { raw.hex }
}

/// An Ed25519 private key: the bank's long-term voucher key, a merchant's receipt key, or a
/// wallet's one-time owner key. Made from 32 bytes the caller draws, so the core stays pure.
public struct SigningPrivateKey: Sendable {
    let key: Curve25519.Signing.PrivateKey

    /// The key whose 32-byte secret is `seed` (RFC 8032's private key).
    public init(seed: Bytes32) {
        key = try! Curve25519.Signing.PrivateKey(rawRepresentation: seed.bytes)
    }

    public static func random(using generator: inout some RandomNumberGenerator) -> SigningPrivateKey {
        SigningPrivateKey(seed: .random(using: &generator))
    }

    /// The 32-byte secret, for storing the key (keep it 0600).
    public var seed: Bytes32 { Bytes32(key.rawRepresentation)! }

    public var publicKey: SigningPublicKey { SigningPublicKey(key.publicKey.rawRepresentation)! }

    public func sign(_ message: [UInt8]) -> Signature64 {
        // swift-crypto's Ed25519 over BoringSSL is deterministic (RFC 8032) and cannot fail
        // for a valid key.
        Signature64(Array(try! key.signature(for: message)))!
    }
}

/// An Ed25519 signature: exactly 64 bytes.
public struct Signature64: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 64
    public let bytes: [UInt8]

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Signature64.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    public var description: String { HexCoding.encode(bytes) }
}

/// Names a signing key in 8 bytes (the start of the SHA-256 of its public key).
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 8
    public let bytes: [UInt8]

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == KeyID.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    public var description: String { HexCoding.encode(bytes) }
}
