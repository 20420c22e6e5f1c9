/// Where a customer's unload of unspent coins goes.
public enum UnloadDestination: UInt8, Sendable, CaseIterable {
    case quickPayBalance = 1
    case bankAccount = 2
    /// A blind voucher's refund held (in no account) for a refresh into new blind vouchers.
    case refresh = 3
}

/// A customer's request to unload the unspent coins of one voucher, signed with the voucher's
/// one-time owner key: ownership is proved without revealing a coin (revealing w_N would hand
/// the unspent coins to anyone who sees the request).
public struct UnloadAuthorization: Hashable, Sendable {
    /// Chosen by the wallet; signed, so a copied request cannot be replayed under another id,
    /// and the bank's idempotency key for this unload. The bank must also check that the
    /// account asking is the one that loaded the voucher (the signature does not name it).
    public let unloadID: RequestID
    public let voucherID: VoucherID
    public let destination: UnloadDestination
    public let signature: Signature64

    public init(unloadID: RequestID, voucherID: VoucherID, destination: UnloadDestination, signature: Signature64) {
        self.unloadID = unloadID
        self.voucherID = voucherID
        self.destination = destination
        self.signature = signature
    }

    /// The exact bytes the owner key signs (layout in docs/PROTOCOL.md, 7.5). An Ed25519
    /// voucher's unload names no account (the bank knows who loaded it); a blind voucher's names
    /// the account the refund goes to (`QuickPay/unload/v2`), so an authorization taken from its
    /// owner cannot be sent from another account.
    public static func signingBytes(unloadID: RequestID, voucherID: VoucherID, destination: UnloadDestination, account: AccountID? = nil) -> [UInt8] {
        var out = CanonicalBytes(label: account == nil ? "QuickPay/unload/v1" : "QuickPay/unload/v2")
        out.append(raw: unloadID.raw.bytes)
        out.append(raw: voucherID.raw.bytes)
        out.append(destination.rawValue)
        if let account { out.append(shortString: account.value) }
        return out.bytes
    }

    public static func sign(
        unloadID: RequestID, voucherID: VoucherID, destination: UnloadDestination, account: AccountID? = nil, ownerKey: SigningPrivateKey
    ) -> UnloadAuthorization {
        let bytes = signingBytes(unloadID: unloadID, voucherID: voucherID, destination: destination, account: account)
        return UnloadAuthorization(
            unloadID: unloadID, voucherID: voucherID, destination: destination, signature: ownerKey.sign(bytes))
    }

    /// Throws `BAD_SIGNATURE` unless the voucher's owner key signed this request (naming
    /// `account` when given: a blind voucher's unload).
    public func verify(against voucher: VoucherCommitment, account: AccountID? = nil) throws(QuickPayError) {
        guard voucher.voucherID == voucherID else {
            throw QuickPayError(.unknownVoucher, "unload names voucher \(voucherID), checked against \(voucher.voucherID)")
        }
        let bytes = UnloadAuthorization.signingBytes(unloadID: unloadID, voucherID: voucherID, destination: destination, account: account)
        guard voucher.ownerKey.isValidSignature(signature, for: bytes) else {
            throw QuickPayError(.badSignature, "unload of voucher \(voucherID) is not signed by its owner key")
        }
    }
}

/// A refresh: the refund of a blind voucher unloaded with destination `refresh`, taken as new
/// blind vouchers. The owner key signs the refresh id, the voucher and each new blinded message
/// (by its key and digest), so nobody who sees the request can swap in messages of their own.
public struct RefreshAuthorization: Hashable, Sendable {
    public let refreshID: RequestID
    public let voucherID: VoucherID
    public let signature: Signature64

    public init(refreshID: RequestID, voucherID: VoucherID, signature: Signature64) {
        self.refreshID = refreshID
        self.voucherID = voucherID
        self.signature = signature
    }

    /// `QuickPay/refresh/v1` 0x00 || refresh id || voucher id || u8 count || per chain: key id (8)
    /// || SHA-256(blinded message) (32).
    public static func signingBytes(refreshID: RequestID, voucherID: VoucherID, blinded: [(keyID: KeyID, message: [UInt8])]) -> [UInt8] {
        var out = CanonicalBytes(label: "QuickPay/refresh/v1")
        out.append(raw: refreshID.raw.bytes)
        out.append(raw: voucherID.raw.bytes)
        out.append(UInt8(clamping: blinded.count))
        for chain in blinded {
            out.append(raw: chain.keyID.bytes)
            out.append(raw: Bytes32.sha256(of: chain.message).bytes)
        }
        return out.bytes
    }

    public static func sign(refreshID: RequestID, voucherID: VoucherID, blinded: [(keyID: KeyID, message: [UInt8])], ownerKey: SigningPrivateKey) -> RefreshAuthorization {
        RefreshAuthorization(refreshID: refreshID, voucherID: voucherID, signature: ownerKey.sign(signingBytes(refreshID: refreshID, voucherID: voucherID, blinded: blinded)))
    }

    /// Throws `BAD_SIGNATURE` unless the voucher's owner key signed this refresh of these messages.
    public func verify(against voucher: VoucherCommitment, blinded: [(keyID: KeyID, message: [UInt8])]) throws(QuickPayError) {
        guard voucher.voucherID == voucherID else { throw QuickPayError(.unknownVoucher, "refresh names voucher \(voucherID), checked against \(voucher.voucherID)") }
        guard voucher.ownerKey.isValidSignature(signature, for: Self.signingBytes(refreshID: refreshID, voucherID: voucherID, blinded: blinded)) else {
            throw QuickPayError(.badSignature, "refresh of voucher \(voucherID) is not signed by its owner key")
        }
    }
}
