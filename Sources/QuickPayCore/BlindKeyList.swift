import Crypto
import Foundation

/// One of the bank's blind-signing keys. The key is the value: a signature under it is worth
/// one voucher of `denomination` x `length` loaded in its epoch, so the bank never needs to see
/// d, N or the expiry in what it signs (they would make a blinded voucher linkable).
public struct BlindKey: Hashable, Sendable {
    public let denomination: Denomination
    public let length: ChainLength
    /// Loads are signed under this key from `validFrom` to `validUntil` (its epoch).
    public let validFrom: Timestamp
    public let validUntil: Timestamp
    /// Every voucher signed under this key can be spent until then (the bank's deposit window
    /// follows it); a voucher carries no expiry of its own that the bank could not see.
    public let expiry: Timestamp
    public let publicKey: BlindRSA.PublicKey

    public init(denomination: Denomination, length: ChainLength, validFrom: Timestamp, validUntil: Timestamp, expiry: Timestamp, publicKey: BlindRSA.PublicKey) {
        self.denomination = denomination
        self.length = length
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.expiry = expiry
        self.publicKey = publicKey
    }

    /// The face value of a voucher signed under this key: denomination x N.
    public var faceValue: Amount { try! denomination.value(ofCoins: length.value) }

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
        out.append(expiry.secondsSinceEpoch)
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
            guard key.publicKey.exponent == [0x01, 0x00, 0x01] else { throw QuickPayError(.malformed, "blind-signing keys have the public exponent 65537") }
            guard key.validFrom < key.validUntil else { throw QuickPayError(.malformed, "a key's epoch must end after it starts") }
            guard key.validUntil <= key.expiry else { throw QuickPayError(.malformed, "a key's vouchers must not expire before its epoch ends") }
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

/// A blind key as bytes (the fields of its canonical form, PROTOCOL.md 7.6: denomination u16,
/// length u16, valid from i64, valid until i64, expiry i64, modulus length u16, modulus,
/// exponent length u16, exponent), and the key list as a text file:
///
/// ```
/// quickpay-blind-key-list v1
/// issued_at <seconds>
/// signature <128 hex digits: the bank's Ed25519 signature over the list's signing bytes>
/// key <hex of one key's bytes>     (one line per key)
/// ```
public enum BlindKeyCoding {
    public static func bytes(_ key: BlindKey) -> [UInt8] {
        var out = CanonicalBytes(label: "")
        key.append(to: &out)
        return Array(out.bytes.dropFirst())
    }

    public static func key(_ bytes: [UInt8]) -> BlindKey? {
        var reader = Reader(bytes: bytes[...])
        guard let rupees = reader.u16(), let denomination = Denomination(rupees: Int64(rupees)), let length = reader.u16(),
            let chainLength = try? ChainLength(Int(length)), let from = reader.i64(), let until = reader.i64(), let expiry = reader.i64(),
            let modulusCount = reader.u16(), let modulus = reader.take(Int(modulusCount)), let exponentCount = reader.u16(),
            let exponent = reader.take(Int(exponentCount)), reader.bytes.isEmpty
        else { return nil }
        return BlindKey(
            denomination: denomination, length: chainLength, validFrom: Timestamp(secondsSinceEpoch: from), validUntil: Timestamp(secondsSinceEpoch: until),
            expiry: Timestamp(secondsSinceEpoch: expiry), publicKey: BlindRSA.PublicKey(modulus: modulus, exponent: exponent))
    }

    public static let fileHeader = "quickpay-blind-key-list v1"

    public static func file(_ list: BlindKeyList) -> String {
        ([fileHeader, "issued_at \(list.issuedAt.secondsSinceEpoch)", "signature \(HexCoding.encode(list.signature.bytes))"]
            + list.keys.map { "key \(HexCoding.encode(bytes($0)))" }).joined(separator: "\n") + "\n"
    }

    /// Reads a key list file and checks it against the bank's key (BAD_SIGNATURE) and the
    /// list's rules (MALFORMED).
    public static func list(file text: String, bankKey: SigningPublicKey) throws(QuickPayError) -> BlindKeyList {
        var lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.first == fileHeader else { throw QuickPayError(.malformed, "a blind key list starts with '\(fileHeader)'") }
        lines.removeFirst()
        var issuedAt: Timestamp?
        var signature: Signature64?
        var keys: [BlindKey] = []
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw QuickPayError(.malformed, "blind key list line '\(line.prefix(40))'") }
            switch parts[0] {
            case "issued_at": issuedAt = Int64(parts[1]).map { Timestamp(secondsSinceEpoch: $0) }
            case "signature": signature = HexCoding.decode(parts[1]).flatMap { Signature64($0) }
            case "key":
                guard let key = HexCoding.decode(parts[1]).flatMap(key) else { throw QuickPayError(.malformed, "a blind key that does not read") }
                keys.append(key)
            default: throw QuickPayError(.malformed, "blind key list line '\(parts[0])'")
            }
        }
        guard let issuedAt, let signature else { throw QuickPayError(.malformed, "a blind key list has issued_at and signature lines") }
        return try BlindKeyList.verified(keys: keys, issuedAt: issuedAt, signature: signature, bankKey: bankKey)
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>
        mutating func take(_ count: Int) -> [UInt8]? {
            guard bytes.count >= count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return Array(bytes.prefix(count))
        }
        mutating func u16() -> UInt16? { take(2).map { UInt16($0[0]) << 8 | UInt16($0[1]) } }
        mutating func i64() -> Int64? { take(8).map { Int64(bitPattern: $0.reduce(0) { $0 << 8 | UInt64($1) }) } }
    }
}
