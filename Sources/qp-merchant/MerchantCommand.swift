import ArgumentParser
import Logging
import QuickPayClient
import QuickPayProtocol
import QuickPayActors
import QuickPayCore
import QuickPayConfig
import QuickPayHost
import QuickPayStore
import ZeroMQ

@main
struct MerchantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-merchant",
        abstract: "A QuickPay merchant: takes vouchers and coins, delivers service with receipts, redeems with the bank.",
        discussion: """
            Example (keys from `quickpay keys deployment --merchant chai-stall`):
              qp-merchant --id chai-stall --mode offline --bind tcp://10.77.0.5:7004 --control tcp://10.77.0.5:7104 \\
                --data-dir data/chai --keys keys --bank tcp://10.77.0.2:7001
            or: qp-merchant --id chai-stall --deployment deploy.yaml --data-dir data/chai
            Over CURVE any customer key may pay (customers use a fresh key per connection); Settle is
            taken only from the bank's key; the control socket admits only the operator's key.
            The merchant asks the bank which mode it holds for this receiver before it serves (--mode, if
            given, must agree).
            Control actions: health, state, redeem, and with --testing clock {advance_seconds}, crash {point}.
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "This merchant's receiver id (the username it registered with).") var id: String
    @Option(help: "offline or online: what you expect the bank to hold for this merchant. The merchant asks the bank at start and refuses to run if they differ; without it, it takes the bank's (default: the deployment file's).") var mode: String?
    @Option(help: "The bank's endpoint (default: the deployment file's).") var bank: String?
    @Option(help: "The bank's Ed25519 public key: 64 hex digits, or a file of them (default: KEYS/public/bank.signing).") var bankKey: String?
    @Option(help: "This merchant's Ed25519 key file, for signing receipt-chain roots (default: KEYS/merchant-ID/receipt.key).") var receiptKey: String?
    @Option(help: "The bank's blind key list, to take blind vouchers (default: KEYS/public/bank.blindkeys, if there).") var blindKeys: String?

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let receiver = try ReceiverID(id)
        let setup = try options.resolve("merchant-\(receiver)")
        let expected = try (mode ?? setup.deployment?.actors[setup.name]?.mode).map { text in
            guard let mode = MerchantMode(rawValue: text) else { throw ValidationError("--mode is offline or online") }
            return mode
        }
        let store = try SQLiteMerchantStore(path: "\(options.dataDir)/merchant.sqlite")
        let bank = try setup.peer(bank, "bank", flagName: "bank")
        let hostConfig = try setup.hostConfig(peers: [.bank: (bank, "bank")], testing: options.isTesting)
        var logger = Logger(label: setup.name)
        logger.logLevel = .info
        let mode = try ModeAgreement.learn(receiver, expected: expected, store: store, bank: bank, security: hostConfig.clientSecurity, logger: logger)
        var config = MerchantConfig(receiverID: receiver, mode: mode)
        if setup.keys != nil { config.callers = CallerPolicy(bank: Bytes32(try setup.publicKey("bank"))) }
        let bankPublicKey = try setup.bankSigningKey(bankKey)
        let actor = MerchantActor(
            store: store, config: config, bankKey: bankPublicKey, blindKeys: try setup.blindKeyList(blindKeys, bankKey: bankPublicKey),
            receiptKey: try readSigningKey(try setup.secretFile(receiptKey, "receipt.key", flagName: "receipt-key")), random: SystemRandomNumberGenerator())
        let host = try ActorHost(actor: actor, journal: store, config: hostConfig)
        host.readActions["state"] = { _ in var state = try StateDump.merchant(store); state["mode"] = mode.rawValue; return state }
        host.stepActions["redeem"] = { actor, _, now in (["ok": true, "started": true], actor.redeem(now: now)) }
        // `{"action": "redeem", "wait": true}`: answered once the bank has answered for every
        // coin held at the request (credited, or refused for good: settled) and the merchant has
        // made that durable; batch after batch if they do not fit in one.
        host.awaitingActions["redeem"] = { actor, _, now in
            var wait = RedemptionWait(held: try store.unredeemed(limit: Int.max))
            let poll: ActorHost<MerchantActor>.ControlPoll = { actor in
                let next = try wait.poll(
                    ended: actor.redemptionsEnded, endedVouchers: actor.lastEndedRedemption, refusal: actor.lastRedemptionRefusal,
                    isRedeeming: actor.isRedeeming,
                    atMilliseconds: monotonicMilliseconds()
                ) { id in
                    // A voucher held at the request cannot leave the store: gone, the file is damaged.
                    guard let row = try store.voucher(id) else {
                        throw QuickPayError(.internal, "voucher \(id) held at the request is gone from the merchant's store")
                    }
                    return row.redeemedIndex
                }
                switch next {
                case .done(let paise, let vouchers): return .done(["ok": true, "settled_paise": Int(paise), "vouchers": vouchers])
                case .refused(let error):
                    return .done(ControlJSON.failure(error.code.name, "the bank refused the redemption: \(error.message)"))
                case .waiting: return .waiting
                case .redeemAgain: return .more { actor, now in actor.redeem(now: now) }
                }
            }
            return (poll, actor.redeem(now: now))
        }
        host.run()
    }
}

/// The merchant's mode is the bank's record of it, not a local setting: before it takes a coin,
/// the merchant asks the bank (ModeQuery) and keeps the answer. If the bank cannot be reached, a
/// mode learned before is used; with none, it keeps asking. A `--mode` that contradicts the
/// bank stops the merchant: an offline merchant the bank takes for online would see the bank
/// refund coins it accepted.
enum ModeAgreement {
    static func learn(
        _ receiver: ReceiverID, expected: MerchantMode?, store: SQLiteMerchantStore, bank: String, security: ClientSecurity, logger: Logger
    ) throws -> MerchantMode {
        let requester = try Requester(context: try Context(), endpoint: bank, security: security)
        requester.deadlineMilliseconds = 3000
        while !Signals.stopRequested {
            let answer: Body
            do {
                answer = try requester.request(.modeQuery(receiver))
            } catch let error as QuickPayError where error.code == .unavailable {
                if let stored = try store.learnedMode() {
                    try check(stored, expected: expected, source: "the mode learned from the bank before")
                    logger.warning("the bank is unreachable: running in the mode it gave before", metadata: ["mode": "\(stored.rawValue)"])
                    return stored
                }
                logger.warning("waiting for the bank to say which mode this merchant runs in", metadata: ["bank": "\(bank)"])
                continue
            }
            switch answer {
            case .modeReply(let reply) where reply.receiverID == receiver:
                try check(reply.mode, expected: expected, source: "the bank")
                if try store.learnedMode() != reply.mode { try store.rememberMode(reply.mode) }
                logger.info("mode agreed with the bank", metadata: ["mode": "\(reply.mode.rawValue)"])
                return reply.mode
            case .error(let error):
                throw ValidationError("the bank refused to say this merchant's mode: \(error)")
            default:
                throw ValidationError("the bank answered \(answer.typeName) to a mode query")
            }
        }
        throw ExitCode(0)
    }

    static func check(_ mode: MerchantMode, expected: MerchantMode?, source: String) throws {
        if let expected, expected != mode {
            throw ValidationError(
                "--mode \(expected.rawValue), but \(source) holds \(mode.rawValue) for this merchant: change it at the bank (control action set-mode) or drop --mode")
        }
    }
}
