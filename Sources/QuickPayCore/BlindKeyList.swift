import Crypto

/// One of the bank's blind-signing keys. The key is the value: a signature under it is worth
/// one voucher of `denomination` x `length` loaded in its epoch, so the bank never needs to see
/// d, N or the expiry in what it signs (they would make a blinded voucher linkable).
///
/// Groundwork for the unlinkable-voucher issue: nothing in the protocol uses it yet.
public struct BlindKey: Hashable, Sendable {
    public let denomination: Denomination
    public let length: ChainLength
    /// Loads are signed under this key from `validFrom` to `validUntil`.
    public let validFrom: Timestamp
    public let validUntil: Timestamp
    public let publicKey: BlindRSA.PublicKey

    public init(denomination: Denomination, length: ChainLength, validFrom: Timestamp, validUntil: Timestamp, publicKey: BlindRSA.PublicKey) {
        self.denomination = denomination
        self.length = length
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.publicKey = publicKey
    }

    /// The first 8 bytes of SHA-256("QuickPay/blind-key/v1" || the canonical key bytes): what a
    /// voucher message names.
    public var keyID: KeyID {
        KeyID(Array(SHA256.hash(data: canonicalBytes)).prefix(KeyID.byteCount))!
    }

    var canonicalBytes: [UInt8] {
        var out = CanonicalBytes(label: "QuickPay/blind-key/v1")
        append(to: &out)
        return out.bytes
    }

    func append(to out: inout CanonicalBytes) {
        out.append(UInt16(denomination.rupees))
        out.append(UInt16(length.value))
        out.append(validFrom.secondsSinceEpoch)
        out.append(validUntil.secondsSinceEpoch)
        out.append(UInt16(publicKey.modulus.count))
        out.append(raw: publicKey.modulus)
        out.append(UInt16(publicKey.exponent.count))
        out.append(raw: publicKey.exponent)
    }
}

/// The bank's published list of blind-signing keys, signed with its long-term Ed25519 key.
/// One list for everybody: a key per user would let the bank tag whose voucher is whose, so a
/// wallet takes keys only from a list that verifies, and the list allows one key per
/// (denomination, length) at any moment.
public struct BlindKeyList: Sendable, Equatable {
    public let issuedAt: Timestamp
    /// Sorted by key id.
    public let keys: [BlindKey]
    public let signature: Signature64

    public static let minimumModulusBits = 2048

    /// Checks the keys and signs the list. Refuses a key shorter than 2,048 bits, an empty or
    /// inverted epoch, two keys with one id or one modulus, and two keys for the same value whose
    /// epochs overlap.
    public static func sign(_ keys: [BlindKey], issuedAt: Timestamp, with bank: SigningPrivateKey) throws(QuickPayError) -> BlindKeyList {
        let sorted = try validated(keys)
        return BlindKeyList(issuedAt: issuedAt, keys: sorted, signature: bank.sign(signingBytes(sorted, issuedAt: issuedAt)))
    }

    /// The list as received, if its signature is the bank's and its keys pass the same checks.
    public static func verified(keys: [BlindKey], issuedAt: Timestamp, signature: Signature64, bankKey: SigningPublicKey) throws(QuickPayError) -> BlindKeyList {
        let sorted = try validated(keys)
        guard bankKey.isValidSignature(signature, for: signingBytes(sorted, issuedAt: issuedAt)) else {
            throw QuickPayError(.badSignature, "the key list is not signed by the bank")
        }
        return BlindKeyList(issuedAt: issuedAt, keys: sorted, signature: signature)
    }

    static func validated(_ keys: [BlindKey]) throws(QuickPayError) -> [BlindKey] {
        for key in keys {
            guard key.publicKey.modulus.count * 8 >= minimumModulusBits, key.publicKey.modulus.first.map({ $0 >= 0x80 }) ?? false else {
                throw QuickPayError(.malformed, "blind-signing keys are RSA of at least \(minimumModulusBits) bits")
            }
            guard key.validFrom < key.validUntil else { throw QuickPayError(.malformed, "a key's epoch must end after it starts") }
        }
        let sorted = keys.sorted { $0.keyID.bytes.lexicographicallyPrecedes($1.keyID.bytes) }
        guard Set(sorted.map(\.keyID)).count == sorted.count else { throw QuickPayError(.malformed, "two keys share a key id") }
        // The bank cannot see which key a blinded message names: one RSA key under two entries
        // would let a wallet load at one value and name the other.
        guard Set(sorted.map(\.publicKey.modulus)).count == sorted.count else { throw QuickPayError(.malformed, "one RSA key is listed twice") }
        for (index, a) in sorted.enumerated() {
            for b in sorted[(index + 1)...] where a.denomination == b.denomination && a.length == b.length {
                guard a.validUntil <= b.validFrom || b.validUntil <= a.validFrom else {
                    throw QuickPayError(.malformed, "two keys for Rs \(a.denomination.rupees) x \(a.length.value) overlap in time")
                }
            }
        }
        return sorted
    }

    static func signingBytes(_ keys: [BlindKey], issuedAt: Timestamp) -> [UInt8] {
        var out = CanonicalBytes(label: "QuickPay/blind-key-list/v1")
        out.append(issuedAt.secondsSinceEpoch)
        out.append(UInt32(keys.count))
        for key in keys { key.append(to: &out) }
        return out.bytes
    }

    /// The key a load of `denomination` x `length` is signed under at `now`.
    public func key(for denomination: Denomination, length: ChainLength, at now: Timestamp) -> BlindKey? {
        keys.first { $0.denomination == denomination && $0.length == length && $0.validFrom <= now && now < $0.validUntil }
    }

    public func key(id: KeyID) -> BlindKey? { keys.first { $0.keyID == id } }
}

/// What a wallet blinds for one voucher: a fixed-length message, so every voucher of one key
/// looks the same to the bank. `version (1) || key id (8) || receiver id (32, zero-padded) ||
/// root (32) || owner key (32)`: 105 bytes.
public enum BlindVoucherMessage {
    public static let version: UInt8 = 1
    public static let byteCount = 1 + KeyID.byteCount + ReceiverID.maximumLength + 32 + SigningPublicKey.byteCount

    public static func bytes(keyID: KeyID, receiver: ReceiverID, root: Bytes32, ownerKey: SigningPublicKey) -> [UInt8] {
        let name = Array(receiver.value.utf8)
        return [version] + keyID.bytes + name + [UInt8](repeating: 0, count: ReceiverID.maximumLength - name.count) + root.bytes + ownerKey.raw.bytes
    }
}
