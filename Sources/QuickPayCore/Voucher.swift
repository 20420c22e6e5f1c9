/// How a voucher commitment is signed: by the bank in the clear with Ed25519 (it sees and keeps
/// every voucher at load), or blind with RSA (RFC 9474, RSABSSA-SHA384-PSS-Randomized: the bank
/// signs without seeing the voucher, so it cannot link a payment to a load). See `BlindVoucher`.
public enum SignatureScheme: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ed25519 = 1
    case blindRSA = 2

    public var description: String {
        switch self {
        case .ed25519: "ed25519"
        case .blindRSA: "blind-rsa"
        }
    }

    public init?(name: String) {
        guard let scheme = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = scheme
    }
}

/// The bank's signature on a voucher, by scheme.
public enum VoucherSignature: Hashable, Sendable {
    /// Ed25519 over the voucher signing bytes (PROTOCOL.md 7.3).
    case ed25519(Signature64)
    /// RSASSA-PSS (SHA-384, 48-byte salt) over `prefix || BlindVoucherMessage`, as RFC 9474's
    /// Randomized variant finalizes it; the signature is as long as the key's modulus.
    case blindRSA(prefix: Bytes32, signature: [UInt8])

    public var scheme: SignatureScheme {
        switch self {
        case .ed25519: .ed25519
        case .blindRSA: .blindRSA
        }
    }

    /// The signature bytes as they travel (`Voucher.signature`).
    public var bytes: [UInt8] {
        switch self {
        case .ed25519(let signature): signature.bytes
        case .blindRSA(_, let signature): signature
        }
    }
}

/// What the bank commits to when it issues a voucher: one hash chain of `length` coins of one
/// denomination, payable only to `receiverID`, until `expiry`, owned by whoever holds the
/// private half of the one-time `ownerKey`.
public struct VoucherCommitment: Hashable, Sendable {
    public static let currentVersion: UInt8 = 1

    public let version: UInt8
    public let scheme: SignatureScheme
    public let voucherID: VoucherID
    public let receiverID: ReceiverID
    public let denomination: Denomination
    public let length: ChainLength
    public let root: Bytes32
    public let expiry: Timestamp
    public let ownerKey: SigningPublicKey
    public let keyID: KeyID

    public init(
        version: UInt8 = VoucherCommitment.currentVersion, scheme: SignatureScheme = .ed25519,
        voucherID: VoucherID, receiverID: ReceiverID, denomination: Denomination, length: ChainLength,
        root: Bytes32, expiry: Timestamp, ownerKey: SigningPublicKey, keyID: KeyID
    ) {
        self.version = version
        self.scheme = scheme
        self.voucherID = voucherID
        self.receiverID = receiverID
        self.denomination = denomination
        self.length = length
        self.root = root
        self.expiry = expiry
        self.ownerKey = ownerKey
        self.keyID = keyID
    }

    /// The face value: denomination x N.
    public var faceValue: Amount { try! denomination.value(ofCoins: length.value) }

    /// The exact bytes the bank signs (layout in docs/PROTOCOL.md, "Voucher signing bytes").
    public var signingBytes: [UInt8] {
        var out = CanonicalBytes(label: "QuickPay/voucher/v1")
        out.append(version)
        out.append(scheme.rawValue)
        out.append(raw: voucherID.raw.bytes)
        out.append(shortString: receiverID.value)
        out.append(UInt16(denomination.rupees))
        out.append(UInt16(length.value))
        out.append(raw: root.bytes)
        out.append(expiry.secondsSinceEpoch)
        out.append(raw: ownerKey.raw.bytes)
        out.append(raw: keyID.bytes)
        return out.bytes
    }
}

/// A voucher commitment with the bank's signature: Ed25519 over its signing bytes, or a blind
/// RSA signature over its blind message.
public struct SignedVoucher: Hashable, Sendable {
    public let commitment: VoucherCommitment
    public let proof: VoucherSignature

