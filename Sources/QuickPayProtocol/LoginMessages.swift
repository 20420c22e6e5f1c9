import Foundation
import QuickPayCore

public struct RegisterRequest: Hashable, Sendable {
    public var username: Username
    public var password: Password
    public var phone: PhoneNumber
    public var bankAccount: AccountID
    public var role: Role

    public init(username: Username, password: Password, phone: PhoneNumber, bankAccount: AccountID, role: Role) {
        self.username = username
        self.password = password
        self.phone = phone
        self.bankAccount = bankAccount
        self.role = role
    }

    init(wire: Quickpay_V1_RegisterRequest) throws(QuickPayError) {
        username = try Username(wire.username)
        password = try Password(wire.password)
        phone = try PhoneNumber(wire.phone)
        bankAccount = try AccountID(wire.bankAccount)
        role = try WireField.role(wire.role)
    }

    var wire: Quickpay_V1_RegisterRequest {
        var out = Quickpay_V1_RegisterRequest()
        out.username = username.value
        out.password = password.value
        out.phone = phone.value
        out.bankAccount = bankAccount.value
        out.role = WireField.wire(role)
        return out
    }
}

public struct LoginRequest: Hashable, Sendable {
    public var username: Username
    public var password: Password
    public init(username: Username, password: Password) {
        self.username = username
        self.password = password
    }
}

/// The app server sent a code to the registered phone for this login attempt.
public struct LoginChallenge: Hashable, Sendable {
    public var challengeID: ChallengeID
    public var expiresAt: Timestamp
    public init(challengeID: ChallengeID, expiresAt: Timestamp) {
        self.challengeID = challengeID
        self.expiresAt = expiresAt
    }
}

public struct OtpSubmit: Hashable, Sendable {
    public var challengeID: ChallengeID
    public var code: OneTimeCode
    public init(challengeID: ChallengeID, code: OneTimeCode) {
        self.challengeID = challengeID
        self.code = code
    }
}

public struct SessionGranted: Hashable, Sendable {
    public var session: SessionToken
    public var expiresAt: Timestamp
    /// The user's bank account: what a blind voucher's unload authorization names.
    public var account: AccountID
    public init(session: SessionToken, expiresAt: Timestamp, account: AccountID) {
        self.session = session
        self.expiresAt = expiresAt
        self.account = account
    }
}

/// App server -> network provider: send this text to this phone.
public struct SmsSubmit: Hashable, Sendable {
    public static let maximumTextBytes = 160
    public var phone: PhoneNumber
    public var text: String
    public init(phone: PhoneNumber, text: String) {
        self.phone = phone
        self.text = text
    }
}

/// Network provider -> device: an SMS arrived for the phone this device holds.
public struct SmsDelivery: Hashable, Sendable {
    public var smsID: Bytes16
    public var phone: PhoneNumber
    public var text: String
    public init(smsID: Bytes16, phone: PhoneNumber, text: String) {
        self.smsID = smsID
        self.phone = phone
        self.text = text
    }
}

/// Network provider -> device: answer this with the phone's SIM (`SimCard.answer`).
public struct AttachChallenge: Hashable, Sendable {
    public var nonce: Bytes32
    public var expiresAt: Timestamp
    public init(nonce: Bytes32, expiresAt: Timestamp) {
        self.nonce = nonce
        self.expiresAt = expiresAt
    }
}

/// Device -> network provider: the SIM's answer to an `AttachChallenge`.
public struct DeviceAttachProof: Hashable, Sendable {
    public var phone: PhoneNumber
    public var nonce: Bytes32
    public var response: Bytes32
    public init(phone: PhoneNumber, nonce: Bytes32, response: Bytes32) {
        self.phone = phone
        self.nonce = nonce
        self.response = response
    }
}
