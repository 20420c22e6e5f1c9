import QuickPayCore
import QuickPayProtocol

public struct AppServerConfig: Sendable {
    public var passwordRounds = PasswordHasher.owaspRounds
    public var otpLifetimeSeconds: Int64 = 300
    public var otpMaximumTries = 5
    public var otpResendCooldownSeconds: Int64 = 30
    public var otpMaximumResends = 3
    /// Wrong codes (from someone who knew the password) before the user is locked out, and for
    /// how long. Wrong passwords count per client key instead (`loginLimits`).
    public var maximumFailedAttempts = 10
    public var lockoutSeconds: Int64 = 900
    public var sessionLifetimeSeconds: Int64 = 3600
    public var peerDeadlineMilliseconds = 3000
    /// Requests waiting for the bank or the network provider at once; beyond it, OVERLOADED.
    public var maximumPending = 10_000
    /// Rate limits and lockouts of logins, and the bound on password hashes in flight.
    public var loginLimits = LoginLimits()
    /// A login lock record whose last wrong password and lockout are this old is forgotten.
    public var loginLockRetentionSeconds: Int64 = 86_400
    /// An expired login or registration challenge is kept this long, then deleted (expired
    /// sessions go at once).
    public var expiredChallengeRetentionSeconds: Int64 = 86_400
    public init() {}
}

/// The app server: users, login with an OTP sent through the network provider, sessions, the
/// receiver directory; it relays balance, load, unload and withdrawal to the bank with the
/// session's account, and runs the prepaid market codes.
public struct AppServerActor: ServerActor {
    public typealias Batch = AppServerBatch
    public static let role = ActorRole.appServer

    let store: any AppServerStore
    let config: AppServerConfig
    let hasher: PasswordHasher
    let otpMAC: OneTimeCodeMAC
    var random: any RandomNumberGenerator
    /// Requests waiting for the bank or the network provider, by the outgoing request id.
    var pending: [RequestID: Pending] = [:]
    /// A hash to compare against when the user does not exist, so both answers cost the same.
    let decoyHash: PasswordHash
    /// Password hashes out on the host's worker pool, by computation id.
    var computing: [ComputationID: Computing] = [:]
    var logins: LoginGuard
    /// When the tick next forgets stale login lock records (once a minute).
    var nextLockPrune: Timestamp?

    enum Computing {
        case login(ClientID, Envelope, LoginRequest, since: Timestamp)
        case registration(ClientID, Envelope, RegisterRequest, since: Timestamp)

