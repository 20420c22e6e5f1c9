import QuickPayCore

/// What a trace line or a metric needs of a frame (its request id, body type and error code),
/// read by scanning the protobuf wire format without decoding the message: a few hundred
/// nanoseconds, so tracing and metrics do not decode every frame twice. It judges nothing: a
/// frame it cannot read is summarised as `unreadable`, and the codec still decides.
public struct FrameSummary: Hashable, Sendable {
    /// The 16-byte request id as two big-endian halves, if the frame has one of 16 bytes
    /// (an unreadable one is answered under 16 zero bytes, and reads so here).
    public var requestIDHigh: UInt64 = 0
    public var requestIDLow: UInt64 = 0
    public var hasRequestID = false
    /// The body's type name (`payment`, `redeem_reply`, `error`, ...), or `unreadable`.
    public var type = "unreadable"
    /// The error code's name, for an `error` body.
    public var code: String?
    /// For a `redeem_reply`: how many coins of the batch were refused, and the first code.
    public var refusedCoins = 0
    public var bytes = 0

    /// The request id's bytes (empty when the frame has none of 16 bytes).
    public var requestID: [UInt8] {
        guard hasRequestID else { return [] }
        return (0..<16).map { index in UInt8(truncatingIfNeeded: (index < 8 ? requestIDHigh >> (56 - 8 * index) : requestIDLow >> (56 - 8 * (index - 8)))) }
    }

    public var requestIDHex: String { HexCoding.encode(requestID) }

    /// Body field numbers of `Envelope` (Protos/quickpay.proto) and their type names, as
    /// `Body.typeName` spells them.
    static let typeNames: [Int: String] = [
        3: "payment", 4: "payment_reply", 5: "redeem", 6: "redeem_reply", 7: "verify_coins", 8: "verify_coins_reply", 9: "error", 10: "ack",
        16: "register", 17: "register_reply", 18: "login", 19: "login_challenge", 20: "otp_submit", 21: "otp_resend", 22: "session_granted",
        23: "logout", 30: "sms_submit", 31: "sms_accepted", 32: "device_attach", 33: "sms_delivery", 34: "attach_challenge",
        35: "device_attach_proof", 40: "balance", 41: "balance_reply", 42: "load", 43: "bank_load", 44: "load_reply", 45: "voucher_notice",
        46: "bank_balance", 47: "bank_account_owner", 48: "account_owner", 50: "settle", 51: "settle_reply", 52: "unload",
        53: "bank_unload", 54: "unload_reply", 55: "withdraw", 56: "bank_withdraw", 57: "withdraw_reply", 60: "prepaid_issue",
        61: "prepaid_codes", 62: "prepaid_redeem", 63: "bank_credit", 64: "prepaid_redeem_reply", 70: "mode_query", 71: "mode_reply",
        80: "refresh", 81: "bank_refresh", 82: "refresh_reply", 90: "batch", 91: "batch_reply",
    ]

    mutating func setRequestID(_ bytes: ArraySlice<UInt8>) {
        guard bytes.count == 16 else {
            hasRequestID = false
            return
        }
        hasRequestID = true
        requestIDHigh = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        requestIDLow = bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public init(_ frame: [UInt8]) {
        bytes = frame.count
        var reader = WireScanner(frame[...])
        while let (field, wireType) = reader.tag() {
            switch (field, wireType) {
            case (2, 2):
                guard let value = reader.lengthDelimited() else { type = "unreadable"; return }
                setRequestID(value)
            case (_, 2) where Self.typeNames[field] != nil:
                guard let value = reader.lengthDelimited() else { type = "unreadable"; return }
                type = Self.typeNames[field]!
                if field == 9 { code = Self.errorCode(in: value) }
                if field == 6 { (refusedCoins, code) = Self.refusals(in: value) }
            default:
                guard reader.skip(wireType) else { type = "unreadable"; return }
            }
        }
    }

    /// The frames inside a `batch` or `batch_reply` (each an envelope of its own), in order;
    /// empty for any other frame, and for a batch a server refuses as a whole (unreadable, no
    /// frame or more than `Batch.maximumFrames`, an empty one): that is one request.
    public static func batchItems(_ frame: [UInt8]) -> [ArraySlice<UInt8>] {
        var reader = WireScanner(frame[...])
        while let (field, wireType) = reader.tag() {
            guard (field == 90 || field == 91), wireType == 2 else {
                guard reader.skip(wireType) else { return [] }
                continue
            }
            guard let batch = reader.lengthDelimited() else { return [] }
            var items: [ArraySlice<UInt8>] = []
            var inner = WireScanner(batch)
            while let (itemField, itemType) = inner.tag() {
                if itemField == 1, itemType == 2 {
                    guard let item = inner.lengthDelimited(), !item.isEmpty, items.count < Batch.maximumFrames else { return [] }
                    items.append(item)
                } else if !inner.skip(itemType) {
                    return []
                }
            }
            return items
        }
        return []
    }

    /// The code of an `Error` message (field 1).
    static func errorCode(in message: ArraySlice<UInt8>) -> String {
        var reader = WireScanner(message)
        while let (field, wireType) = reader.tag() {
            if field == 1, wireType == 0, let number = reader.varint() {
                return ErrorCode(rawValue: UInt16(truncatingIfNeeded: number))?.name ?? "CODE_\(number)"
            }
            guard reader.skip(wireType) else { break }
        }
        return "UNSPECIFIED"
    }

    /// Refused coins of a `RedeemReply`: results (field 1) that carry an error (field 3).
    static func refusals(in message: ArraySlice<UInt8>) -> (Int, String?) {
        var reader = WireScanner(message)
        var count = 0
        var first: String?
        while let (field, wireType) = reader.tag() {
            guard field == 1, wireType == 2, let result = reader.lengthDelimited() else {
                guard reader.skip(wireType) else { break }
                continue
            }
            var inner = WireScanner(result)
            while let (innerField, innerType) = inner.tag() {
                if innerField == 3, innerType == 2, let error = inner.lengthDelimited() {
                    count += 1
                    if first == nil { first = errorCode(in: error) }
                } else if !inner.skip(innerType) {
                    break
                }
            }
        }
        return (count, first)
    }
}

/// A cursor over protobuf wire bytes: tags, varints, length-delimited fields, skipping.
struct WireScanner {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    mutating func tag() -> (Int, Int)? {
        guard !bytes.isEmpty, let key = varint(), key >> 3 > 0, key >> 3 < 1 << 29 else { return nil }
        return (Int(key >> 3), Int(key & 7))
    }

    mutating func lengthDelimited() -> ArraySlice<UInt8>? {
        guard let length = varint(), length <= UInt64(bytes.count) else { return nil }
        let value = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return value
    }

    mutating func skip(_ wireType: Int) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: guard bytes.count >= 8 else { return false }; bytes = bytes.dropFirst(8); return true
        case 2: return lengthDelimited() != nil
        case 5: guard bytes.count >= 4 else { return false }; bytes = bytes.dropFirst(4); return true
        default: return false
        }
    }
}
