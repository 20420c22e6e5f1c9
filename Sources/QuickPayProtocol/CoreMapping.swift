import Foundation
import QuickPayCore

/// Core value <-> proto message, strictly. `init(wire:)` throws MALFORMED for any field that
/// breaks its rule; `wire` never fails.

extension SignedVoucher {
    init(wire: Quickpay_V1_Voucher) throws(QuickPayError) {
        guard wire.version == UInt32(VoucherCommitment.currentVersion) else {
            throw QuickPayError(.malformed, "voucher version must be \(VoucherCommitment.currentVersion), got \(wire.version)")
        }
        let scheme: SignatureScheme
        switch wire.scheme {
        case .ed25519: scheme = .ed25519
        case .blindRsa: scheme = .blindRSA
        default: throw QuickPayError(.malformed, "voucher scheme must be ED25519 or BLIND_RSA")
        }
        let commitment = VoucherCommitment(
            version: VoucherCommitment.currentVersion,
            scheme: scheme,
            voucherID: try WireField.voucherID(wire.voucherID),
            receiverID: try WireField.receiverID(wire.receiverID),
            denomination: try WireField.denomination(wire.denomination),
            length: try WireField.length(wire.length),
            root: try WireField.bytes32(wire.root, "root"),
            expiry: WireField.timestamp(wire.expiry),
            ownerKey: try WireField.publicKey(wire.ownerKey, "owner_key"),
            keyID: try WireField.keyID(wire.keyID, "key_id"))
        switch scheme {
        case .ed25519:
            guard wire.messagePrefix.isEmpty else { throw QuickPayError(.malformed, "an ED25519 voucher carries no message_prefix") }
            self.init(commitment: commitment, signature: try WireField.signature(wire.signature, "signature"))
        case .blindRSA:
            self.init(
                commitment: commitment,
                proof: .blindRSA(prefix: try WireField.bytes32(wire.messagePrefix, "message_prefix"), signature: try WireField.rsaBytes(wire.signature, "signature")))
        }
    }

    var wire: Quickpay_V1_Voucher {
        var out = Quickpay_V1_Voucher()
        out.version = UInt32(commitment.version)
        out.scheme = commitment.scheme == .blindRSA ? .blindRsa : .ed25519
        out.voucherID = Data(commitment.voucherID.raw)
        out.receiverID = commitment.receiverID.value
        out.denomination = WireField.wire(commitment.denomination)
        out.length = UInt32(commitment.length.value)
        out.root = Data(commitment.root)
        out.expiry = commitment.expiry.secondsSinceEpoch
        out.ownerKey = Data(commitment.ownerKey.raw)
        out.keyID = Data(commitment.keyID.bytes)
        out.signature = Data(proof.bytes)
        if case .blindRSA(let prefix, _) = proof { out.messagePrefix = Data(prefix) }
        return out
    }
}

extension Coin {
    init(wire: Quickpay_V1_Coin) throws(QuickPayError) {
        self.init(
            voucherID: try WireField.voucherID(wire.voucherID),
            index: try WireField.index(wire.index, "coin index"),
            value: try WireField.bytes32(wire.value, "coin value"))
    }

    var wire: Quickpay_V1_Coin {
        var out = Quickpay_V1_Coin()
        out.voucherID = Data(voucherID.raw)
        out.index = UInt32(index)
        out.value = Data(value)
        return out
    }
}

extension Receipt {
    init(wire: Quickpay_V1_Receipt) throws(QuickPayError) {
        self.init(
            voucherID: try WireField.voucherID(wire.voucherID),
            index: try WireField.index(wire.index, "receipt index"),
            value: try WireField.bytes32(wire.value, "receipt value"))
    }

    var wire: Quickpay_V1_Receipt {
        var out = Quickpay_V1_Receipt()
        out.voucherID = Data(voucherID.raw)
        out.index = UInt32(index)
        out.value = Data(value)
        return out
    }
}

extension SignedReceiptCommitment {
    init(wire: Quickpay_V1_ReceiptRoot) throws(QuickPayError) {
        let commitment = ReceiptCommitment(
            voucherID: try WireField.voucherID(wire.voucherID),
            receiverID: try WireField.receiverID(wire.receiverID),
            length: try WireField.length(wire.length),
            root: try WireField.bytes32(wire.root, "receipt root"))
        self.init(
            commitment: commitment,
            merchantKey: try WireField.publicKey(wire.merchantKey, "merchant_key"),
            signature: try WireField.signature(wire.signature, "signature"))
    }

