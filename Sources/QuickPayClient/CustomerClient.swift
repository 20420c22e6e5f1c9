import Foundation
import QuickPayActors
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import QuickPayStore
import ZeroMQ

/// Where a customer (or a merchant's operator) finds the servers.
public struct ClientEndpoints: Sendable {
    public var appServer: String
    public var networkProvider: String
    public var merchants: [ReceiverID: String]
    /// CURVE with a fresh key per connection, and the servers' keys by endpoint (or plaintext).
    public var security: ClientSecurity
    public init(appServer: String, networkProvider: String, merchants: [ReceiverID: String], security: ClientSecurity) {
        self.appServer = appServer
        self.networkProvider = networkProvider
        self.merchants = merchants
        self.security = security
    }
}

/// The customer's shell around the pure `Wallet`: it stores the wallet file after each change
/// and before anything leaves, sends, and hands every answer (or its absence) back to the
/// wallet, which decides what it means. It is also the phone that receives the OTP.
public final class CustomerClient {
    let context: Context
    let endpoints: ClientEndpoints
    let store: SQLiteWalletStore
    public let keyring: BankKeyring
    /// The bank's blind key list, and which vouchers this customer loads: blind (unlinkable)
    /// when the list is given and `scheme` says so, else Ed25519.
    public let blindKeys: BlindKeyList?
    public var scheme: SignatureScheme
    public let clock: DeploymentClock
    public internal(set) var wallet: Wallet
    var appServer: Requester
    var merchants: [ReceiverID: Requester] = [:]
    public internal(set) var device: Device?
    public var generator = SystemRandomNumberGenerator()
    /// The last payment sent (and its request id), for the testbed's replay and retry attacks.
    public private(set) var lastPayment: Payment?
    public private(set) var lastPaymentRequest: (Envelope, ReceiverID)?
    /// Payments at a merchant whose outcome was unknown and that the last `pay` finished first.
    public private(set) var recoveredPayments = 0
    /// A testing crash point (only the testbed sets it): the next load's answer arrives and the
    /// process dies before the wallet unblinds or stores anything of it (`WalletCrash`).
    public var crashBeforeUnblinding = false

    public init(
        walletPath: String, endpoints: ClientEndpoints, bankKey: SigningPublicKey, blindKeys: BlindKeyList? = nil, scheme: SignatureScheme? = nil,
        clock: DeploymentClock = DeploymentClock()
    ) throws {
        context = try Context()
        self.endpoints = endpoints
        store = try SQLiteWalletStore(path: walletPath)
        keyring = BankKeyring([bankKey], blindKeys: blindKeys)
        self.blindKeys = blindKeys
        self.scheme = scheme ?? (blindKeys == nil ? .ed25519 : .blindRSA)
        if self.scheme == .blindRSA, blindKeys == nil {
            throw QuickPayError(.unknownKey, "blind vouchers need the bank's blind key list (KEYS/public/bank.blindkeys)")
        }
        self.clock = clock
        wallet = try store.load()
        appServer = try Requester(context: context, endpoint: endpoints.appServer, security: endpoints.security)
    }

    /// The account of the last login's user: a blind voucher's unload names it.
    var account: AccountID? {
        (try? store.setting("account")).flatMap { $0 }.flatMap { try? AccountID(String(decoding: $0, as: UTF8.self)) }
    }

    func keep(_ granted: SessionGranted) throws {
        try store.setSetting("session", granted.session.raw.bytes)
        try store.setSetting("account", Array(granted.account.value.utf8))
    }

    /// The session token saved by the last login.
    var session: SessionToken {
        get throws {
            guard let bytes = try store.setting("session"), let raw = Bytes16(bytes) else {
                throw QuickPayError(.sessionInvalid, "log in first")
            }
            return SessionToken(raw)
        }
    }

    func expect<T>(_ body: Body, _ extract: (Body) -> T?) throws -> T {
        if case .error(let error) = body { throw error }
        guard let value = extract(body) else { throw QuickPayError(.internal, "unexpected answer \(body.typeName)") }
        return value
    }

