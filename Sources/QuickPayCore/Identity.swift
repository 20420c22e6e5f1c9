/// Validated identity values of registration and login. Each type checks its shape once, at
/// the edge, so the actors never see a malformed one.
private func allBytes(_ text: String, in allowed: (UInt8) -> Bool) -> Bool { text.utf8.allSatisfy(allowed) }

private func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
}

private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

/// A username: 3 to 32 of `a-z 0-9 . _ -`.
public struct Username: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) throws(QuickPayError) {
        guard (3...32).contains(value.utf8.count),
            allBytes(value, in: { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { throw QuickPayError(.malformed, "username must be 3 to 32 of a-z 0-9 . _ -") }
        self.value = value
    }
    public static func < (lhs: Username, rhs: Username) -> Bool { lhs.value < rhs.value }
    public var description: String { value }
}

/// A password as typed: 8 to 128 bytes. Its description never shows it.
public struct Password: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    /// Checks only the length bounds (a login with any in-bounds password gets the same answer
    /// shape whether or not the user exists).
    public init(_ value: String) throws(QuickPayError) {
        guard (8...128).contains(value.utf8.count) else {
            throw QuickPayError(.malformed, "password must be 8 to 128 bytes")
        }
        self.value = value
    }
    public var description: String { "<password>" }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits.
public struct PhoneNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) throws(QuickPayError) {
        let bytes = Array(value.utf8)
        guard bytes.count >= 9, bytes.count <= 16, bytes[0] == UInt8(ascii: "+"), bytes.dropFirst().allSatisfy(isDigit)
        else { throw QuickPayError(.malformed, "phone must be + and 8 to 15 digits") }
        self.value = value
    }
    public static func < (lhs: PhoneNumber, rhs: PhoneNumber) -> Bool { lhs.value < rhs.value }
    public var description: String { value }
}

/// A bank account number: 1 to 32 of `A-Z a-z 0-9 -`.
public struct AccountID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) throws(QuickPayError) {
        guard (1...32).contains(value.utf8.count),
            allBytes(value, in: { isLowerAlphanumeric($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "-") })
        else { throw QuickPayError(.malformed, "bank account must be 1 to 32 of A-Z a-z 0-9 -") }
        self.value = value
    }
    public static func < (lhs: AccountID, rhs: AccountID) -> Bool { lhs.value < rhs.value }
    public var description: String { value }
}

/// What a registered user is: a customer pays, a merchant receives.
public enum Role: UInt8, Sendable, CaseIterable {
    case customer = 1
    case merchant = 2
}

/// A 128-bit random session token (from the system CSPRNG, compared in constant time).
public struct SessionToken: Hashable, Sendable, CustomStringConvertible {
    public let raw: Bytes16
    public init(_ raw: Bytes16) { self.raw = raw }
    public static func random(using generator: inout some RandomNumberGenerator) -> SessionToken {
        SessionToken(.random(using: &generator))
    }
    public static func == (lhs: SessionToken, rhs: SessionToken) -> Bool {
        ((lhs.raw.high ^ rhs.raw.high) | (lhs.raw.low ^ rhs.raw.low)) == 0
    }
    public var description: String { "<session \(String(raw.hex.prefix(4)))…>" }
}

/// Names one login attempt (one OTP challenge), 16 random bytes.
public struct ChallengeID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Bytes16
    public init(_ raw: Bytes16) { self.raw = raw }
    public static func random(using generator: inout some RandomNumberGenerator) -> ChallengeID {
        ChallengeID(.random(using: &generator))
    }
    public var description: String { raw.hex }

    /// Four hex digits the login's SMS names ("QuickPay code 123456 for login 3fa2"), so a phone
    /// takes the code of the login it is doing, not a late SMS of an earlier one.
    public var smsReference: String { String(raw.hex.prefix(4)) }
}

/// A 6-digit one-time code, drawn without modulo bias.
public struct OneTimeCode: Hashable, Sendable, CustomStringConvertible {
    public let digits: String

    public init(_ digits: String) throws(QuickPayError) {
        guard digits.utf8.count == 6, allBytes(digits, in: isDigit) else {
            throw QuickPayError(.malformed, "a one-time code is exactly 6 digits")
        }
        self.digits = digits
    }

    /// Uniform over 000000...999999: `UInt64.random(in:using:)` rejects out-of-range draws
    /// instead of reducing modulo 10^6.
    public static func random(using generator: inout some RandomNumberGenerator) -> OneTimeCode {
        let value = UInt64.random(in: 0..<1_000_000, using: &generator)
        let text = String(value)
        return try! OneTimeCode(String(repeating: "0", count: 6 - text.count) + text)
    }

    public var description: String { "<otp>" }
}