    var wire: Quickpay_V1_ReceiptRoot {
        var out = Quickpay_V1_ReceiptRoot()
        out.voucherID = Data(commitment.voucherID.raw)
        out.receiverID = commitment.receiverID.value
        out.length = UInt32(commitment.length.value)
        out.root = Data(commitment.root)
        out.merchantKey = Data(merchantKey.raw)
        out.signature = Data(signature.bytes)
        return out
    }
}

extension Payment {
    init(wire: Quickpay_V1_Payment) throws(QuickPayError) {
        let coins = try WireField.count(wire.coins, "coins", 1...Payment.maximumCoins)
        let vouchers = try WireField.count(wire.vouchers, "vouchers", 0...Payment.maximumCoins)
        var decodedCoins: [Coin] = []
        for coin in coins { decodedCoins.append(try Coin(wire: coin)) }
        var decodedVouchers: [SignedVoucher] = []
        for voucher in vouchers { decodedVouchers.append(try SignedVoucher(wire: voucher)) }
        try self.init(coins: decodedCoins, vouchers: decodedVouchers, order: wire.order)
    }

    var wire: Quickpay_V1_Payment {
        var out = Quickpay_V1_Payment()
        out.coins = coins.map(\.wire)
        out.vouchers = vouchers.map(\.wire)
        out.order = order
        return out
    }
}

extension QuickPayError {
    init(wire: Quickpay_V1_Error) throws(QuickPayError) {
        guard let code = ErrorCode(rawValue: UInt16(clamping: wire.code.rawValue)), wire.code.rawValue > 0 else {
            throw QuickPayError(.malformed, "unknown error code \(wire.code.rawValue)")
        }
        let origin: ActorRole?
        switch wire.origin {
        case .unspecified: origin = nil
        case .UNRECOGNIZED(let value): throw QuickPayError(.malformed, "unknown error origin \(value)")
        default: origin = ActorRole(rawValue: UInt8(wire.origin.rawValue))
        }
        self.init(code, try WireField.text(wire.message, "error message", maximumBytes: ProtocolLimits.maximumErrorMessageBytes), origin: origin)
    }

    var wire: Quickpay_V1_Error {
        var out = Quickpay_V1_Error()
        out.code = Quickpay_V1_ErrorCode(rawValue: Int(code.rawValue)) ?? .internal
        out.message = String(decoding: Array(message.utf8.prefix(ProtocolLimits.maximumErrorMessageBytes - 3)), as: UTF8.self)
        out.origin = origin.flatMap { Quickpay_V1_Origin(rawValue: Int($0.rawValue)) } ?? .unspecified
        return out
    }
}

/// Decodes each element of a repeated field with `transform`, stopping at the first error.
func decodeAll<Wire, Value>(_ items: [Wire], _ transform: (Wire) throws(QuickPayError) -> Value) throws(QuickPayError) -> [Value] {
    var values: [Value] = []
    values.reserveCapacity(items.count)
    for item in items { values.append(try transform(item)) }
    return values
}

/// Stored forms: the same protobuf bytes as on the wire, for stores that keep whole values.
extension SignedVoucher {
    public func serializedBytes() -> [UInt8] { try! wire.serializedBytes() }
    public init(serializedBytes bytes: [UInt8]) throws(QuickPayError) {
        let wire: Quickpay_V1_Voucher
        do { wire = try Quickpay_V1_Voucher(serializedBytes: bytes) } catch { throw QuickPayError(.malformed, "stored voucher: \(error)") }
        try self.init(wire: wire)
    }
}

extension SignedReceiptCommitment {
    public func serializedBytes() -> [UInt8] { try! wire.serializedBytes() }
    public init(serializedBytes bytes: [UInt8]) throws(QuickPayError) {
        let wire: Quickpay_V1_ReceiptRoot
        do { wire = try Quickpay_V1_ReceiptRoot(serializedBytes: bytes) } catch { throw QuickPayError(.malformed, "stored receipt root: \(error)") }
        try self.init(wire: wire)
    }
}

extension Body {
    /// A body alone (inside an envelope with a zero request id), for reply caches.
    public func serializedBytes() -> [UInt8] {
        WireCodec(maximumFrameBytes: .max).encode(Envelope(requestID: RequestID(Bytes16(high: 0, low: 0)), body: self))
    }
    public init(serializedBytes bytes: [UInt8]) throws(QuickPayError) {
        self = try WireCodec(maximumFrameBytes: .max).decode(bytes).body
    }
}