        var since: Timestamp {
            switch self {
            case .login(_, _, _, let since), .registration(_, _, _, let since): since
            }
        }
    }

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
        self.logins = LoginGuard(limits: config.loginLimits)
        var random = random
        decoyHash = PasswordHasher(rounds: config.passwordRounds).hash(try! Password("decoy-password"), salt: .random(using: &random))
        self.random = random
    }

    public func idempotency(of body: Body) -> IdempotencyPolicy? {
        switch body {
        // A retried login gets the same challenge (its SMS is not sent twice), a retried wrong
        // password the same refusal without counting twice.
        case .register, .login, .otpResend, .prepaidRedeem: .retried(.global)
        // The bank keeps these answers under the id the app server forwards with; here a
        // duplicate only waits for the first answer. A session token is never kept at rest.
        case .balance, .load, .unload, .withdraw, .otpSubmit, .refresh: .inFlightOnly(.global)
        default: nil
        }
    }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<AppServerBatch> {
        answering(envelope, to: client) {
            guard pending.count < config.maximumPending else {
                throw QuickPayError(.overloaded, "\(pending.count) requests are waiting for the bank; try again shortly")
            }
            switch envelope.body {
            case .register(let request): return try register(request, envelope: envelope, client: client)
            case .login(let request): return try login(request, envelope: envelope, client: client, now: now)
            case .otpSubmit(let submit): return try submitOTP(submit, envelope: envelope, client: client, now: now)
            case .otpResend(let id): return try resendOTP(id, envelope: envelope, client: client, now: now)
            case .logout(let request):
                var batch = AppServerBatch()
                batch.endedSessions = [Bytes32.sha256(of: request.session.raw.bytes)]
                return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(.ack))])
            case .balance(let request):
                let user = try sessionUser(request.session, now: now)
                return forward(.bankBalance(user.account), for: user, envelope: envelope, client: client)
            case .load(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                if case .chains(let receiverID, _) = request.content {
                    guard let merchant = try? Username(receiverID.value), let receiver = try store.user(merchant), receiver.role == .merchant else {
                        throw QuickPayError(.unknownReceiver, "no merchant \(receiverID) is registered")
                    }
                }
                // A blind load names no receiver: it is inside the blinded message.
                return forward(.bankLoad(LoadRequest(account: user.account, content: request.content)), for: user, envelope: envelope, client: client)
            case .unload(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                // An unload to REFRESH goes without the account: the bank must not tie the voucher to it.
                let account = request.authorization.destination == .refresh ? nil : user.account
                return forward(
                    .bankUnload(UnloadRequest(account: account, authorization: request.authorization, voucher: request.voucher)), for: user, envelope: envelope,
                    client: client)
            case .refresh(let request):
                // Served to a user with a session; the bank gets no account (it must not learn
                // whose voucher is refreshed into which new ones).
                let user = try sessionUser(try request.session.orThrow(), now: now)
                return forward(.bankRefresh(RefreshRequest(authorization: request.authorization, blinded: request.blinded)), for: user, envelope: envelope, client: client)
            case .withdraw(let request):
                let user = try sessionUser(try request.session.orThrow(), now: now)
                return forward(.bankWithdraw(WithdrawRequest(account: user.account, amount: request.amount)), for: user, envelope: envelope, client: client)
            case .prepaidRedeem(let request):
                let user = try sessionUser(request.session, now: now)
                let hash = Bytes32.sha256(of: Array(request.code.utf8))
                guard let code = try store.prepaidCode(hash), code.redeemedBy == nil else {
                    throw QuickPayError(.codeInvalid, "unknown or already redeemed code")
                }
                let credit = Envelope(requestID: Self.forwardID(user.account, envelope.requestID), body: .bankCredit(BankCredit(account: user.account, amount: code.amount, codeHash: hash)))
                pending[credit.requestID] = .prepaid(client, envelope, code, user.username)
                return Step(outputs: [.request(to: .bank, credit, deadlineMilliseconds: config.peerDeadlineMilliseconds)])
            case .prepaidIssue:
                throw QuickPayError(.forbidden, "prepaid codes are issued by the operator, through the control endpoint")
            default:
                throw QuickPayError(.malformed, "the app server does not take \(envelope.body.typeName)")
            }
        }
    }

    /// The request id a customer's request is forwarded to the bank under: derived from the
    /// account and the customer's own id, so a retry (same id) is the same request at the bank,
    /// and no customer can reuse another's id there (the bank keeps the app server's ids for good).
    static func forwardID(_ account: AccountID, _ requestID: RequestID) -> RequestID {
        let digest = Bytes32.sha256(of: Array("QuickPay/forward/v1".utf8) + Array(account.value.utf8) + [0] + requestID.raw.bytes)
        return RequestID(Bytes16(digest.bytes.prefix(16))!)
    }

    // MARK: M1 registration and login

    /// Registration proves the registrant holds the account's phone: the bank names the
    /// account's phone of record (which must be the one given), the code goes there, and the
    /// user exists only once that code comes back (`submitOTP`). One user per bank account and
    /// per phone.
    mutating func register(_ request: RegisterRequest, envelope: Envelope, client: ClientID) throws -> Step<AppServerBatch> {
        try checkFree(request.username, phone: request.phone, account: request.bankAccount)
        let ask = Envelope(requestID: .random(using: &random), body: .bankAccountOwner(request.bankAccount, request.role))
        pending[ask.requestID] = .register(client, envelope, request)
        return Step(outputs: [.request(to: .bank, ask, deadlineMilliseconds: config.peerDeadlineMilliseconds)])
    }

    func checkFree(_ username: Username, phone: PhoneNumber, account: AccountID) throws {
        guard try store.user(username) == nil else { throw QuickPayError(.alreadyExists, "username \(username) is taken") }
        guard try store.user(phone: phone) == nil else { throw QuickPayError(.alreadyExists, "phone \(phone) already belongs to a user") }
        guard try store.user(account: account) == nil else { throw QuickPayError(.alreadyExists, "account \(account) already has a user") }
    }

    /// The bank named the account's phone of record: the registration's code goes there.
    mutating func registrationOwner(_ phone: PhoneNumber, request: RegisterRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        // Unknown account and someone else's phone get the same refusal: no oracle for either.
        guard phone == request.phone else { throw Self.notYourAccount(request) }
        try checkFree(request.username, phone: request.phone, account: request.bankAccount)
        try logins.admit(client.key, "register \(request.username)", now: now)
        let id = ComputationID.random(using: &random)
        computing[id] = .registration(client, envelope, request, since: now)
        return Step(outputs: [.compute(id, .hashPassword(request.password, salt: .random(using: &random), rounds: hasher.rounds))])
    }

    /// The registrant's password is hashed: the code goes to the account's phone.
    mutating func registrationHashed(_ hash: PasswordHash, request: RegisterRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        try checkFree(request.username, phone: request.phone, account: request.bankAccount)
        let draft = RegistrationDraft(passwordHash: hash, phone: request.phone, account: request.bankAccount, role: request.role)
        let challenge = ChallengeRecord(
            id: .random(using: &random), username: request.username, codeMAC: .zero, expiresAt: now.adding(seconds: config.otpLifetimeSeconds),
            tries: 0, used: false, sentAt: now, resends: 0, registration: draft)
        return sendCode(.random(using: &random), challenge: challenge, phone: request.phone, envelope: envelope, client: client)
    }

    static func notYourAccount(_ request: RegisterRequest) -> QuickPayError {
        QuickPayError(.forbidden, "the bank holds no \(request.role == .merchant ? "merchant" : "customer") account \(request.bankAccount) with phone \(request.phone)")
    }

    /// A login passes the limits (`LoginGuard`: rate per key and per username, lockouts per
    /// key), then its password is checked on the host's worker pool, never on the serving
    /// thread; `loginChecked` goes on with the result.
    mutating func login(_ request: LoginRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        let user = try store.user(request.username)
        if logins.needsLoading(client.key, request.username.value) {
            logins.load(client.key, request.username.value, try store.loginLock(keyHash: LoginGuard.keyHash(client.key), username: request.username.value))
        }
        try logins.admit(client.key, request.username.value, now: now)
        let id = ComputationID.random(using: &random)
        computing[id] = .login(client, envelope, request, since: now)
        // The same work whether the user is unknown or the password wrong, and the same answer.
        return Step(outputs: [.compute(id, .verifyPassword(request.password, against: user?.passwordHash ?? decoyHash))])
    }

    mutating func loginChecked(_ passwordHolds: Bool, request: LoginRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        let user = try store.user(request.username)
        // A user locked out for wrong codes gets LOCKED_OUT whether or not the password is
        // right: the lockout is no oracle for guessing it.
        if let user { try checkNotLocked(user, now: now) }
        guard passwordHolds, let user else {
            // The count is durable before the refusal leaves: a restart forgives no guess.
            var batch = AppServerBatch()
            batch.loginLocks = [logins.failed(client.key, request.username.value, now: now)]
            return Step(commit: batch, outputs: [.reply(to: client, envelope.fail(QuickPayError(.authenticationFailed, "wrong username or password")))], label: "login_failed")
        }
        let cleared = logins.succeeded(client.key, user.username.value)
        let code = OneTimeCode.random(using: &random)
        let challenge = ChallengeRecord(
            id: .random(using: &random), username: user.username, codeMAC: .zero, expiresAt: now.adding(seconds: config.otpLifetimeSeconds),
            tries: 0, used: false, sentAt: now, resends: 0)
        var step = sendCode(code, challenge: challenge, phone: user.phone, envelope: envelope, client: client)
        if let cleared { step.commit?.loginLocks.append(cleared) }
        return step
    }

    public mutating func handleComputed(_ result: ComputationResult?, id: ComputationID, now: Timestamp) -> Step<AppServerBatch> {
        guard let job = computing.removeValue(forKey: id) else { return .none }
        logins.finished()
        switch job {
        case .login(let client, let envelope, let request, _):
            return answering(envelope, to: client) {
                guard case .verified(let holds)? = result else { throw Self.busy }
                return try loginChecked(holds, request: request, envelope: envelope, client: client, now: now)
            }
        case .registration(let client, let envelope, let request, _):
            return answering(envelope, to: client) {
                guard case .hashed(let hash)? = result else { throw Self.busy }
                return try registrationHashed(hash, request: request, envelope: envelope, client: client, now: now)
            }
        }
    }

    static let busy = QuickPayError(.overloaded, "the server could not check the password now; try again shortly")

    /// Forgets hashes that never came back (their group failed, or the pool lost them), so
    /// they do not hold a place in the bound for ever; their requests get OVERLOADED.
    public mutating func tick(now: Timestamp) -> Step<AppServerBatch> {
        var outputs: [Output] = []
        for (id, job) in computing.sorted(by: { ($0.key.raw.high, $0.key.raw.low) < ($1.key.raw.high, $1.key.raw.low) })
        where now.secondsSinceEpoch - job.since.secondsSinceEpoch > 60 {
            computing[id] = nil
            logins.finished()
            switch job {
            case .login(let client, let envelope, _, _), .registration(let client, let envelope, _, _):
                outputs.append(.reply(to: client, envelope.fail(Self.busy)))
            }
        }
        guard now >= (nextLockPrune ?? now) else { return Step(outputs: outputs) }
        // Every 5 s, a thousand rows at most per table: 200 a second, while each login (a
        // challenge and a session) costs a password hash, a few a second per core.
        nextLockPrune = now.adding(seconds: 5)
        var batch = AppServerBatch()
        batch.forgetLoginLocksBefore = now.adding(seconds: -config.loginLockRetentionSeconds)
        // Each login leaves a challenge and a session: gone once expired (challenges kept a
        // while longer, for the record), so the tables do not grow with every login for ever.
        batch.forgetExpired = (sessionsBefore: now, challengesBefore: now.adding(seconds: -config.expiredChallengeRetentionSeconds))
        return Step(commit: batch, outputs: outputs, label: "forget_login_locks")
    }

    /// Counts a wrong password or code, locking the user out at the limit: the batch to commit.
    /// A lockout also ends the user's sessions: someone is guessing at this account, and no
    /// session (one a guess may have won) outlives that; the user logs in again after the lockout.
    func recordFailure(_ user: inout UserRecord, now: Timestamp, with batch: AppServerBatch = AppServerBatch()) -> AppServerBatch {
        var batch = batch
        user.failedAttempts += 1
        if user.failedAttempts >= config.maximumFailedAttempts {
            user.lockedUntil = now.adding(seconds: config.lockoutSeconds)
            user.failedAttempts = 0
            batch.endedSessionsOf = [user.username]
        }
        batch.users = [user]
        return batch
    }

    func checkNotLocked(_ user: UserRecord, now: Timestamp) throws {
        if let lockedUntil = user.lockedUntil, now < lockedUntil {
            throw QuickPayError(.lockedOut, "too many failed attempts; try again after \(lockedUntil)")
        }
    }

    /// The challenge is committed with the SMS request: the SMS leaves only once the code's MAC
    /// is durable, and the client hears of the challenge once the network provider took the SMS.
    mutating func sendCode(_ code: OneTimeCode, challenge: ChallengeRecord, phone: PhoneNumber, envelope: Envelope, client: ClientID) -> Step<AppServerBatch> {
        var challenge = challenge
        challenge.codeMAC = otpMAC.mac(code, challenge: challenge.id)
        var batch = AppServerBatch()
        batch.challenges = [challenge]
        let text = challenge.registration == nil
            ? "QuickPay code \(code.digits) for login \(challenge.id.smsReference). Never share it."
            : "QuickPay code \(code.digits) for login \(challenge.id.smsReference): registers \(challenge.username) on your account. Never share it."
        let sms = Envelope(requestID: .random(using: &random), body: .smsSubmit(SmsSubmit(phone: phone, text: text)))
        pending[sms.requestID] = .login(client, envelope, LoginChallenge(challengeID: challenge.id, expiresAt: challenge.expiresAt))
        // Named for the flow, whichever input made it (a login's challenge is committed when its
        // password hash comes back from the worker pool).
        let label = challenge.registration == nil ? "login" : "register_challenge"
        return Step(commit: batch, outputs: [.request(to: .networkProvider, sms, deadlineMilliseconds: config.peerDeadlineMilliseconds)], label: label)
    }

    mutating func submitOTP(_ submit: OtpSubmit, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        guard var challenge = try store.challenge(submit.challengeID) else { throw QuickPayError(.otpInvalid, "no such login attempt") }
        if let draft = challenge.registration { return try completeRegistration(submit, &challenge, draft, envelope: envelope, client: client, now: now) }
        if challenge.used {
            // The very submission that used the code, again (its answer was lost): a token is
            // never kept, so it gets a session of its own. Any other use of the code is refused.
            guard challenge.usedBy == envelope.requestID, now < challenge.expiresAt, otpMAC.mac(submit.code, challenge: challenge.id) == challenge.codeMAC,
                let user = try store.user(challenge.username)
            else { throw QuickPayError(.otpInvalid, "no such login attempt, or its code was used") }
            return grantSession(user, batch: AppServerBatch(), envelope: envelope, client: client, now: now)
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
            return Step(commit: recordFailure(&user, now: now, with: batch), outputs: [.reply(to: client, envelope.fail(QuickPayError(.otpInvalid, "wrong code")))])
        }
        if user.failedAttempts > 0 {
            user.failedAttempts = 0
            batch.users = [user]
        }
        challenge.used = true
        challenge.usedBy = envelope.requestID
        batch.challenges = [challenge]
        return grantSession(user, batch: batch, envelope: envelope, client: client, now: now)
    }

    /// The code of a registration: the user exists from here on. Wrong codes count against the
    /// attempt (there is no user yet to lock out); the same submission again is answered again.
    mutating func completeRegistration(_ submit: OtpSubmit, _ challenge: inout ChallengeRecord, _ draft: RegistrationDraft, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        let codeHolds = otpMAC.mac(submit.code, challenge: challenge.id) == challenge.codeMAC
        if challenge.used {
            guard challenge.usedBy == envelope.requestID, codeHolds else { throw QuickPayError(.otpInvalid, "no such registration, or its code was used") }
            return .reply(to: client, envelope.reply(.registerReply(username: challenge.username)))
        }
        guard now < challenge.expiresAt else { throw QuickPayError(.otpExpired, "the code expired at \(challenge.expiresAt)") }
        guard challenge.tries < config.otpMaximumTries else {
            throw QuickPayError(.lockedOut, "\(config.otpMaximumTries) wrong codes: this registration is locked; start again")
        }
        challenge.tries += 1
        var batch = AppServerBatch()
        guard codeHolds else {
            batch.challenges = [challenge]
            return Step(commit: batch, outputs: [.reply(to: client, envelope.fail(QuickPayError(.otpInvalid, "wrong code")))])
        }
        try checkFree(challenge.username, phone: draft.phone, account: draft.account)
        challenge.used = true
        challenge.usedBy = envelope.requestID
        batch.challenges = [challenge]
        batch.users = [draft.user(challenge.username)]
        return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(.registerReply(username: challenge.username)))], label: "register")
    }

    /// A new session for `user`. The token is not kept (only its hash): an answer that is lost
    /// is answered again with another token, never from a store.
    mutating func grantSession(_ user: UserRecord, batch: AppServerBatch, envelope: Envelope, client: ClientID, now: Timestamp) -> Step<AppServerBatch> {
        var batch = batch
        let token = SessionToken.random(using: &random)
        let expiresAt = now.adding(seconds: config.sessionLifetimeSeconds)
        batch.sessions = [SessionRecord(tokenHash: Bytes32.sha256(of: token.raw.bytes), username: user.username, expiresAt: expiresAt)]
        return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(.sessionGranted(SessionGranted(session: token, expiresAt: expiresAt, account: user.account))))])
    }

    mutating func resendOTP(_ id: ChallengeID, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<AppServerBatch> {
        guard var challenge = try store.challenge(id), !challenge.used else { throw QuickPayError(.otpInvalid, "no such login attempt, or its code was used") }
        let phone: PhoneNumber
        if let draft = challenge.registration {
            phone = draft.phone
        } else {
            guard let user = try store.user(challenge.username) else { throw QuickPayError(.otpInvalid, "no such login attempt, or its code was used") }
            try checkNotLocked(user, now: now)
            phone = user.phone
        }
        guard now < challenge.expiresAt else { throw QuickPayError(.otpExpired, "this login attempt expired") }
        guard challenge.tries < config.otpMaximumTries else { throw QuickPayError(.lockedOut, "this login attempt is locked") }
        guard now.secondsSinceEpoch - challenge.sentAt.secondsSinceEpoch >= config.otpResendCooldownSeconds else {
            throw QuickPayError(.rateLimited, "wait \(config.otpResendCooldownSeconds) s between codes")
        }
        guard challenge.resends < config.otpMaximumResends else { throw QuickPayError(.limitExceeded, "no more codes for this attempt") }
        challenge.resends += 1
        challenge.sentAt = now
        challenge.tries = 0
        return sendCode(.random(using: &random), challenge: challenge, phone: phone, envelope: envelope, client: client)
    }

    func sessionUser(_ token: SessionToken, now: Timestamp) throws -> UserRecord {
        guard let session = try store.session(Bytes32.sha256(of: token.raw.bytes)), now < session.expiresAt,
            let user = try store.user(session.username)
        else { throw QuickPayError(.sessionInvalid, "log in again") }
        try checkNotLocked(user, now: now)
        return user
    }

    mutating func forward(_ body: Body, for user: UserRecord, envelope: Envelope, client: ClientID) -> Step<AppServerBatch> {
        let request = Envelope(requestID: Self.forwardID(user.account, envelope.requestID), body: body)
        pending[request.requestID] = .forward(client, envelope)
        return Step(outputs: [.request(to: .bank, request, deadlineMilliseconds: config.peerDeadlineMilliseconds)])
    }
}
