/// The one catalogue of QuickPay error codes.
///
/// The numbers are stable: they travel on the wire (`quickpay.v1.ErrorCode` mirrors them),
/// appear in scenario files by name, and are documented in docs/PROTOCOL.md. Never renumber;
/// add new codes at the end.
public enum ErrorCode: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case malformed = 1
    case replayedCoin = 2
    case badChain = 3
    case indexOutOfRange = 4
    case badSignature = 5
    case wrongReceiver = 6
    case expired = 7
    case insufficientFunds = 8
    case limitExceeded = 9
    case amountOutOfRange = 10
    case unknownVoucher = 11
    case voucherClosed = 12
    case authenticationFailed = 13
    case otpInvalid = 14
    case otpExpired = 15
    case lockedOut = 16
    case sessionInvalid = 17
    case unknownAccount = 18
    case alreadyExists = 19
    case codeInvalid = 20
    case rateLimited = 21
    case overloaded = 22
    case unavailable = 23
    case deadlinePassed = 24
    case conflict = 25
    case forbidden = 26
    case unknownReceiver = 27
    case `internal` = 28
    case alreadyApplied = 29
    case modeMismatch = 30
    case unknownKey = 31

    /// The stable name used in logs, scenario files and the wire schema, such as `REPLAYED_COIN`.
    public var name: String {
        switch self {
        case .malformed: "MALFORMED"
        case .replayedCoin: "REPLAYED_COIN"
        case .badChain: "BAD_CHAIN"
        case .indexOutOfRange: "INDEX_OUT_OF_RANGE"
        case .badSignature: "BAD_SIGNATURE"
        case .wrongReceiver: "WRONG_RECEIVER"
        case .expired: "EXPIRED"
        case .insufficientFunds: "INSUFFICIENT_FUNDS"
        case .limitExceeded: "LIMIT_EXCEEDED"
        case .amountOutOfRange: "AMOUNT_OUT_OF_RANGE"
        case .unknownVoucher: "UNKNOWN_VOUCHER"
        case .voucherClosed: "VOUCHER_CLOSED"
        case .authenticationFailed: "AUTHENTICATION_FAILED"
        case .otpInvalid: "OTP_INVALID"
        case .otpExpired: "OTP_EXPIRED"
        case .lockedOut: "LOCKED_OUT"
        case .sessionInvalid: "SESSION_INVALID"
        case .unknownAccount: "UNKNOWN_ACCOUNT"
        case .alreadyExists: "ALREADY_EXISTS"
        case .codeInvalid: "CODE_INVALID"
        case .rateLimited: "RATE_LIMITED"
        case .overloaded: "OVERLOADED"
        case .unavailable: "UNAVAILABLE"
        case .deadlinePassed: "DEADLINE_PASSED"
        case .conflict: "CONFLICT"
        case .forbidden: "FORBIDDEN"
        case .unknownReceiver: "UNKNOWN_RECEIVER"
        case .internal: "INTERNAL"
        case .alreadyApplied: "ALREADY_APPLIED"
        case .modeMismatch: "MODE_MISMATCH"
        case .unknownKey: "UNKNOWN_KEY"
        }
    }

    /// When the code is given, in one line (docs/PROTOCOL.md repeats these).
    public var meaning: String {
        switch self {
        case .malformed: "the frame or a field could not be decoded, or broke a size or length rule"
        case .replayedCoin: "coin index is not above the last accepted index for its voucher"
        case .badChain: "coin does not hash to the last accepted coin of its voucher"
        case .indexOutOfRange: "coin index is above the voucher's chain length N (0 or above 1000 is MALFORMED on the wire)"
        case .badSignature: "a signature does not verify, or names a key the verifier does not trust"
        case .wrongReceiver: "the voucher names another receiver"
        case .expired: "the voucher has expired"
        case .insufficientFunds: "the account or balance cannot cover the amount"
        case .limitExceeded: "a transfer limit (Rs 1 to Rs 1000) or an actor's business limit was exceeded (wire count limits are MALFORMED)"
        case .amountOutOfRange: "an amount overflowed Int64 paise (a negative amount on the wire is MALFORMED)"
        case .unknownVoucher: "no voucher with this id is known"
        case .voucherClosed: "the voucher was settled or unloaded and takes no more coins"
        case .authenticationFailed: "username or password is wrong (which one is never said)"
        case .otpInvalid: "the one-time code is wrong, already used, or for another login"
        case .otpExpired: "the one-time code has expired"
        case .lockedOut: "too many failed attempts; the account is locked for a while"
        case .sessionInvalid: "the session token is unknown, expired, or not this user's"
        case .unknownAccount: "no such bank account, or the user holds none"
        case .alreadyExists: "the username, phone or object already exists"
        case .codeInvalid: "the prepaid code is unknown or already redeemed"
        case .rateLimited: "asked again too soon (for example an OTP resend within the cooldown)"
        case .overloaded: "the actor's queue is full; retry later"
        case .unavailable: "a peer the request needs cannot be reached"
        case .deadlinePassed: "the voucher's deposit deadline has passed"
        case .conflict: "the request id was used before with different content"
        case .forbidden: "the caller may not do this (wrong role or not the owner)"
        case .unknownReceiver: "no receiver with this id is registered"
        case .internal: "an internal fault; the request had no effect"
        case .alreadyApplied: "this request id already took effect; its full answer is no longer kept (past retention)"
        case .modeMismatch: "the merchant runs in another mode than the bank holds for it"
        case .unknownKey: "the key id names no key of the bank's blind key list, or one whose epoch has not begun"
        }
    }

    /// Codes that say nothing about the request's effect: the caller may retry under the same
    /// request id. Never cached as an answer.
    public var isTransient: Bool {
        switch self {
        case .unavailable, .internal, .overloaded, .rateLimited: true
        default: false
        }
    }

    /// Looks a code up by its stable name (for scenario files).
    public init?(name: String) {
        guard let code = ErrorCode.allCases.first(where: { $0.name == name }) else { return nil }
        self = code
    }

    public var description: String { name }
}

/// A typed QuickPay error: a stable code plus a message a person can act on, and which actor
/// decided it (set by the host of the actor that made it, kept when another actor relays it).
public struct QuickPayError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String
    public var origin: ActorRole?

    public init(_ code: ErrorCode, _ message: String, origin: ActorRole? = nil) {
        self.code = code
        self.message = message
        self.origin = origin
    }

    public var description: String { "\(code.name): \(message)" }
}

/// The five kinds of actor: where an error was decided, and who a message came from.
public enum ActorRole: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case bank = 1
    case appServer = 2
    case networkProvider = 3
    case merchant = 4
    case customer = 5

    public var description: String {
        switch self {
        case .bank: "bank"
        case .appServer: "appserver"
        case .networkProvider: "nsp"
        case .merchant: "merchant"
        case .customer: "customer"
        }
    }
}

/// How a merchant takes coins: offline (PayWord: its own state, redeems later) or online (the
/// bank verifies and marks every coin before the merchant delivers). The bank's record of a
/// receiver's mode is the one that counts; a merchant learns it from the bank.
public enum MerchantMode: String, Sendable, CaseIterable {
    case offline, online
}
