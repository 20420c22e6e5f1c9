import QuickPayCore
import QuickPayProtocol

public struct AppServerConfig: Sendable {
    public var passwordRounds = PasswordHasher.owaspRounds
    public var otpLifetimeSeconds: Int64 = 300
    public var otpMaximumTries = 5
    public var otpResendCooldownSeconds: Int64 = 30
    public var otpMaximumResends = 3
    /// Wrong passwords and codes (together) before the user is locked out, and for how long.
    public var maximumFailedAttempts = 10
    public var lockoutSeconds: Int64 = 900
    public var sessionLifetimeSeconds: Int64 = 3600
    public var peerDeadlineMilliseconds = 3000
    /// Requests waiting for the bank or the network provider at once; beyond it, OVERLOADED.
    public var maximumPending = 10_000
    public init() {}
}

/// The app server: users, login with an OTP sent through the network provider, sessions, the
/// receiver directory; it relays balance, load, unload and withdrawal to the bank with the
/// session's account, and runs the prepaid market codes.
public struct AppServerActor: ServerActor {
    let store: any AppServerStore
    let config: AppServerConfig
    let hasher: PasswordHasher
    let otpMAC: OneTimeCodeMAC
    var random: any RandomNumberGenerator
    /// Requests waiting for the bank or the network provider, by the outgoing request id.
    var pending: [RequestID: Pending] = [:]
    /// A hash to compare against when the user does not exist, so both answers cost the same.
    let decoyHash: PasswordHash

    enum Pending {
        case register(ClientID, Envelope, RegisterRequest)
        case login(ClientID, Envelope, LoginChallenge)
        case forward(ClientID, Envelope)
        case prepaid(ClientID, Envelope, PrepaidCodeRecord, Username)
    }

