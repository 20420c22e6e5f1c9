import Foundation
import QuickPayActors
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

/// The customer's shell around the pure `Wallet`: it keeps the wallet file, talks to the app
/// server and merchants, and is the phone that receives the OTP. Each operation persists the
/// wallet before a coin leaves it and after receipts arrive.
public final class CustomerClient {
    let context: Context
    let endpoints: ClientEndpoints
    let store: SQLiteWalletStore
    let keyring: BankKeyring
    let clock: DeploymentClock
    public private(set) var wallet: Wallet
    let appServer: Requester
    var merchants: [ReceiverID: Requester] = [:]
    var device: Device?
    var generator = SystemRandomNumberGenerator()
    /// The last payment sent (and its request id), for the replay and retry attacks.
    var lastPayment: Payment?
    var lastPaymentRequest: (Envelope, ReceiverID)?

    public init(walletPath: String, endpoints: ClientEndpoints, bankKey: SigningPublicKey, clock: DeploymentClock = DeploymentClock()) throws {
        context = try Context()
        self.endpoints = endpoints
        store = try SQLiteWalletStore(path: walletPath)
        keyring = BankKeyring([bankKey])
        self.clock = clock
        wallet = try store.load()
        appServer = try Requester(context: context, endpoint: endpoints.appServer, security: endpoints.security)
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

    /// Attaches this client as the phone for `phone` on the network provider.
    public func attachPhone(_ phone: PhoneNumber) throws {
        device = try Device(context: context, endpoint: endpoints.networkProvider, phone: phone, security: endpoints.security)
        try store.setSetting("phone", Array(phone.value.utf8))
    }

    public func register(_ request: RegisterRequest) throws -> Username {
        try expect(try appServer.request(.register(request))) { if case .registerReply(let name) = $0 { name } else { nil } }
    }

    /// Username and password, then the OTP that arrives on this client's phone.
    public func login(username: Username, password: Password) throws -> SessionGranted {
        guard let device else { throw QuickPayError(.internal, "attach a phone before logging in") }
        try device.attach()
        try device.discardInbox()
        let challenge = try expect(try appServer.request(.login(LoginRequest(username: username, password: password)))) {
            if case .loginChallenge(let c) = $0 { c } else { nil }
        }
        guard let sms = try device.nextSMS(milliseconds: 5000) else {
            throw QuickPayError(.unavailable, "no SMS arrived on \(device.phone)")
        }
        let granted = try expect(try appServer.request(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try Device.code(in: sms))))) {
            if case .sessionGranted(let g) = $0 { g } else { nil }
        }
        try store.setSetting("session", granted.session.raw.bytes)
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
        let sms = try device?.nextSMS(milliseconds: 3000)
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
        try store.setSetting("session", granted.session.raw.bytes)
        return granted
    }

    /// Asks for a new code for the pending login.
    public func resendCode() throws {
        guard let pending = pendingLogin else { throw QuickPayError(.malformed, "start a login first") }
        _ = try expect(try appServer.request(.otpResend(pending.challenge))) { if case .loginChallenge(let c) = $0 { c } else { nil } }
        pendingLogin = (pending.challenge, try device?.nextSMS(milliseconds: 3000).map(Device.code(in:)))
    }

    /// Replaces the saved session token (a forged or another user's token, for attacks).
    public func useSession(_ raw: Bytes16) throws { try store.setSetting("session", raw.bytes) }
    public func sessionBytes() throws -> Bytes16 { try session.raw }

    public func balance() throws -> Balances {
        try expect(try appServer.request(.balance(SessionRequest(session: try session)))) { if case .balanceReply(let b) = $0 { b } else { nil } }
    }

    /// Makes one chain per denomination, loads them for `receiver`, and keeps the vouchers.
    /// The chains and the request id are saved before the request leaves, so a load whose
    /// outcome is unknown is finished (same request id, same answer) by the next load.
    public func load(receiver: ReceiverID, counts: [Denomination: Int]) throws -> LoadReply {
        _ = try resumePendingLoad()
        let prepared = try Wallet.prepareLoad(counts: counts, using: &generator)
        let requestID = RequestID.random(using: &generator)
        try savePendingLoad(requestID: requestID, receiver: receiver, prepared: prepared)
        return try finishLoad(requestID: requestID, receiver: receiver, prepared: prepared)
    }

    /// Finishes a load left unknown by a crash or a timeout; nil if there was none.
    public func resumePendingLoad() throws -> LoadReply? {
        guard let bytes = try store.setting("pending-load"), let saved = ControlJSON.decode(bytes),
            let id = (saved["request_id"] as? String).flatMap(Bytes16.init(hex:)), let receiverName = saved["receiver"] as? String,
            let chains = saved["chains"] as? [[String: Any]]
        else { return nil }
        var prepared: [PreparedChain] = []
        for chain in chains {
            guard let seed = (chain["seed"] as? String).flatMap(Bytes32.init(hex:)), let owner = (chain["owner"] as? String).flatMap(Bytes32.init(hex:)),
                let rupees = chain["denomination"] as? Int, let denomination = Denomination(rupees: Int64(rupees)), let length = chain["length"] as? Int
            else { throw QuickPayError(.internal, "the saved pending load is damaged") }
            let hashChain = HashChain(seed: seed, length: try ChainLength(length))
            prepared.append(PreparedChain(seed: seed, ownerSeed: owner, request: ChainRequest(
                denomination: denomination, length: hashChain.length, root: hashChain.root, ownerKey: SigningPrivateKey(seed: owner).publicKey)))
        }
        return try finishLoad(requestID: RequestID(id), receiver: try ReceiverID(receiverName), prepared: prepared)
    }

    func savePendingLoad(requestID: RequestID, receiver: ReceiverID, prepared: [PreparedChain]) throws {
        let chains: [JSONObject] = prepared.map {
            ["seed": $0.seed.hex, "owner": $0.ownerSeed.hex, "denomination": Int($0.request.denomination.rupees), "length": $0.request.length.value]
        }
        try store.setSetting("pending-load", ControlJSON.encode(["request_id": requestID.raw.hex, "receiver": receiver.value, "chains": chains]))
    }

    func finishLoad(requestID: RequestID, receiver: ReceiverID, prepared: [PreparedChain]) throws -> LoadReply {
        let body: Body
        do {
            body = try appServer.request(.load(LoadRequest(session: try session, receiverID: receiver, chains: prepared.map(\.request))), requestID: requestID)
        } catch let error as QuickPayError where error.code == .sessionInvalid {
            try store.setSetting("pending-load", [])  // no session: the request never left
            throw error
        }
        if case .error(let error) = body, error.code != .unavailable {
            try store.setSetting("pending-load", [])  // refused: nothing was debited
            throw error
        }
        let reply = try expect(body) { if case .loadReply(let r) = $0 { r } else { nil } }
        try wallet.acceptLoad(reply, prepared: prepared, keyring: keyring, receiver: receiver, now: clock.now)
        try store.save(reply.vouchers.compactMap { wallet.vouchers[$0.id] })
        try store.setSetting("pending-load", [])
        return reply
    }

    /// Pays `amount` at `receiver`; returns after the receipts check out.
    /// Payments at this merchant whose outcome was unknown and that were finished (sent again
    /// under their request id) before the last payment: their receipts arrived late.
    public private(set) var recoveredPayments = 0

    public func pay(receiver: ReceiverID, amount: Amount, order: String = "") throws -> PaymentReply {
        // A payment whose outcome is unknown has shown its coins to the merchant; as PayWord coins
        // are cumulative, a new payment would pay for it too. So it is finished first, under its
        // own request id: the merchant answers it (late receipts) or refuses it (coins back).
        recoveredPayments = try resumePendingPayment(at: receiver) ? 1 : 0
        let plan = try wallet.planPayment(to: receiver, amount: amount, order: order)
        wallet.markSent(plan)
        lastPayment = plan.payment
        let envelope = Envelope(requestID: .random(using: &generator), body: .payment(plan.payment))
        lastPaymentRequest = (envelope, receiver)
        // Durable before the payment leaves: spent coins, and the request to finish if no answer comes.
        try savePendingPayment(envelope: envelope, plan: plan, receiver: receiver)
        try store.save(plan.payment.coins.compactMap { wallet.vouchers[$0.voucherID] })
        return try finishPayment(envelope: envelope, plan: plan, receiver: receiver)
    }

    /// Sends `envelope` and settles the plan by the answer. No answer (or the merchant's
    /// UNAVAILABLE) throws and leaves the payment pending: the next payment here finishes it.
    func finishPayment(envelope: Envelope, plan: PaymentPlan, receiver: ReceiverID) throws -> PaymentReply {
        let body = try merchant(receiver).request(envelope)
        if case .error(let error) = body, error.code != .unavailable {
            // The merchant refused and changed nothing: the coins are still ours.
            wallet.markRefused(plan)
            try store.save(plan.payment.coins.compactMap { wallet.vouchers[$0.voucherID] })
            try store.setSetting(Self.pendingPaymentKey(receiver), [])
            throw error
        }
        let reply = try expect(body) { if case .paymentReply(let r) = $0 { r } else { nil } }
        try wallet.acceptReceipts(reply, for: plan)
        try store.save(plan.payment.coins.compactMap { wallet.vouchers[$0.voucherID] })
        try store.setSetting(Self.pendingPaymentKey(receiver), [])
        return reply
    }

    static func pendingPaymentKey(_ receiver: ReceiverID) -> String { "pending-payment:\(receiver)" }

    func savePendingPayment(envelope: Envelope, plan: PaymentPlan, receiver: ReceiverID) throws {
        let saved: JSONObject = [
            "frame": HexCoding.encode(WireCodec().encode(envelope)), "amount_paise": Int(plan.amount.paise),
            "previous": Dictionary(uniqueKeysWithValues: plan.previous.map { ($0.key.raw.hex, $0.value) }),
        ]
        try store.setSetting(Self.pendingPaymentKey(receiver), ControlJSON.encode(saved))
    }

    /// Finishes the payment at `receiver` left unknown, if there is one; true if it was answered.
    /// Throws UNAVAILABLE while its outcome is still unknown, so no new payment goes out.
    func resumePendingPayment(at receiver: ReceiverID) throws -> Bool {
        guard let bytes = try store.setting(Self.pendingPaymentKey(receiver)), !bytes.isEmpty else { return false }
        guard let saved = ControlJSON.decode(bytes), let frame = (saved["frame"] as? String).flatMap(HexCoding.decode),
            let envelope = try? WireCodec().decode(frame), case .payment(let payment) = envelope.body,
            let paise = saved["amount_paise"] as? Int, let previousHex = saved["previous"] as? [String: Int]
        else { throw QuickPayError(.internal, "the saved pending payment is damaged") }
        var previous: [VoucherID: Int] = [:]
        for (hex, index) in previousHex {
            guard let raw = Bytes16(hex: hex) else { throw QuickPayError(.internal, "the saved pending payment is damaged") }
            previous[VoucherID(raw)] = index
        }
        let plan = PaymentPlan(payment: payment, amount: Amount(paise: Int64(paise)), previous: previous)
        // The coins count as spent whatever the wallet file says: a crash can fall between
        // saving this record and saving the coins (each voucher has one merchant, and this
        // record holds back any other payment there, so nothing was spent after them).
        wallet.markSent(plan)
        try store.save(plan.payment.coins.compactMap { wallet.vouchers[$0.voucherID] })
        // A new connection: the old one may still hold a late answer to a retry of this very
        // request (an UNAVAILABLE after we gave up), which must not be taken for the answer now.
        merchants[receiver] = nil
        do {
            _ = try finishPayment(envelope: envelope, plan: plan, receiver: receiver)
            return true
        } catch let error as QuickPayError where error.code == .unavailable {
            throw QuickPayError(.unavailable, "an earlier payment at \(receiver) has no answer yet; it is sent again before any new one")
        } catch is QuickPayError {
            return false  // refused for good: its coins are back in the wallet; go on with the new payment
        }
    }

    /// Unloads every voucher with unspent coins; returns the bank's answers. Each unload id is
    /// derived from the voucher's owner key, so running this again after an unknown outcome
    /// repeats the same requests. A failure on one voucher does not stop the others; the first
    /// failure is thrown at the end.
    public func unloadAll(destination: UnloadDestination) throws -> [UnloadReply] {
        var replies: [UnloadReply] = []
        var failure: Error?
        for entry in wallet.vouchers.values.sorted(by: { $0.id.raw.hex < $1.id.raw.hex }) where entry.remaining > 0 {
            do {
                let authorization = try wallet.unload(entry.id, destination: destination, unloadID: try wallet.unloadID(entry.id, destination: destination))
                let reply = try expect(try appServer.request(.unload(UnloadRequest(session: try session, authorization: authorization)))) {
                    if case .unloadReply(let r) = $0 { r } else { nil }
                }
                wallet.vouchers[entry.id]?.unloaded = true
                try store.save([wallet.vouchers[entry.id]!])
                replies.append(reply)
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

    func merchant(_ receiver: ReceiverID) throws -> Requester {
        if let requester = merchants[receiver] { return requester }
        guard let endpoint = endpoints.merchants[receiver] else { throw QuickPayError(.unknownReceiver, "no endpoint for merchant \(receiver)") }
        let requester = try Requester(context: context, endpoint: endpoint, security: endpoints.security)
        merchants[receiver] = requester
        return requester
    }

    /// The wallet as JSON, for the control endpoint and people.
    public func walletState() -> JSONObject {
        let vouchers: [JSONObject] = wallet.vouchers.values.sorted { $0.id.raw.hex < $1.id.raw.hex }.map {
            ["id": $0.id.raw.hex, "receiver": $0.voucher.commitment.receiverID.value, "denomination": $0.denomination.rupees,
             "length": $0.voucher.commitment.length.value, "spent": $0.spent, "remaining": $0.remaining, "unloaded": $0.unloaded]
        }
        let total = (try? Amount.sum(wallet.vouchers.values.map { try $0.denomination.value(ofCoins: $0.remaining) })) ?? .zero
        return ["vouchers": vouchers, "spendable_paise": total.paise]
    }
}