    /// Sends and waits; no answer before the deadline is nil (the outcome is unknown).
    func ask(_ requester: Requester, _ envelope: Envelope) throws -> Body? {
        do {
            return try requester.request(envelope)
        } catch let error as QuickPayError where error.code == .unavailable {
            return nil
        }
    }

    func save() throws { try store.save(wallet) }

    /// What an outcome means for the caller: the value, or the error to throw.
    func settle<T>(_ outcome: WalletOutcome<T>) throws -> T {
        try save()
        switch outcome {
        case .done(let value): return value
        case .refused(let error), .unknown(let error), .takenWithoutReceipt(let error): throw error
        }
    }

    // MARK: Phone and login

    /// Attaches this client as the device of the SIM's phone on the network provider.
    public func attachPhone(_ sim: SimCard) throws {
        device = try Device(context: context, endpoint: endpoints.networkProvider, sim: sim, security: endpoints.security)
        try store.setSetting("phone", Array(sim.phone.value.utf8))
    }

    /// Registers a user: the app server sends a code to the account's phone of record, which
    /// must be this client's phone; the user exists once the code comes back.
    public func register(_ request: RegisterRequest) throws -> Username {
        guard let device else { throw QuickPayError(.internal, "attach a phone before registering") }
        try device.attach()
        try device.discardInbox()
        let challenge = try expect(try appServer.request(.register(request))) {
            if case .loginChallenge(let c) = $0 { c } else { nil }
        }
        guard let sms = try device.nextSMS(milliseconds: 5000, reference: challenge.challengeID.smsReference) else {
            throw QuickPayError(.unavailable, "no registration code arrived on \(device.phone)")
        }
        return try expect(try appServer.request(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try Device.code(in: sms))))) {
            if case .registerReply(let name) = $0 { name } else { nil }
        }
    }

    /// Username and password, then the OTP that arrives on this client's phone.
    public func login(username: Username, password: Password) throws -> SessionGranted {
        guard let device else { throw QuickPayError(.internal, "attach a phone before logging in") }
        try device.attach()
        try device.discardInbox()
        let challenge = try expect(try appServer.request(.login(LoginRequest(username: username, password: password)))) {
            if case .loginChallenge(let c) = $0 { c } else { nil }
        }
        guard let sms = try device.nextSMS(milliseconds: 5000, reference: challenge.challengeID.smsReference) else {
            throw QuickPayError(.unavailable, "no SMS arrived on \(device.phone)")
        }
        let granted = try expect(try appServer.request(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try Device.code(in: sms))))) {
            if case .sessionGranted(let g) = $0 { g } else { nil }
        }
        try keep(granted)
        return granted
    }

    /// The first half of a login, for OTP attacks: password, challenge, and the code that
    /// arrived (kept, not submitted).
    var pendingLogin: (challenge: ChallengeID, code: OneTimeCode?)?

    public func startLogin(username: Username, password: Password) throws -> Bool {
        try device?.attach()
        try device?.discardInbox()
        let challenge = try expect(try appServer.request(.login(LoginRequest(username: username, password: password)))) {
            if case .loginChallenge(let c) = $0 { c } else { nil }
        }
        let sms = try device?.nextSMS(milliseconds: 3000, reference: challenge.challengeID.smsReference)
        pendingLogin = (challenge.challengeID, try sms.map(Device.code(in:)))
        return sms != nil
    }

    /// Submits a code for the pending login: the right one, a wrong one, or the given digits.
    public func submitCode(_ which: String) throws -> SessionGranted {
        guard let pending = pendingLogin else { throw QuickPayError(.malformed, "start a login first") }
        let code: OneTimeCode
        switch which {
        case "right":
            guard let right = pending.code else { throw QuickPayError(.unavailable, "no code arrived on this phone") }
            code = right
        case "wrong":
            let right = pending.code?.digits ?? ""
            code = try OneTimeCode(right == "000000" ? "111111" : "000000")
        default:
            code = try OneTimeCode(which)
        }
        let granted = try expect(try appServer.request(.otpSubmit(OtpSubmit(challengeID: pending.challenge, code: code)))) {
            if case .sessionGranted(let g) = $0 { g } else { nil }
        }
        try keep(granted)
        return granted
    }

    /// Asks for a new code for the pending login.
    public func resendCode() throws {
        guard let pending = pendingLogin else { throw QuickPayError(.malformed, "start a login first") }
        _ = try expect(try appServer.request(.otpResend(pending.challenge))) { if case .loginChallenge(let c) = $0 { c } else { nil } }
        pendingLogin = (pending.challenge, try device?.nextSMS(milliseconds: 3000, reference: pending.challenge.smsReference).map(Device.code(in:)))
    }

    /// Replaces the saved session token (a forged or another user's token, for attacks).
    public func useSession(_ raw: Bytes16) throws { try store.setSetting("session", raw.bytes) }
    public func sessionBytes() throws -> Bytes16 { try session.raw }

    public func balance() throws -> Balances {
        try expect(try appServer.request(.balance(SessionRequest(session: try session)))) { if case .balanceReply(let b) = $0 { b } else { nil } }
    }

    // MARK: M2 load

    /// Makes one chain per denomination, loads them for `receiver`, and keeps the vouchers. A
    /// load whose outcome is still unknown is finished first (same request id, same answer).
    public func load(receiver: ReceiverID, counts: [Denomination: Int]) throws -> LoadReply {
        _ = try resumePendingLoad()
        let load = try wallet.beginLoad(
            counts: counts, receiver: receiver, blindKeys: scheme == .blindRSA ? blindKeys : nil, now: clock.now, using: &generator)
        try save()
        return try sendLoad(load)
    }

    /// Finishes a load whose outcome was unknown (a crash, a timeout, a lost session); nil if
    /// there was none. Throws while its outcome stays unknown.
    public func resumePendingLoad() throws -> LoadReply? {
        guard let load = wallet.pendingLoad else { return nil }
        // A new connection: late answers to the earlier attempts (same request id) may still be
        // on their way over the old one.
        appServer = try Requester(context: context, endpoint: endpoints.appServer, security: endpoints.security)
        return try sendLoad(load)
    }

    func sendLoad(_ load: PendingLoad) throws -> LoadReply {
        let answer = try ask(appServer, Envelope(
            requestID: load.requestID, body: .load(LoadRequest(session: try session, content: try load.content()))))
        if crashBeforeUnblinding, case .loadReply? = answer { throw WalletCrash() }
        return try settle(wallet.finishLoad(answer, keyring: keyring, now: clock.now))
    }

    // MARK: M3 payment

    /// Pays `amount` at `receiver`; returns after the receipts check out. A payment at this
    /// merchant whose outcome was unknown is finished first, under its own request id (PayWord
    /// coins are cumulative: a new coin would pay for it too).
    public func pay(receiver: ReceiverID, amount: Amount, order: String = "") throws -> PaymentReply {
        recoveredPayments = try resumePendingPayment(at: receiver) ? 1 : 0
        let payment = try wallet.beginPayment(to: receiver, amount: amount, order: order, now: clock.now, using: &generator)
        lastPayment = payment.plan.payment
        lastPaymentRequest = (payment.envelope, receiver)
        // Durable before the payment leaves: spent coins, and the request to finish if no answer comes.
        try save()
        return try settle(wallet.finishPayment(at: receiver, try ask(try merchant(receiver), payment.envelope)))
    }

    /// Finishes the payment at `receiver` left unknown, if there is one; true if it was answered
    /// (receipts, or coins already taken). Throws while its outcome is still unknown.
    func resumePendingPayment(at receiver: ReceiverID) throws -> Bool {
        guard let pending = wallet.pendingPayments[receiver] else { return false }
        // The coins count as spent whatever the wallet file says (idempotent).
        wallet.markSent(pending.plan)
        try save()
        // A new connection: the old one may still hold a late answer to a retry of this very
        // request (an UNAVAILABLE after we gave up), which must not be taken for the answer now.
        merchants[receiver] = nil
        let outcome = wallet.finishPayment(at: receiver, try ask(try merchant(receiver), pending.envelope))
        try save()
        switch outcome {
        case .done, .takenWithoutReceipt: return true
        case .refused: return false
        case .unknown(let error):
            throw QuickPayError(.unavailable, "an earlier payment at \(receiver) has no answer yet (\(error.code.name)); it is sent again before any new one")
        }
    }

    // MARK: M4 unload

    /// Unloads every voucher with unspent coins, and sends again every unload still pending (with
    /// its first destination); returns the answers that came. Each unload id is derived from the
    /// voucher's owner key, so a retry is the same request. A failure on one voucher does not
    /// stop the others; the first refusal is thrown at the end. An unload the bank answers
    /// "pending" (it waits for the merchant) stays pending and is asked again next time.
    public func unloadAll(destination: UnloadDestination) throws -> [UnloadReply] {
        let unloads = wallet.beginUnloads(destination: destination)
        try save()
        var replies: [UnloadReply] = []
        var failure: Error?
        for unload in unloads {
            do {
                let request = try wallet.unloadRequest(
                    unload.voucherID, destination: unload.destination, unloadID: unload.unloadID, session: try session, account: account)
                let answer = try ask(appServer, Envelope(requestID: .random(using: &generator), body: .unload(request)))
                switch wallet.finishUnload(unload.voucherID, answer) {
                case .done(let reply): replies.append(reply)
                case .unknown(let error):
                    if case .unloadReply(let pending)? = answer { replies.append(pending) } else { failure = failure ?? error }
                case .refused(let error), .takenWithoutReceipt(let error): failure = failure ?? error
                }
                try save()
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return replies
    }

    public func withdraw(_ amount: Amount) throws -> Balances {
        try expect(try appServer.request(.withdraw(WithdrawRequest(session: try session, amount: amount)))) { if case .withdrawReply(let b) = $0 { b } else { nil } }
    }

    public func redeemCode(_ code: String) throws -> PrepaidRedeemReply {
        try expect(try appServer.request(.prepaidRedeem(PrepaidRedeem(session: try session, code: code)))) {
            if case .prepaidRedeemReply(let r) = $0 { r } else { nil }
        }
    }

    /// The requester for a merchant (one connection, a fresh key).
    public func merchant(_ receiver: ReceiverID) throws -> Requester {
        if let requester = merchants[receiver] { return requester }
        guard let endpoint = endpoints.merchants[receiver] else { throw QuickPayError(.unknownReceiver, "no endpoint for merchant \(receiver)") }
        let requester = try Requester(context: context, endpoint: endpoint, security: endpoints.security)
        merchants[receiver] = requester
        return requester
    }

    /// Sends one raw frame to an endpoint over a fresh connection of this client's kind.
    public func raw(endpoint: String, hex: String, timeoutMilliseconds: Int32 = 2000) throws -> JSONObject {
        try sendRaw(context: context, endpoint: endpoint, hex: hex, security: endpoints.security, timeoutMilliseconds: timeoutMilliseconds)
    }

    // MARK: Refresh (blind vouchers)

    /// The last refresh request sent (for the testbed's replay attack).
    public private(set) var lastRefreshRequest: Envelope?

    /// Takes the unspent value of blind voucher `id` as new blind vouchers for `receiver`
    /// (default: the same merchant), without the bank learning whose they are: an unload with
    /// destination REFRESH (the bank settles with the merchant, then holds the refund for the
    /// owner key), then a refresh of exactly what is held. A refresh left pending is finished
    /// first; returns the new vouchers (none if nothing was left).
    public func refresh(_ id: VoucherID, to receiver: ReceiverID? = nil) throws -> [SignedVoucher] {
        _ = try resumePendingRefresh()
        guard let blindKeys else { throw QuickPayError(.unknownKey, "a refresh needs the bank's blind key list") }
        guard let entry = wallet.vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        if wallet.heldRefunds[id] == nil {
            let unload = try wallet.beginRefreshUnload(id, blindKeys: blindKeys, now: clock.now)
            try save()
            let request = try wallet.unloadRequest(id, destination: unload.destination, unloadID: unload.unloadID, session: try session, account: nil)
            let answer = try ask(appServer, Envelope(requestID: .random(using: &generator), body: .unload(request)))
            // The answer's held refund is saved with the unload's end (`heldRefunds`): the wallet
            // never forgets what the bank holds for it, whatever happens next.
            let outcome = wallet.finishUnload(id, answer)
            try save()
            switch outcome {
            case .done: break
            case .unknown(let error), .refused(let error), .takenWithoutReceipt(let error): throw error
            }
        }
        guard wallet.heldRefunds[id] != nil else { return [] }  // nothing was left to refresh
        let refresh = try wallet.beginRefresh(id, receiver: receiver ?? entry.voucher.commitment.receiverID, blindKeys: blindKeys, now: clock.now, using: &generator)
        try save()
        return try sendRefresh(refresh)
    }

    /// Finishes a refresh whose outcome was unknown; nil if there was none.
    public func resumePendingRefresh() throws -> [SignedVoucher]? {
        guard let refresh = wallet.pendingRefresh else { return nil }
        appServer = try Requester(context: context, endpoint: endpoints.appServer, security: endpoints.security)
        return try sendRefresh(refresh)
    }

    func sendRefresh(_ refresh: PendingRefresh) throws -> [SignedVoucher] {
        let envelope = Envelope(requestID: refresh.load.requestID, body: .refresh(try wallet.refreshRequest(refresh, session: try session)))
        lastRefreshRequest = envelope
        return try settle(wallet.finishRefresh(try ask(appServer, envelope), keyring: keyring, now: clock.now))
    }

    /// One request to the app server as it is (for the testbed's crafted requests).
    public func askAppServer(_ body: Body) throws -> Body { try appServer.request(body) }

    public var zmqContext: Context { context }
    public var clientSecurity: ClientSecurity { endpoints.security }
    public var currentSession: SessionToken? { try? session }

    /// The wallet as JSON, for the control endpoint and people.
    public func walletState() -> JSONObject {
        let now = clock.now
        let vouchers: [JSONObject] = wallet.vouchers.values.sorted { $0.id.raw.hex < $1.id.raw.hex }.map {
            ["id": $0.id.raw.hex, "receiver": $0.voucher.commitment.receiverID.value, "denomination": $0.denomination.rupees,
             "length": $0.voucher.commitment.length.value, "spent": $0.spent, "remaining": $0.remaining, "unloaded": $0.unloaded,
             "unloading": wallet.pendingUnloads[$0.id] != nil, "expired": now >= $0.voucher.commitment.expiry]
        }
        let total = (try? Amount.sum(wallet.vouchers.values.map { try $0.denomination.value(ofCoins: $0.remaining) })) ?? .zero
        return [
            "vouchers": vouchers, "spendable_paise": total.paise, "pending_load": wallet.pendingLoad != nil,
            "pending_payments": wallet.pendingPayments.count, "pending_unloads": wallet.pendingUnloads.count,
            "pending_refresh": wallet.pendingRefresh != nil,
            "held_refunds_paise": Int(((try? Amount.sum(Array(wallet.heldRefunds.values))) ?? .zero).paise),
        ]
    }
}

/// Sends one raw frame (hex) to an endpoint over a fresh socket secured by `security`, and
/// returns what came back (hex, and the decoded error code if it is an error), or that nothing
/// came back within `timeoutMilliseconds`.
public func sendRaw(
    context: Context, endpoint: String, hex: String, security: ClientSecurity, timeoutMilliseconds: Int32 = 2000, trace: MessageTrace? = MessageTrace.shared
) throws -> JSONObject {
    guard let frame = HexCoding.decode(hex) else { throw QuickPayError(.malformed, "hex is not hex") }
    let socket = try context.socket(.dealer)
    defer { socket.close() }
    try socket.setReceiveTimeout(milliseconds: timeoutMilliseconds)
    try security.secure(socket, for: endpoint)
    try socket.connect(endpoint)
    try socket.send(frame)
    trace?.record(.send, frame, peer: endpoint)
    guard let reply = try socket.receive() else { return ["ok": true, "answered": false] }
    trace?.record(.recv, reply.last ?? [], peer: endpoint)
    var answer: JSONObject = ["ok": true, "answered": true, "reply_hex": HexCoding.encode(reply.last ?? [])]
    if let envelope = try? WireCodec().decode(reply.last ?? []), case .error(let error) = envelope.body { answer["code"] = error.code.name }
    return answer
}

/// A testing crash point fired in the wallet (`CustomerClient.crashBeforeUnblinding`).
public struct WalletCrash: Error {
    public init() {}
}