    public init(commitment: VoucherCommitment, proof: VoucherSignature) {
        self.commitment = commitment
        self.proof = proof
    }

    public init(commitment: VoucherCommitment, signature: Signature64) {
        self.init(commitment: commitment, proof: .ed25519(signature))
    }

    public var id: VoucherID { commitment.voucherID }

    /// What a receiver checks once per voucher: a trusted bank key signed it (one Ed25519 or one
    /// RSA verification), it names this receiver, and it has not expired at `now`.
    public func verify(keyring: BankKeyring, receiver: ReceiverID, now: Timestamp) throws(QuickPayError) {
        try keyring.verify(self)
        guard commitment.receiverID == receiver else {
            throw QuickPayError(.wrongReceiver, "voucher \(id) is for \(commitment.receiverID), not \(receiver)")
        }
        guard now < commitment.expiry else {
            throw QuickPayError(.expired, "voucher \(id) expired at \(commitment.expiry)")
        }
    }
}

/// The bank's voucher-signing key.
public struct BankSigner: Sendable {
    public let privateKey: SigningPrivateKey
    public let keyID: KeyID

    public init(privateKey: SigningPrivateKey) {
        self.privateKey = privateKey
        self.keyID = privateKey.publicKey.keyID
    }

    public func sign(_ commitment: VoucherCommitment) -> SignedVoucher {
        precondition(commitment.keyID == keyID, "a commitment must name the key that signs it")
        return SignedVoucher(commitment: commitment, signature: privateKey.sign(commitment.signingBytes))
    }
}

/// The bank keys a verifier trusts, by key id: Ed25519 voucher keys, and the blind-signing keys
/// of a key list the bank signed.
public struct BankKeyring: Sendable {
    private var keys: [KeyID: SigningPublicKey] = [:]
    private var blindKeys: [KeyID: BlindKeyVerifier] = [:]

    public init(_ keys: [SigningPublicKey] = [], blindKeys: BlindKeyList? = nil) {
        for key in keys { self.keys[key.keyID] = key }
        if let blindKeys { trust(blindKeys) }
    }

    public mutating func trust(_ key: SigningPublicKey) { keys[key.keyID] = key }

    /// Trusts every key of a list (which verified against the bank's key when it was read).
    public mutating func trust(_ list: BlindKeyList) {
        for key in list.keys where blindKeys[key.keyID] == nil {
            if let verifier = BlindKeyVerifier(key) { blindKeys[key.keyID] = verifier }
        }
    }

    public func blindKey(_ id: KeyID) -> BlindKey? { blindKeys[id]?.key }

    /// Throws `BAD_SIGNATURE` unless a trusted key with the voucher's key id signed it.
    public func verify(_ voucher: SignedVoucher) throws(QuickPayError) {
        let commitment = voucher.commitment
        guard commitment.version == VoucherCommitment.currentVersion else {
            throw QuickPayError(.malformed, "voucher version \(commitment.version) is not supported")
        }
        guard commitment.scheme == voucher.proof.scheme else {
            throw QuickPayError(.malformed, "voucher \(voucher.id) says scheme \(commitment.scheme) but carries a \(voucher.proof.scheme) signature")
        }
        switch voucher.proof {
        case .ed25519(let signature):
            guard let key = keys[commitment.keyID] else {
                throw QuickPayError(.badSignature, "voucher \(voucher.id) names key \(commitment.keyID), which is not trusted")
            }
            guard key.isValidSignature(signature, for: commitment.signingBytes) else {
                throw QuickPayError(.badSignature, "voucher \(voucher.id) signature does not verify")
            }
        case .blindRSA(let prefix, let signature):
            guard let verifier = blindKeys[commitment.keyID] else {
                throw QuickPayError(.badSignature, "voucher \(voucher.id) names blind key \(commitment.keyID), which is not in the bank's key list")
            }
            try verifier.verify(commitment, prefix: prefix, signature: signature)
        }
    }
}
