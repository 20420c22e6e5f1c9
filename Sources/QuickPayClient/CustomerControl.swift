import Foundation
import Logging
import QuickPayActors
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// The customer's control endpoint: a REP socket whose JSON actions run the wallet's flows
/// one at a time (register, login, load, pay, balance, unload, withdraw, redeem-code, wallet).
/// The testbed serves the same endpoint with attack actions added (`actions`).
public final class CustomerControl {
    let client: CustomerClient
    let actions: (String, JSONObject, CustomerClient) throws -> JSONObject
    let socket: Socket
    let context: Context
    var logger = Logger(label: "customer")

    let gate: CurveGate?

    /// `security`: CURVE with the operator's key as the only one admitted; nil: plaintext.
    public init(
        client: CustomerClient, endpoint: String, security: ServerSecurity?,
        actions: @escaping (String, JSONObject, CustomerClient) throws -> JSONObject = { try CustomerActions.perform($0, $1, $2) }
    ) throws {
        self.client = client
        self.actions = actions
        let context = try Context()
        self.context = context
        gate = try security.map { try CurveGate(context: context, security: $0, logger: Logger(label: "customer")) }
        socket = try context.socket(.reply)
        try gate?.serve(socket, domain: ServerSecurity.controlDomain)
        try socket.bind(endpoint)
    }

    public func run() {
        logger.info("control ready")
        while !Signals.stopRequested {
            do {
                var poller = Poller()
                poller.register(socket)
                for gateSocket in gate?.sockets ?? [] { poller.register(gateSocket) }
                let events = try poller.poll(timeoutMilliseconds: 100)
                if let gate, events.dropFirst().contains(where: { $0.contains(.readable) }) { try gate.service() }
                guard events[0].contains(.readable),
                    let frames = try socket.receive(flags: .dontWait)
                else { continue }
                let answer: JSONObject
                if let request = ControlJSON.decode(frames[0]), let action = request["action"] as? String {
                    answer = perform(action, request)
                } else {
                    answer = ControlJSON.failure("MALFORMED", "a control request is a JSON object with an \"action\"")
                }
                try socket.send(ControlJSON.encode(answer))
                if answer["crash"] as? Bool == true {
                    // The crash point fired: the answer is out; the process dies as if killed.
                    logger.info("crash point fired: before-unblind")
                    // ZeroMQ sends from its own thread: give the answer time to leave first.
                    usleep(200_000)
                    kill(getpid(), SIGKILL)
                }
            } catch {
                logger.error("control loop error", metadata: ["error": "\(error)"])
            }
        }
    }

    public func perform(_ action: String, _ request: JSONObject) -> JSONObject {
        do {
            return try actions(action, request, client)
        } catch is WalletCrash {
            // UNAVAILABLE to the caller (the wallet is gone); the loop then kills the process.
            var answer = ControlJSON.failure("UNAVAILABLE", "the wallet crashed (testing crash point) before it unblinded the load's answer")
            answer["crash"] = true
            return answer
        } catch let error as QuickPayError {
            logger.info("action refused", metadata: ["action": "\(action)", "code": "\(error.code.name)"])
            return ControlJSON.failure(error.code.name, error.message)
        } catch {
            return ControlJSON.failure("INTERNAL", "\(error)")
        }
    }
}

/// JSON actions -> wallet flows; shared by the control endpoint and the one-shot commands.
public enum CustomerActions {
    public static func string(_ request: JSONObject, _ key: String) throws -> String {
        guard let value = request[key] as? String else { throw QuickPayError(.malformed, "\(key) is required") }
        return value
    }

    static func paise(_ request: JSONObject, _ key: String) throws -> Amount {
        guard let value = request[key] as? NSNumber else { throw QuickPayError(.malformed, "\(key) is required") }
        return Amount(paise: value.int64Value)
    }

