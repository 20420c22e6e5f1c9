import Crypto
import CryptoExtras
import Foundation

/// Unlinkable vouchers: Wagner's blind PayWord with RFC 9474 (RSABSSA-SHA384-PSS-Randomized).
///
/// The wallet makes the chain, the one-time owner key and the message
/// `BlindVoucherMessage` = `version || key id || receiver id || root || owner key`, blinds it and
/// sends only `(key id, blinded message)`. The bank debits the key's value (the key is the value:
/// one key per denomination, length and epoch) and signs blind. The wallet unblinds; the voucher
/// is the message with the 32-byte prefix of the Randomized variant and the RSA signature. A
/// merchant checks it with one RSA-PSS verification; the bank first sees the voucher when it is
/// redeemed, verified online or unloaded, and cannot tell which load it came from.
public enum BlindVoucher {
    /// The RFC 9474 variant, named as the RFC names it.
    public static let variantName = "RSABSSA-SHA384-PSS-Randomized"

    /// The voucher id: the first 16 bytes of SHA-256("QuickPay/blind-voucher-id/v1" 0x00 ||
    /// prefix || message). Nobody chooses it, so no two vouchers share one.
    public static func voucherID(prefix: Bytes32, message: [UInt8]) -> VoucherID {
        var out = CanonicalBytes(label: "QuickPay/blind-voucher-id/v1")
        out.append(raw: prefix.bytes)
        out.append(raw: message)
        return VoucherID(Bytes16(Array(SHA256.hash(data: out.bytes)).prefix(16))!)
    }

    /// The commitment a blind voucher stands for: value and expiry from its key, the rest from
    /// its message.
    public static func commitment(key: BlindKey, receiver: ReceiverID, root: Bytes32, ownerKey: SigningPublicKey, prefix: Bytes32) -> VoucherCommitment {
        let message = BlindVoucherMessage.bytes(keyID: key.keyID, receiver: receiver, root: root, ownerKey: ownerKey)
        return VoucherCommitment(
            scheme: .blindRSA, voucherID: voucherID(prefix: prefix, message: message), receiverID: receiver,
            denomination: key.denomination, length: key.length, root: root, expiry: key.expiry, ownerKey: ownerKey, keyID: key.keyID)
    }

    /// The message a commitment's signature covers.
    public static func message(of commitment: VoucherCommitment) -> [UInt8] {
        BlindVoucherMessage.bytes(keyID: commitment.keyID, receiver: commitment.receiverID, root: commitment.root, ownerKey: commitment.ownerKey)
    }
}

/// One blind key as a verifier holds it: the list's entry and swift-crypto's RSA public key.
struct BlindKeyVerifier: Sendable {
    let key: BlindKey
    let rsa: _RSA.Signing.PublicKey

    init?(_ key: BlindKey) {
        guard let rsa = try? _RSA.Signing.PublicKey(n: key.publicKey.modulus, e: key.publicKey.exponent) else { return nil }
        self.key = key
        self.rsa = rsa
    }

    /// The commitment must say what the key says (value, expiry), carry the id its message
    /// derives, and the signature must be RSASSA-PSS over prefix || message.
    func verify(_ commitment: VoucherCommitment, prefix: Bytes32, signature: [UInt8]) throws(QuickPayError) {
        guard commitment.denomination == key.denomination, commitment.length == key.length, commitment.expiry == key.expiry else {
            throw QuickPayError(
                .badSignature, "voucher \(commitment.voucherID) says Rs \(commitment.denomination.rupees) x \(commitment.length.value) until \(commitment.expiry); its key \(key.keyID) is Rs \(key.denomination.rupees) x \(key.length.value) until \(key.expiry)")
        }
        let message = BlindVoucher.message(of: commitment)
        guard commitment.voucherID == BlindVoucher.voucherID(prefix: prefix, message: message) else {
            throw QuickPayError(.badSignature, "voucher \(commitment.voucherID) is not the id its message derives")
        }
        guard signature.count == key.publicKey.byteCount else {
            throw QuickPayError(.badSignature, "voucher \(commitment.voucherID): a signature under key \(key.keyID) is \(key.publicKey.byteCount) bytes")
        }
        let digest = SHA384.hash(data: prefix.bytes + message)
        guard rsa.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .PSS) else {
            throw QuickPayError(.badSignature, "voucher \(commitment.voucherID) signature does not verify under key \(key.keyID)")
        }
    }
}

/// The wallet's side of one blind voucher, all derived from a 32-byte secret the wallet stores
/// before the load leaves: the prefix, the PSS salt and the blinding factor (HKDF-SHA256 with the
/// labels below). A wallet that crashed after the bank debited it sends the same blinded message
/// again and unblinds the answer.
public struct BlindVoucherRequest: Sendable, Hashable {
    public let key: BlindKey
    public let commitment: VoucherCommitment
    public let prefix: Bytes32
    /// What goes to the bank with the key id.
    public let blindedMessage: [UInt8]
    let inverse: [UInt8]

