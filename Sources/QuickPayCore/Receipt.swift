/// What a merchant commits to for one voucher: a receipt chain of the same length whose root
/// it signs once. Receipt i is element i of that chain, so the customer checks each receipt
/// with one hash, exactly as the merchant checks coins.
public struct ReceiptCommitment: Hashable, Sendable {
    public let voucherID: VoucherID
    public let receiverID: ReceiverID
    public let length: ChainLength
    public let root: Bytes32

    public init(voucherID: VoucherID, receiverID: ReceiverID, length: ChainLength, root: Bytes32) {
        self.voucherID = voucherID
        self.receiverID = receiverID
        self.length = length
        self.root = root
    }

    /// The exact bytes the merchant signs (layout in docs/PROTOCOL.md).
    public var signingBytes: [UInt8] {
        var out = CanonicalBytes(label: "QuickPay/receipt-root/v1")
        out.append(raw: voucherID.raw.bytes)
        out.append(shortString: receiverID.value)
        out.append(UInt16(length.value))
        out.append(raw: root.bytes)
        return out.bytes
    }
}

/// A receipt commitment with the merchant's signature, sent once per voucher with the first
/// receipt.
public struct SignedReceiptCommitment: Hashable, Sendable {
    public let commitment: ReceiptCommitment
    public let merchantKey: SigningPublicKey
    public let signature: Signature64

    public init(commitment: ReceiptCommitment, merchantKey: SigningPublicKey, signature: Signature64) {
        self.commitment = commitment
        self.merchantKey = merchantKey
        self.signature = signature
    }

    public static func sign(_ commitment: ReceiptCommitment, with key: SigningPrivateKey) -> SignedReceiptCommitment {
        SignedReceiptCommitment(
            commitment: commitment, merchantKey: key.publicKey, signature: key.sign(commitment.signingBytes))
    }

    /// Throws `BAD_SIGNATURE` unless the merchant key signed the commitment.
    public func verify() throws(QuickPayError) {
        guard merchantKey.isValidSignature(signature, for: commitment.signingBytes) else {
            throw QuickPayError(.badSignature, "receipt root for voucher \(commitment.voucherID) is not signed")
        }
    }
}

/// One receipt: element i of the merchant's receipt chain for a voucher, given for coin i.
public struct Receipt: Hashable, Sendable {
    public let voucherID: VoucherID
    public let index: Int
    public let value: Bytes32

    public init(voucherID: VoucherID, index: Int, value: Bytes32) {
        self.voucherID = voucherID
        self.index = index
        self.value = value
    }

    public var position: ChainPosition { ChainPosition(index: index, value: value) }
}
