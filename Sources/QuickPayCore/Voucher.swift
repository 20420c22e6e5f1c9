/// How a voucher commitment is signed. Only Ed25519 exists today; the tag is signed and on the
/// wire so that blind RSA (RFC 9474, for unlinkable vouchers) can come later without a new format.
public enum SignatureScheme: UInt8, Sendable, CaseIterable {
    case ed25519 = 1
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

/// A voucher commitment with the bank's signature over its signing bytes.
public struct SignedVoucher: Hashable, Sendable {
    public let commitment: VoucherCommitment
    public let signature: Signature64

    public init(commitment: VoucherCommitment, signature: Signature64) {
        self.commitment = commitment
        self.signature = signature
    }

    public var id: VoucherID { commitment.voucherID }

    /// What a receiver checks once per voucher: a trusted bank key signed it, it names this
    /// receiver, and it has not expired at `now`.
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

/// The bank public keys a verifier trusts, by key id.
public struct BankKeyring: Sendable {
    private var keys: [KeyID: SigningPublicKey] = [:]

    public init(_ keys: [SigningPublicKey] = []) {
        for key in keys { self.keys[key.keyID] = key }
    }

    public mutating func trust(_ key: SigningPublicKey) { keys[key.keyID] = key }

    /// Throws `BAD_SIGNATURE` unless a trusted key with the voucher's key id signed it.
    public func verify(_ voucher: SignedVoucher) throws(QuickPayError) {
        guard voucher.commitment.version == VoucherCommitment.currentVersion else {
            throw QuickPayError(.malformed, "voucher version \(voucher.commitment.version) is not supported")
        }
        guard let key = keys[voucher.commitment.keyID] else {
            throw QuickPayError(.badSignature, "voucher \(voucher.id) names key \(voucher.commitment.keyID), which is not trusted")
        }
        guard key.isValidSignature(voucher.signature, for: voucher.commitment.signingBytes) else {
            throw QuickPayError(.badSignature, "voucher \(voucher.id) signature does not verify")
        }
    }
}