    public static func perform(_ action: String, _ request: JSONObject, _ client: CustomerClient) throws -> JSONObject {
        switch action {
        case "health":
            return ["ok": true, "actor": "customer", "pid": Int(getpid())]
        case "attach":
            // Attaches (again) as this customer's own phone, with its SIM.
            guard let device = client.device else { throw QuickPayError(.malformed, "this customer holds no SIM (start it with --sim, or --phone and --keys)") }
            try device.attach()
            return ["ok": true, "phone": device.phone.value]
        case "register":
            let role: Role = (request["role"] as? String) == "merchant" ? .merchant : .customer
            let name = try client.register(RegisterRequest(
                username: try Username(try string(request, "username")), password: try Password(try string(request, "password")),
                phone: try PhoneNumber(try string(request, "phone")), bankAccount: try AccountID(try string(request, "account")), role: role))
            return ["ok": true, "username": name.value]
        case "login":
            let granted = try client.login(username: try Username(try string(request, "username")), password: try Password(try string(request, "password")))
            return ["ok": true, "session_expires_at": granted.expiresAt.secondsSinceEpoch]
        case "login-start":
            let arrived = try client.startLogin(username: try Username(try string(request, "username")), password: try Password(try string(request, "password")))
            return ["ok": true, "sms_arrived": arrived]
        case "otp":
            let granted = try client.submitCode(request["code"] as? String ?? "right")
            return ["ok": true, "session_expires_at": granted.expiresAt.secondsSinceEpoch]
        case "otp-resend":
            try client.resendCode()
            return ["ok": true]
        case "session":
            // Read or replace the saved session token (hex), for session attacks.
            if let hex = request["set"] as? String {
                guard let raw = Bytes16(hex: hex) else { throw QuickPayError(.malformed, "a session token is 32 hex digits") }
                try client.useSession(raw)
            }
            return ["ok": true, "token": try client.sessionBytes().hex]
        case "balance":
            let balances = try client.balance()
            return ["ok": true, "bank_paise": balances.bank.paise, "quickpay_paise": balances.quickPay.paise]
        case "load":
            var counts: [Denomination: Int] = [:]
            for denomination in Denomination.allCases {
                if let count = (request["counts"] as? [String: Any])?[String(denomination.rupees)] as? Int { counts[denomination] = count }
            }
            let reply = try client.load(receiver: try ReceiverID(try string(request, "receiver")), counts: counts)
            return ["ok": true, "debited_paise": reply.debited.paise, "vouchers": reply.vouchers.map(\.id.raw.hex)]
        case "pay":
            let reply = try client.pay(
                receiver: try ReceiverID(try string(request, "receiver")), amount: try paise(request, "amount_paise"),
                order: request["order"] as? String ?? "")
            return ["ok": true, "amount_paise": reply.amount.paise, "receipts": reply.receipts.count,
                    "service": String(decoding: reply.service, as: UTF8.self), "recovered_payments": client.recoveredPayments]
        case "unload":
            let destination: UnloadDestination = (request["destination"] as? String) == "quickpay" ? .quickPayBalance : .bankAccount
            let replies = try client.unloadAll(destination: destination)
            let refunded = try Amount.sum(replies.map(\.refunded))
            let pending = replies.filter { $0.pendingUntil != nil }.count
            return ["ok": true, "refunded_paise": refunded.paise, "vouchers": replies.count, "pending": pending]
        case "refresh":
            // Every blind voucher for `receiver` with coins left, taken as new blind vouchers
            // (for `to`, default the same receiver).
            let receiver = try ReceiverID(try string(request, "receiver"))
            let target = try (request["to"] as? String).map { try ReceiverID($0) }
            var made: [SignedVoucher] = []
            _ = try client.resumePendingRefresh()
            // Refunds the bank already holds for a refresh come first, then vouchers with coins left.
            let ids = client.wallet.vouchers.values.filter {
                $0.voucher.commitment.receiverID == receiver && $0.voucher.commitment.scheme == .blindRSA
                    && ($0.remaining > 0 || client.wallet.heldRefunds[$0.id] != nil)
                    && (client.wallet.pendingUnloads[$0.id].map { $0.destination == .refresh } ?? true)
            }.map(\.id).sorted { (client.wallet.heldRefunds[$0] == nil ? 1 : 0, $0.raw.hex) < (client.wallet.heldRefunds[$1] == nil ? 1 : 0, $1.raw.hex) }
            for id in ids { made += try client.refresh(id, to: target) }
            let value = try Amount.sum(made.map(\.commitment.faceValue))
            return ["ok": true, "refreshed": ids.count, "vouchers": made.map(\.id.raw.hex), "value_paise": value.paise]
        case "withdraw":
            let balances = try client.withdraw(try paise(request, "amount_paise"))
            return ["ok": true, "bank_paise": balances.bank.paise, "quickpay_paise": balances.quickPay.paise]
        case "redeem-code":
            let reply = try client.redeemCode(try string(request, "code"))
            return ["ok": true, "credited_paise": reply.credited.paise, "quickpay_paise": reply.quickPay.paise]
        case "wallet", "state":
            var state = client.walletState()
            state["ok"] = true
            return state
        default:
            throw QuickPayError(.malformed, "unknown action \(action)")
        }
    }
}
