import QuickPayCore
import QuickPayProtocol

/// A salted PBKDF2-HMAC-SHA256 password hash (never MD5, whatever the paper says).
public struct PasswordHash: Hashable, Sendable {
    public let rounds: Int
    public let salt: Bytes16
    public let hash: Bytes32
    public init(rounds: Int, salt: Bytes16, hash: Bytes32) {
        self.rounds = rounds
        self.salt = salt
        self.hash = hash
    }
}

public struct UserRecord: Hashable, Sendable {
    public let username: Username
    public let passwordHash: PasswordHash
    public let phone: PhoneNumber
    public let account: AccountID
    public let role: Role
    /// Wrong passwords and wrong codes since the last success; at
    /// `AppServerConfig.maximumFailedAttempts` the user is locked out until `lockedUntil`.
    public var failedAttempts: Int
    public var lockedUntil: Timestamp?

    public init(username: Username, passwordHash: PasswordHash, phone: PhoneNumber, account: AccountID, role: Role, failedAttempts: Int = 0, lockedUntil: Timestamp? = nil) {
        self.username = username
        self.passwordHash = passwordHash
        self.phone = phone
        self.account = account
        self.role = role
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
    }
}

/// A registration waiting for the code sent to the account's phone of record: the user it
/// creates once the code comes back (the password already hashed; the plain one is not kept).
public struct RegistrationDraft: Hashable, Sendable {
    public let passwordHash: PasswordHash
    public let phone: PhoneNumber
    public let account: AccountID
    public let role: Role
    public init(passwordHash: PasswordHash, phone: PhoneNumber, account: AccountID, role: Role) {
        self.passwordHash = passwordHash
        self.phone = phone
        self.account = account
        self.role = role
    }

    public func user(_ username: Username) -> UserRecord {
        UserRecord(username: username, passwordHash: passwordHash, phone: phone, account: account, role: role)
    }
}

/// One login's (or registration's) OTP. Only a keyed hash of the code is kept.
public struct ChallengeRecord: Hashable, Sendable {
    public let id: ChallengeID
    public let username: Username
    public var codeMAC: Bytes32
    public var expiresAt: Timestamp
    public var tries: Int
    public var used: Bool
    public var sentAt: Timestamp
    public var resends: Int
    /// The request that used the code (its retry gets a session too).
    public var usedBy: RequestID?
    /// Set for a registration's code: the user to create (`username` is the name asked for).
    public var registration: RegistrationDraft?

    public init(
        id: ChallengeID, username: Username, codeMAC: Bytes32, expiresAt: Timestamp, tries: Int, used: Bool, sentAt: Timestamp, resends: Int,
        usedBy: RequestID? = nil, registration: RegistrationDraft? = nil
    ) {
        self.registration = registration
        self.id = id
        self.username = username
        self.codeMAC = codeMAC
        self.expiresAt = expiresAt
        self.tries = tries
        self.used = used
        self.sentAt = sentAt
        self.resends = resends
        self.usedBy = usedBy
    }
}

/// A session, found by the SHA-256 of its token (the token itself is never stored).
public struct SessionRecord: Hashable, Sendable {
    public let tokenHash: Bytes32
    public let username: Username
    public let expiresAt: Timestamp
    public init(tokenHash: Bytes32, username: Username, expiresAt: Timestamp) {
        self.tokenHash = tokenHash
        self.username = username
        self.expiresAt = expiresAt
    }
}

/// A prepaid market code, found by the SHA-256 of the code.
public struct PrepaidCodeRecord: Hashable, Sendable {
    public let codeHash: Bytes32
    public let amount: Amount
    public var redeemedBy: Username?
    public init(codeHash: Bytes32, amount: Amount, redeemedBy: Username?) {
        self.codeHash = codeHash
        self.amount = amount
        self.redeemedBy = redeemedBy
    }
}

/// Wrong passwords from one client key for one username, and its lockout: kept durable, so a
/// restart of the app server forgives nobody's guesses. `keyHash` is the SHA-256 of the client's
/// CURVE key (all zeros for a plaintext deployment, which proves none).
public struct LoginLockRecord: Hashable, Sendable {
    public let keyHash: Bytes32
    public let username: String
    public var failures: Int
    public var lockouts: Int
    public var until: Timestamp?
    /// The last wrong password: a record quiet for a day, its lockout over, is forgotten.
    public var lastFailure: Timestamp
    public init(keyHash: Bytes32, username: String, failures: Int, lockouts: Int, until: Timestamp?, lastFailure: Timestamp) {
        self.keyHash = keyHash
        self.username = username
        self.failures = failures
        self.lockouts = lockouts
        self.until = until
        self.lastFailure = lastFailure
    }

    public var isEmpty: Bool { failures == 0 && lockouts == 0 && until == nil }
}

/// Everything one app-server step changes, staged in one piece.
public struct AppServerBatch: Sendable {
    public var users: [UserRecord] = []
    public var challenges: [ChallengeRecord] = []
    public var sessions: [SessionRecord] = []
    public var endedSessions: [Bytes32] = []
    /// Users all of whose sessions end (a lockout ends them).
    public var endedSessionsOf: [Username] = []
    public var codes: [PrepaidCodeRecord] = []
    /// Login lock counts to keep; a record with no failures, no lockout and no time is removed.
    public var loginLocks: [LoginLockRecord] = []
    /// Forget up to 1,000 login lock records whose last failure and lockout are both before this.
    public var forgetLoginLocksBefore: Timestamp?
    /// Delete up to 1,000 sessions that expired before `sessionsBefore` and up to 1,000
    /// challenges that expired before `challengesBefore` (each login leaves one of each).
    public var forgetExpired: (sessionsBefore: Timestamp, challengesBefore: Timestamp)?
    public init() {}

