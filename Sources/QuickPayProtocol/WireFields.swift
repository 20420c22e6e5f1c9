import Foundation
import QuickPayCore

/// Strict field readers: each turns one proto field into a core value or throws MALFORMED,
/// naming the field, so that an invalid value never travels past the decoder.
enum WireField {
    static func bytes16(_ data: Data, _ field: String) throws(QuickPayError) -> Bytes16 {
        guard let value = Bytes16(data) else {
            throw QuickPayError(.malformed, "\(field) must be 16 bytes, got \(data.count)")
        }
        return value
    }

    static func bytes32(_ data: Data, _ field: String) throws(QuickPayError) -> Bytes32 {
        guard let value = Bytes32(data) else {
            throw QuickPayError(.malformed, "\(field) must be 32 bytes, got \(data.count)")
        }
        return value
    }

    static func signature(_ data: Data, _ field: String) throws(QuickPayError) -> Signature64 {
        guard let value = Signature64(data) else {
            throw QuickPayError(.malformed, "\(field) must be 64 bytes, got \(data.count)")
        }
        return value
    }

    static func publicKey(_ data: Data, _ field: String) throws(QuickPayError) -> SigningPublicKey {
        guard data.count == SigningPublicKey.byteCount else {
            throw QuickPayError(.malformed, "\(field) must be 32 bytes, got \(data.count)")
        }
        guard let value = SigningPublicKey(data) else {
            throw QuickPayError(.malformed, "\(field) is not an Ed25519 public key")
        }
        return value
    }

    /// An RSA signature or blinded message: as long as a modulus of 2,048 to 4,096 bits.
    static func rsaBytes(_ data: Data, _ field: String) throws(QuickPayError) -> [UInt8] {
        guard (256...512).contains(data.count) else {
            throw QuickPayError(.malformed, "\(field) must be 256 to 512 bytes (an RSA modulus of 2,048 to 4,096 bits), got \(data.count)")
        }
        return Array(data)
    }

    static func keyID(_ data: Data, _ field: String) throws(QuickPayError) -> KeyID {
        guard let value = KeyID(data) else {
            throw QuickPayError(.malformed, "\(field) must be 8 bytes, got \(data.count)")
        }
        return value
    }

    static func voucherID(_ data: Data, _ field: String = "voucher_id") throws(QuickPayError) -> VoucherID {
        VoucherID(try bytes16(data, field))
    }

    static func sessionToken(_ data: Data) throws(QuickPayError) -> SessionToken {
        SessionToken(try bytes16(data, "session_token"))
    }

    static func receiverID(_ text: String) throws(QuickPayError) -> ReceiverID { try ReceiverID(text) }

    static func accountID(_ text: String) throws(QuickPayError) -> AccountID { try AccountID(text) }

    static func mode(_ wire: Quickpay_V1_MerchantMode) throws(QuickPayError) -> MerchantMode {
        switch wire {
        case .offline: return .offline
        case .online: return .online
        default: throw QuickPayError(.malformed, "mode must be MERCHANT_MODE_OFFLINE or MERCHANT_MODE_ONLINE")
        }
    }

    static func length(_ value: UInt32) throws(QuickPayError) -> ChainLength {
        do { return try ChainLength(Int(value)) } catch {
            throw QuickPayError(.malformed, error.message)
        }
    }

    /// A coin or receipt index: 1 to the maximum chain length (the per-voucher N is checked
    /// by the verifier, which knows the voucher).
    static func index(_ value: UInt32, _ field: String) throws(QuickPayError) -> Int {
        guard value >= 1, value <= UInt32(ChainLength.maximum) else {
            throw QuickPayError(.malformed, "\(field) must be 1 to \(ChainLength.maximum), got \(value)")
        }
        return Int(value)
    }

    /// A non-negative amount of paise.
    static func amount(_ paise: Int64, _ field: String) throws(QuickPayError) -> Amount {
        guard paise >= 0 else { throw QuickPayError(.malformed, "\(field) must not be negative") }
        return Amount(paise: paise)
    }

    static func timestamp(_ seconds: Int64) -> Timestamp { Timestamp(secondsSinceEpoch: seconds) }

    /// UTF-8 text of at most `maximumBytes` bytes.
    static func text(_ value: String, _ field: String, maximumBytes: Int) throws(QuickPayError) -> String {
        guard value.utf8.count <= maximumBytes else {
            throw QuickPayError(.malformed, "\(field) is over \(maximumBytes) bytes")
        }
        return value
    }

    static func count<T>(_ items: [T], _ field: String, _ range: ClosedRange<Int>) throws(QuickPayError) -> [T] {
        guard range.contains(items.count) else {
            throw QuickPayError(.malformed, "\(field) must hold \(range.lowerBound) to \(range.upperBound) items, got \(items.count)")
        }
        return items
    }

    static func denomination(_ value: Quickpay_V1_Denomination) throws(QuickPayError) -> Denomination {
        switch value {
        case .rs1: .rs1
        case .rs5: .rs5
        case .rs10: .rs10
        case .rs50: .rs50
        case .unspecified, .UNRECOGNIZED: throw QuickPayError(.malformed, "denomination must be 1, 5, 10 or 50")
        }
    }

    static func wire(_ value: Denomination) -> Quickpay_V1_Denomination {
        switch value {
        case .rs1: .rs1
        case .rs5: .rs5
        case .rs10: .rs10
        case .rs50: .rs50
        }
    }

    static func role(_ value: Quickpay_V1_Role) throws(QuickPayError) -> Role {
        switch value {
        case .customer: .customer
        case .merchant: .merchant
        case .unspecified, .UNRECOGNIZED: throw QuickPayError(.malformed, "role must be CUSTOMER or MERCHANT")
        }
    }

    static func wire(_ value: Role) -> Quickpay_V1_Role {
        switch value {
        case .customer: .customer
        case .merchant: .merchant
        }
    }

    static func destination(_ value: Quickpay_V1_UnloadDestination) throws(QuickPayError) -> UnloadDestination {
        switch value {
        case .quickpayBalance: .quickPayBalance
        case .bankAccount: .bankAccount
        case .refresh: .refresh
        case .unspecified, .UNRECOGNIZED:
            throw QuickPayError(.malformed, "destination must be QUICKPAY_BALANCE, BANK_ACCOUNT or REFRESH")
        }
    }

    static func wire(_ value: UnloadDestination) -> Quickpay_V1_UnloadDestination {
        switch value {
        case .quickPayBalance: .quickpayBalance
        case .bankAccount: .bankAccount
        case .refresh: .refresh
        }
    }
}

extension Data {
    init(_ value: Bytes16) { self.init(value.bytes) }
    init(_ value: Bytes32) { self.init(value.bytes) }
}