    public init(store: any AppServerStore, config: AppServerConfig = AppServerConfig(), otpKey: Bytes32, random: any RandomNumberGenerator) {
        self.store = store
        self.config = config
        self.hasher = PasswordHasher(rounds: config.passwordRounds)
        self.otpMAC = OneTimeCodeMAC(key: otpKey)
        self.random = random
        var random = random
        decoyHash = PasswordHasher(rounds: config.passwordRounds).hash(try! Password("decoy-password"), salt: .random(using: &random))
        self.random = random
    }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> [Output] {
        let digest = requestDigest(envelope)
        return answering(envelope, to: client) {
            if pending[envelope.requestID] != nil { return [] }  // a retry while a peer is asked
            guard pending.count < config.maximumPending else {
                throw QuickPayError(.overloaded, "\(pending.count) requests are waiting for the bank; try again shortly")
            }
            if let cached = try store.cachedReply(envelope.requestID) {
                guard cached.requestDigest == digest else { throw QuickPayError(.conflict, "request id reused") }
                return [.reply(to: client, envelope.reply(cached.reply))]
            }
            switch envelope.body {
            case .register(let request): return try register(request, envelope: envelope, client: client)
            case .login(let request): return try login(request, envelope: envelope, client: client, now: now)
            case .otpSubmit(let submit): return try submitOTP(submit, envelope: envelope, client: client, now: now)
            case .otpResend(let id): return try resendOTP(id, envelope: envelope, client: client, now: now)
            case .logout(let request):
                var batch = AppServerBatch()
                batch.endedSessions = [Bytes32.sha256(of: request.session.raw.bytes)]
                try store.commit(batch)
                return [.reply(to: client, envelope.reply(.ack))]
            case .balance(let request):
                let user = try sessionUser(request.session, now: now)
                return forward(.bankBalance(user.account), envelope: envelope, client: client)
            case .load(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                guard let merchant = try? Username(request.receiverID.value), let receiver = try store.user(merchant), receiver.role == .merchant else {
                    throw QuickPayError(.unknownReceiver, "no merchant \(request.receiverID) is registered")
                }
                return forward(.bankLoad(LoadRequest(account: user.account, receiverID: request.receiverID, chains: request.chains)), envelope: envelope, client: client)
            case .unload(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                return forward(.bankUnload(UnloadRequest(account: user.account, authorization: request.authorization)), envelope: envelope, client: client)
            case .withdraw(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                return forward(.bankWithdraw(WithdrawRequest(account: user.account, amount: request.amount)), envelope: envelope, client: client)
            case .prepaidRedeem(let request):
                let user = try sessionUser(request.session, now: now)
                let hash = Bytes32.sha256(of: Array(request.code.utf8))
                guard let code = try store.prepaidCode(hash), code.redeemedBy == nil else {
                    throw QuickPayError(.codeInvalid, "unknown or already redeemed code")
                }
                let credit = Envelope(requestID: envelope.requestID, body: .bankCredit(BankCredit(account: user.account, amount: code.amount, codeHash: hash)))
                pending[envelope.requestID] = .prepaid(client, envelope, code, user.username)
                return [.request(to: .bank, credit, deadlineMilliseconds: config.peerDeadlineMilliseconds)]
            case .prepaidIssue:
                throw QuickPayError(.forbidden, "prepaid codes are issued by the operator, through the control endpoint")
            default:
                throw QuickPayError(.malformed, "the app server does not take \(envelope.body.typeName)")
            }
        }
    }

    // MARK: M1 registration and login

    mutating func register(_ request: RegisterRequest, envelope: Envelope, client: ClientID) throws -> [Output] {
        guard try store.user(request.username) == nil else { throw QuickPayError(.alreadyExists, "username \(request.username) is taken") }
        // Only a holder of an account at the bank can register: ask the bank first.
        pending[envelope.requestID] = .register(client, envelope, request)
        return [.request(to: .bank, Envelope(requestID: envelope.requestID, body: .bankBalance(request.bankAccount)), deadlineMilliseconds: config.peerDeadlineMilliseconds)]
    }

    mutating func login(_ request: LoginRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> [Output] {
        let user = try store.user(request.username)
        // The same work whether the user is unknown or the password wrong, and the same answer.
        let passwordHolds = hasher.verify(request.password, against: user?.passwordHash ?? decoyHash)
        guard var user else { throw QuickPayError(.authenticationFailed, "wrong username or password") }
        // A locked user gets LOCKED_OUT whether or not the password is right: the lockout is no
        // oracle for guessing it.
        if let lockedUntil = user.lockedUntil, now < lockedUntil {
            throw QuickPayError(.lockedOut, "too many failed attempts; try again after \(lockedUntil)")
        }
        guard passwordHolds else {
            try recordFailure(&user, now: now)
            throw QuickPayError(.authenticationFailed, "wrong username or password")
        }
        let code = OneTimeCode.random(using: &random)
        let challenge = ChallengeRecord(
            id: .random(using: &random), username: user.username, codeMAC: .zero, expiresAt: now.adding(seconds: config.otpLifetimeSeconds),
            tries: 0, used: false, sentAt: now, resends: 0)
        return try sendCode(code, challenge: challenge, phone: user.phone, envelope: envelope, client: client)
    }

    /// Counts a wrong password or code, locking the user out at the limit.
    func recordFailure(_ user: inout UserRecord, now: Timestamp, with batch: AppServerBatch = AppServerBatch()) throws {
        var batch = batch
        user.failedAttempts += 1
        if user.failedAttempts >= config.maximumFailedAttempts {
            user.lockedUntil = now.adding(seconds: config.lockoutSeconds)
            user.failedAttempts = 0
        }
        batch.users = [user]
        try store.commit(batch)
    }

    func checkNotLocked(_ user: UserRecord, now: Timestamp) throws {
        if let lockedUntil = user.lockedUntil, now < lockedUntil {
            throw QuickPayError(.lockedOut, "too many failed attempts; try again after \(lockedUntil)")
        }
    }

    mutating func sendCode(_ code: OneTimeCode, challenge: ChallengeRecord, phone: PhoneNumber, envelope: Envelope, client: ClientID) throws -> [Output] {
        var challenge = challenge
        challenge.codeMAC = otpMAC.mac(code, challenge: challenge.id)
        var batch = AppServerBatch()
        batch.challenges = [challenge]
        try store.commit(batch)
        // The SMS goes out under the client's request id, so a retry of the same login (same
        // id) finds it pending and starts no second challenge.
        let sms = Envelope(requestID: envelope.requestID, body: .smsSubmit(SmsSubmit(phone: phone, text: "QuickPay code \(code.digits). Never share it.")))
        pending[sms.requestID] = .login(client, envelope, LoginChallenge(challengeID: challenge.id, expiresAt: challenge.expiresAt))
        return [.request(to: .networkProvider, sms, deadlineMilliseconds: config.peerDeadlineMilliseconds)]
    }

    mutating func submitOTP(_ submit: OtpSubmit, envelope: Envelope, client: ClientID, now: Timestamp) throws -> [Output] {
        guard var challenge = try store.challenge(submit.challengeID), !challenge.used else {
            throw QuickPayError(.otpInvalid, "no such login attempt, or its code was used")
        }
        guard now < challenge.expiresAt else { throw QuickPayError(.otpExpired, "the code expired at \(challenge.expiresAt)") }
        guard var user = try store.user(challenge.username) else { throw QuickPayError(.otpInvalid, "no such login attempt") }
        try checkNotLocked(user, now: now)
        guard challenge.tries < config.otpMaximumTries else {
            throw QuickPayError(.lockedOut, "\(config.otpMaximumTries) wrong codes: this login attempt is locked")
        }
        var batch = AppServerBatch()
        challenge.tries += 1
        guard otpMAC.mac(submit.code, challenge: challenge.id) == challenge.codeMAC else {
            batch.challenges = [challenge]
            try recordFailure(&user, now: now, with: batch)
            return [.reply(to: client, envelope.fail(QuickPayError(.otpInvalid, "wrong code")))]
        }
        if user.failedAttempts > 0 {
            user.failedAttempts = 0
            batch.users = [user]
        }
        challenge.used = true
        let token = SessionToken.random(using: &random)
        let expiresAt = now.adding(seconds: config.sessionLifetimeSeconds)
        batch.challenges = [challenge]
        batch.sessions = [SessionRecord(tokenHash: Bytes32.sha256(of: token.raw.bytes), username: user.username, expiresAt: expiresAt)]
        // The token is not cached: a lost reply means logging in again, never a token at rest.
        try store.commit(batch)
        return [.reply(to: client, envelope.reply(.sessionGranted(SessionGranted(session: token, expiresAt: expiresAt))))]
    }

    mutating func resendOTP(_ id: ChallengeID, envelope: Envelope, client: ClientID, now: Timestamp) throws -> [Output] {
        guard var challenge = try store.challenge(id), !challenge.used, let user = try store.user(challenge.username) else {
            throw QuickPayError(.otpInvalid, "no such login attempt, or its code was used")
        }
        guard now < challenge.expiresAt else { throw QuickPayError(.otpExpired, "this login attempt expired") }
        try checkNotLocked(user, now: now)
        guard challenge.tries < config.otpMaximumTries else { throw QuickPayError(.lockedOut, "this login attempt is locked") }
        guard now.secondsSinceEpoch - challenge.sentAt.secondsSinceEpoch >= config.otpResendCooldownSeconds else {
            throw QuickPayError(.rateLimited, "wait \(config.otpResendCooldownSeconds) s between codes")
        }
        guard challenge.resends < config.otpMaximumResends else { throw QuickPayError(.limitExceeded, "no more codes for this attempt") }
        challenge.resends += 1
        challenge.sentAt = now
        challenge.tries = 0
        return try sendCode(.random(using: &random), challenge: challenge, phone: user.phone, envelope: envelope, client: client)
    }

    func sessionUser(_ token: SessionToken, now: Timestamp) throws -> UserRecord {
        guard let session = try store.session(Bytes32.sha256(of: token.raw.bytes)), now < session.expiresAt,
            let user = try store.user(session.username)
        else { throw QuickPayError(.sessionInvalid, "log in again") }
        return user
    }

    mutating func forward(_ body: Body, envelope: Envelope, client: ClientID) -> [Output] {
        pending[envelope.requestID] = .forward(client, envelope)
        return [.request(to: .bank, Envelope(requestID: envelope.requestID, body: body), deadlineMilliseconds: config.peerDeadlineMilliseconds)]
    }
}
