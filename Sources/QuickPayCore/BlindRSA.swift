import BigInt
import Crypto
import Foundation

/// The client side of RSA blind signatures, RFC 9474 (RSABSSA-SHA384-PSS and -PSSZERO, the
/// Randomized and Deterministic variants): Prepare, Blind and Finalize, written out so that the
/// randomness is an input. A wallet derives the message prefix, the PSS salt and the blinding
/// factor from a secret it stored before the load left, so a wallet that crashes between the
/// bank's debit and the unblinding can finish the voucher (swift-crypto's `_RSA.BlindSigning`
/// draws them itself and cannot be replayed). The bank's side, `BlindSignature`, is one RSA
/// private-key operation on the blinded message; the final signature is a plain RSASSA-PSS
/// signature (SHA-384, MGF1-SHA-384) that swift-crypto verifies.
public enum BlindRSA {
    public enum Variant: Sendable, Equatable {
        /// Salt of 48 bytes (the SHA-384 length), or none.
        case pss, pssZero
        var saltLength: Int { self == .pss ? 48 : 0 }
    }

    public struct PublicKey: Sendable, Hashable {
        public let modulus: [UInt8]
        public let exponent: [UInt8]
        public init(modulus: [UInt8], exponent: [UInt8]) {
            self.modulus = Array(modulus.drop(while: { $0 == 0 }))
            self.exponent = Array(exponent.drop(while: { $0 == 0 }))
        }
        var n: BigUInt { BigUInt(Data(modulus)) }
        var e: BigUInt { BigUInt(Data(exponent)) }
        /// The modulus length in bytes and bits.
        public var byteCount: Int { modulus.count }
        var bitCount: Int { n.bitWidth }
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// RFC 9474 section 4.1: the message with a 32-byte random prefix (Randomized variants), or
    /// as it is (Deterministic).
    public static func prepare(_ message: [UInt8], prefix: [UInt8]?) throws(Failure) -> [UInt8] {
        guard let prefix else { return message }
        guard prefix.count == 32 else { throw Failure(description: "the message prefix is 32 bytes") }
        return prefix + message
    }

    /// RFC 9474 section 4.2, with the salt and the blinding factor `r` given. Returns the blinded
    /// message (what goes to the signer) and `inv` = r^-1 mod n (what `finalize` needs).
    public static func blind(_ prepared: [UInt8], key: PublicKey, variant: Variant, salt: [UInt8], r: [UInt8]) throws(Failure) -> (blinded: [UInt8], inverse: [UInt8]) {
        guard salt.count == variant.saltLength else { throw Failure(description: "the salt is \(variant.saltLength) bytes") }
        let encoded = try encodePSS(prepared, emBits: key.bitCount - 1, salt: salt)
        let n = key.n
        let m = BigUInt(Data(encoded))
        guard m.greatestCommonDivisor(with: n) == 1 else { throw Failure(description: "the encoded message is not invertible") }
        let rValue = BigUInt(Data(r)) % n
        guard rValue > 1, let inverse = rValue.inverse(n) else { throw Failure(description: "the blinding factor is not invertible") }
        let x = rValue.power(key.e, modulus: n)
        let z = (m * x) % n
        return (bytes(z, count: key.byteCount), bytes(inverse, count: key.byteCount))
    }

    /// RFC 9474 section 4.4: unblinds the signer's answer and verifies the result as an
    /// RSASSA-PSS signature on the prepared message. Any answer that does not verify (a wrong
    /// key, a tampered answer) is refused.
    public static func finalize(_ blindSignature: [UInt8], prepared: [UInt8], key: PublicKey, variant: Variant, inverse: [UInt8]) throws(Failure) -> [UInt8] {
        guard blindSignature.count == key.byteCount else { throw Failure(description: "the blind signature is \(key.byteCount) bytes") }
        let n = key.n
        let z = BigUInt(Data(blindSignature))
        guard z < n else { throw Failure(description: "the blind signature is not below the modulus") }
        let signature = bytes((z * BigUInt(Data(inverse))) % n, count: key.byteCount)
        guard verify(signature, prepared: prepared, key: key, variant: variant) else { throw Failure(description: "the unblinded signature does not verify") }
        return signature
    }

    /// RFC 9474 section 4.4 without its final check: s = z x inv mod n. A caller that checks the
    /// result as a plain RSASSA-PSS signature right after (the wallet does, with swift-crypto)
    /// needs no second verification here.
    public static func unblind(_ blindSignature: [UInt8], key: PublicKey, inverse: [UInt8]) throws(Failure) -> [UInt8] {
        guard blindSignature.count == key.byteCount else { throw Failure(description: "the blind signature is \(key.byteCount) bytes") }
        let n = key.n
        let z = BigUInt(Data(blindSignature))
        guard z < n else { throw Failure(description: "the blind signature is not below the modulus") }
        return bytes((z * BigUInt(Data(inverse))) % n, count: key.byteCount)
    }

