import ArgumentParser
import QuickPayActors
import QuickPayCore
import QuickPayConfig
import QuickPayHost
import QuickPayStore
import ZeroMQ

@main
struct BankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-bank",
        abstract: "The QuickPay bank: accounts, ledger, voucher signing, coin verification, redemption, unload.",
        discussion: """
            Example (keys from `quickpay keys deployment --out keys --merchant chai-stall`):
              qp-bank --bind tcp://10.77.0.2:7001 --control tcp://10.77.0.2:7101 --data-dir data/bank --keys keys \\
                --seed bank-seed.yaml --merchant chai-stall=tcp://10.77.0.5:7004
            or, with every endpoint in a deployment file:
              qp-bank --deployment deploy.yaml --data-dir data/bank --seed bank-seed.yaml
            Over CURVE the bank admits only the app server's key and the keys of registered merchants
            (keys/public/merchant-<id>.curve whose receiver id has an account); the control socket only the operator's.
            Control actions: health, state, resettle {voucher?} (ask merchants to settle pending unloads now),
              set-mode {receiver, mode} (an explicit mode change; offline to online only with no open voucher),
              and with --testing clock {advance_seconds}, crash {point}.
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "The bank's Ed25519 signing key file (default: KEYS/bank/signing.key).") var signingKey: String?
    @Option(help: "A YAML file of accounts to open (applied once; see BankSeed).") var seed: String?
    @Option(help: "A merchant's endpoint for settling unloads: id=endpoint (repeatable; default: the deployment file's merchants).") var merchant: [String] = []
    @Option(help: "Seconds after expiry a merchant may still redeem; pending unloads refund then.") var depositWindowSeconds: Int64 = 24 * 3600
    @Option(help: "The bank's blind key folder: public/bank.blindkeys and bank/blind/<key id>.pem under it (default: KEYS; none there: Ed25519 vouchers only).") var blindKeys: String?

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let setup = try options.resolve("bank")
        let store = try SQLiteBankStore(path: "\(options.dataDir)/bank.sqlite")
        if let seed {
            do {
                try BankSeed.load(seed).apply(to: store)
            } catch let conflict as SeedConflict {
                throw ValidationError(conflict.description)
            }
        }
        var config = BankConfig()
        config.depositWindowSeconds = depositWindowSeconds
        var merchants = try parseMerchantEndpoints(merchant)
        if merchant.isEmpty, let deployment = setup.deployment {
            for name in deployment.merchantNames { merchants[try ReceiverID(name)] = try deployment.endpoint("merchant-\(name)") }
        }
        var admit: (CurveKey) -> Bool = { _ in true }
        if setup.keys != nil {
            let appServer = try setup.publicKey("appserver")
            let merchantKeys = try setup.merchantKeys()
            let receiverByKey = Dictionary(merchantKeys.map { (Bytes32($1), $0) }, uniquingKeysWith: { a, _ in a })
            config.callers = CallerPolicy(appServers: [Bytes32(appServer)], merchants: receiverByKey)
            // A merchant's key gets in only once its receiver id is registered at this bank.
            admit = { key in key == appServer || (receiverByKey[Bytes32(key)].map { (try? store.receiver($0)) != nil } ?? false) }
        }
        let signer = BankSigner(privateKey: try readSigningKey(try setup.secretFile(signingKey, "signing.key", flagName: "signing-key")))
        // Blind keys: KEYS/public/bank.blindkeys and KEYS/bank/blind/<key id>.pem (none: Ed25519 only).
        let blind = try (blindKeys.map(KeyDirectory.init) ?? setup.keys)?.blindSigner(bankKey: signer.privateKey.publicKey)
        if let blind { try store.registerBlindKeys(blind.list.keys) }
        let actor = BankActor(store: store, signer: signer, blind: blind, config: config, random: SystemRandomNumberGenerator())
        let hostConfig = try setup.hostConfig(
            peers: Dictionary(uniqueKeysWithValues: merchants.map { (PeerName.merchant($0), (endpoint: $1, actor: "merchant-\($0)")) }),
            testing: options.isTesting, admit: admit)
        let host = try ActorHost(actor: actor, journal: store, config: hostConfig)
        host.readActions["state"] = { _ in try StateDump.bank(store, blindKeys: blind?.list.keys ?? []) }
        host.stepActions["resettle"] = { actor, request, now in
            let voucher = try (request["voucher"] as? String).map { hex in
                guard let raw = Bytes16(hex: hex) else { throw QuickPayError(.malformed, "voucher is 32 hex digits") }
                return VoucherID(raw)
            }
            return (["ok": true, "scheduled": try actor.resettle(voucher, now: now)], .none)
        }
        host.stepActions["set-mode"] = { actor, request, _ in
            guard let name = request["receiver"] as? String, let mode = (request["mode"] as? String).flatMap(MerchantMode.init(rawValue:)) else {
                throw QuickPayError(.malformed, "set-mode needs receiver and mode (offline or online)")
            }
            return (["ok": true, "receiver": name, "mode": mode.rawValue], try actor.setMode(try ReceiverID(name), to: mode))
        }
        host.run()
    }
}