    public init(key: BlindKey, receiver: ReceiverID, root: Bytes32, ownerKey: SigningPublicKey, secret: Bytes32) throws(QuickPayError) {
        let prefix = Bytes32(Self.derive(secret, "QuickPay/blind/prefix/v1", 32))!
        let salt = Self.derive(secret, "QuickPay/blind/salt/v1", 48)
        let commitment = BlindVoucher.commitment(key: key, receiver: receiver, root: root, ownerKey: ownerKey, prefix: prefix)
        let prepared = prefix.bytes + BlindVoucher.message(of: commitment)
        // r is drawn 16 bytes longer than the modulus and reduced (no visible bias); a value that
        // is not invertible (probability ~2^-1000) takes the next counter.
        for counter in 0..<8 {
            let r = Self.derive(secret, "QuickPay/blind/r/v1/\(counter)", key.publicKey.byteCount + 16)
            guard let blinded = try? BlindRSA.blind(prepared, key: key.publicKey, variant: .pss, salt: salt, r: r) else { continue }
            self.key = key
            self.commitment = commitment
            self.prefix = prefix
            self.blindedMessage = blinded.blinded
            self.inverse = blinded.inverse
            return
        }
        throw QuickPayError(.internal, "no blinding factor for key \(key.keyID)")
    }

    /// Unblinds the bank's answer into the voucher; an answer that does not verify (another key,
    /// a tampered answer) is `BAD_SIGNATURE` and the wallet keeps its secret to ask again.
    public func finalize(_ blindSignature: [UInt8]) throws(QuickPayError) -> SignedVoucher {
        let signature: [UInt8]
        do {
            signature = try BlindRSA.unblind(blindSignature, key: key.publicKey, inverse: inverse)
        } catch {
            throw QuickPayError(.badSignature, "the bank's blind signature under key \(key.keyID): \(error)")
        }
        // RFC 9474 Finalize ends with the verification: done by swift-crypto (RSASSA-PSS).
        guard let verifier = BlindKeyVerifier(key) else { throw QuickPayError(.badSignature, "blind key \(key.keyID) is not a usable RSA key") }
        do {
            try verifier.verify(commitment, prefix: prefix, signature: signature)
        } catch {
            throw QuickPayError(.badSignature, "the bank's blind signature under key \(key.keyID) does not unblind to a valid signature")
        }
        return SignedVoucher(commitment: commitment, proof: .blindRSA(prefix: prefix, signature: signature))
    }

    static func derive(_ secret: Bytes32, _ label: String, _ count: Int) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret.bytes), info: Array(label.utf8), outputByteCount: count)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// The bank's blind-signing keys with their private halves (swift-crypto's RFC 9474 signer).
public struct BlindSigner: Sendable {
    public let list: BlindKeyList
    private let privateKeys: [KeyID: _RSA.BlindSigning.PrivateKey<SHA384>]

    /// Pairs each listed key with its private key (PEM, PKCS#8 or PKCS#1); refuses a listed key
    /// without one, or a private key whose public half is not the listed one.
    public init(list: BlindKeyList, privateKeysPEM: [String]) throws(QuickPayError) {
        var byModulus: [[UInt8]: _RSA.BlindSigning.PrivateKey<SHA384>] = [:]
        for pem in privateKeysPEM {
            guard let key = try? _RSA.BlindSigning.PrivateKey<SHA384>(pemRepresentation: pem, parameters: .RSABSSA_SHA384_PSS_Randomized),
                let primitives = try? key.publicKey.getKeyPrimitives()
            else { throw QuickPayError(.malformed, "a blind-signing private key does not read as RSA of 2,048 bits or more") }
            byModulus[Array(primitives.modulus.drop(while: { $0 == 0 }))] = key
        }
        var keys: [KeyID: _RSA.BlindSigning.PrivateKey<SHA384>] = [:]
        for key in list.keys {
            guard let privateKey = byModulus[key.publicKey.modulus] else {
                throw QuickPayError(.malformed, "no private key for blind key \(key.keyID) (Rs \(key.denomination.rupees) x \(key.length.value))")
            }
            keys[key.keyID] = privateKey
        }
        self.list = list
        self.privateKeys = keys
    }

    /// RFC 9474 BlindSign: one RSA private-key operation (with swift-crypto's check that the
    /// result verifies). A blinded message of another length, or not below the modulus, is
    /// MALFORMED.
    public func sign(_ blinded: [UInt8], with key: BlindKey) throws(QuickPayError) -> [UInt8] {
        guard let privateKey = privateKeys[key.keyID] else { throw QuickPayError(.badSignature, "no blind key \(key.keyID)") }
        guard blinded.count == key.publicKey.byteCount else {
            throw QuickPayError(.malformed, "a blinded message for key \(key.keyID) is \(key.publicKey.byteCount) bytes, got \(blinded.count)")
        }
        do {
            return Array(try privateKey.blindSignature(for: blinded).rawRepresentation)
        } catch {
            throw QuickPayError(.malformed, "the blinded message is not a number below key \(key.keyID)'s modulus")
        }
    }
}