    /// RSASSA-PSS verification (SHA-384, MGF1-SHA-384, the variant's salt length), done here so
    /// that both salt lengths are checked the same way.
    public static func verify(_ signature: [UInt8], prepared: [UInt8], key: PublicKey, variant: Variant) -> Bool {
        guard signature.count == key.byteCount else { return false }
        let n = key.n
        let s = BigUInt(Data(signature))
        guard s < n else { return false }
        let emBits = key.bitCount - 1
        let emLength = (emBits + 7) / 8
        let m = s.power(key.e, modulus: n)
        guard m.bitWidth <= emBits else { return false }
        let encoded = bytes(m, count: emLength)
        return checkPSS(encoded, message: prepared, emBits: emBits, saltLength: variant.saltLength)
    }

    /// value^-1 mod modulus, big-endian, or nil when there is none (for tests and for a wallet
    /// that stored r and needs inv again).
    public static func inverse(of value: [UInt8], modulus: [UInt8]) -> [UInt8]? {
        let n = BigUInt(Data(modulus))
        return (BigUInt(Data(value)) % n).inverse(n).map { bytes($0, count: Array(modulus.drop(while: { $0 == 0 })).count) }
    }

    /// The signer's operation (for tests and the bank's side): blinded^d mod n.
    public static func blindSignature(_ blinded: [UInt8], modulus: [UInt8], privateExponent: [UInt8]) -> [UInt8] {
        let n = BigUInt(Data(modulus))
        return bytes(BigUInt(Data(blinded)).power(BigUInt(Data(privateExponent)), modulus: n), count: Array(modulus.drop(while: { $0 == 0 })).count)
    }

    // MARK: EMSA-PSS (RFC 8017 section 9.1)

    static let hashLength = SHA384.byteCount

    static func encodePSS(_ message: [UInt8], emBits: Int, salt: [UInt8]) throws(Failure) -> [UInt8] {
        let emLength = (emBits + 7) / 8
        guard emLength >= hashLength + salt.count + 2 else { throw Failure(description: "the key is too short for this encoding") }
        let mHash = Array(SHA384.hash(data: message))
        let h = Array(SHA384.hash(data: [UInt8](repeating: 0, count: 8) + mHash + salt))
        var db = [UInt8](repeating: 0, count: emLength - salt.count - hashLength - 2) + [0x01] + salt
        let mask = mgf1(h, length: emLength - hashLength - 1)
        for index in db.indices { db[index] ^= mask[index] }
        db[0] &= 0xFF >> (8 * emLength - emBits)
        return db + h + [0xBC]
    }

    static func checkPSS(_ encoded: [UInt8], message: [UInt8], emBits: Int, saltLength: Int) -> Bool {
        let emLength = (emBits + 7) / 8
        guard encoded.count == emLength, emLength >= hashLength + saltLength + 2, encoded.last == 0xBC else { return false }
        let maskedDB = Array(encoded[0..<(emLength - hashLength - 1)])
        let h = Array(encoded[(emLength - hashLength - 1)..<(emLength - 1)])
        let topBits = 8 * emLength - emBits
        guard maskedDB[0] & ~(0xFF >> topBits) == 0 else { return false }
        let mask = mgf1(h, length: maskedDB.count)
        var db = zip(maskedDB, mask).map { $0 ^ $1 }
        db[0] &= 0xFF >> topBits
        let zeros = emLength - hashLength - saltLength - 2
        guard db[0..<zeros].allSatisfy({ $0 == 0 }), db[zeros] == 0x01 else { return false }
        let salt = Array(db[(zeros + 1)...])
        let mHash = Array(SHA384.hash(data: message))
        return Array(SHA384.hash(data: [UInt8](repeating: 0, count: 8) + mHash + salt)) == h
    }

    static func mgf1(_ seed: [UInt8], length: Int) -> [UInt8] {
        var output: [UInt8] = []
        var counter: UInt32 = 0
        while output.count < length {
            output += Array(SHA384.hash(data: seed + withUnsafeBytes(of: counter.bigEndian) { Array($0) }))
            counter += 1
        }
        return Array(output.prefix(length))
    }

    /// Big-endian, left-padded to `count` bytes.
    static func bytes(_ value: BigUInt, count: Int) -> [UInt8] {
        let raw = Array(value.serialize())
        return [UInt8](repeating: 0, count: max(0, count - raw.count)) + raw
    }
}