    public var isEmpty: Bool {
        users.isEmpty && challenges.isEmpty && sessions.isEmpty && endedSessions.isEmpty && endedSessionsOf.isEmpty && codes.isEmpty && loginLocks.isEmpty
            && forgetLoginLocksBefore == nil && forgetExpired == nil
    }
}

/// The app server's storage: reads for the actor; changes through the host's `Journal`.
public protocol AppServerStore: Journal where Batch == AppServerBatch {
    func user(_ username: Username) throws -> UserRecord?
    /// The user registered with this phone, or on this bank account (each has at most one).
    func user(phone: PhoneNumber) throws -> UserRecord?
    func user(account: AccountID) throws -> UserRecord?
    func challenge(_ id: ChallengeID) throws -> ChallengeRecord?
    func session(_ tokenHash: Bytes32) throws -> SessionRecord?
    func prepaidCode(_ codeHash: Bytes32) throws -> PrepaidCodeRecord?
    func allUsers() throws -> [UserRecord]
    func allSessions() throws -> [SessionRecord]
    func allChallenges() throws -> [ChallengeRecord]
    func loginLock(keyHash: Bytes32, username: String) throws -> LoginLockRecord?
}

/// An in-memory `AppServerStore` for unit tests and the simulator; models durability.
public final class MemoryAppServerStore: AppServerStore, MemoryJournal {
    public struct State: MemoryState {
        public var users: [Username: UserRecord] = [:]
        public var challenges: [ChallengeID: ChallengeRecord] = [:]
        public var sessions: [Bytes32: SessionRecord] = [:]
        public var codes: [Bytes32: PrepaidCodeRecord] = [:]
        public var loginLocks: [String: LoginLockRecord] = [:]
        public var answers = MemoryAnswers()
    }

    public var state = Durable(State())
    public init() {}

    public func user(_ username: Username) throws -> UserRecord? { state.working.users[username] }
    public func user(phone: PhoneNumber) throws -> UserRecord? { state.working.users.values.first { $0.phone == phone } }
    public func user(account: AccountID) throws -> UserRecord? { state.working.users.values.first { $0.account == account } }
    public func challenge(_ id: ChallengeID) throws -> ChallengeRecord? { state.working.challenges[id] }
    public func session(_ tokenHash: Bytes32) throws -> SessionRecord? { state.working.sessions[tokenHash] }
    public func prepaidCode(_ codeHash: Bytes32) throws -> PrepaidCodeRecord? { state.working.codes[codeHash] }
    public func allUsers() throws -> [UserRecord] { Array(state.working.users.values) }
    public func allSessions() throws -> [SessionRecord] { Array(state.working.sessions.values) }
    public func allChallenges() throws -> [ChallengeRecord] { Array(state.working.challenges.values) }
    public func loginLock(keyHash: Bytes32, username: String) throws -> LoginLockRecord? { state.working.loginLocks["\(keyHash.hex) \(username)"] }


    public func stage(_ batch: AppServerBatch) throws {
        var next = state.working
        for user in batch.users {
            // One user per phone and per bank account, as the SQLite store's unique indexes hold.
            if next.users.values.contains(where: { $0.username != user.username && ($0.phone == user.phone || $0.account == user.account) }) {
                throw StoreError("phone \(user.phone) or account \(user.account) already has a user")
            }
            next.users[user.username] = user
        }
        for challenge in batch.challenges { next.challenges[challenge.id] = challenge }
        for session in batch.sessions { next.sessions[session.tokenHash] = session }
        for ended in batch.endedSessions { next.sessions[ended] = nil }
        for user in batch.endedSessionsOf { next.sessions = next.sessions.filter { $0.value.username != user } }
        for code in batch.codes {
            if let before = next.codes[code.codeHash], before.redeemedBy != nil, before != code {
                throw StoreError("prepaid code \(code.codeHash) was redeemed already")
            }
            next.codes[code.codeHash] = code
        }
        for lock in batch.loginLocks {
            let key = "\(lock.keyHash.hex) \(lock.username)"
            next.loginLocks[key] = lock.isEmpty ? nil : lock
        }
        if let before = batch.forgetLoginLocksBefore {
            let stale = next.loginLocks.filter { $0.value.lastFailure < before && ($0.value.until ?? before) <= before }.keys.sorted().prefix(1000)
            for key in stale { next.loginLocks[key] = nil }
        }
        if let expired = batch.forgetExpired {
            let sessions = next.sessions.filter { $0.value.expiresAt < expired.sessionsBefore }.keys.sorted { $0.hex < $1.hex }.prefix(1000)
            for key in sessions { next.sessions[key] = nil }
            let challenges = next.challenges.filter { $0.value.expiresAt < expired.challengesBefore }.keys.sorted { $0.raw.hex < $1.raw.hex }.prefix(1000)
            for key in challenges { next.challenges[key] = nil }
        }
        state.working = next
    }

}
