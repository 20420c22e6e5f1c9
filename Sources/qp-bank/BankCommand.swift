import ArgumentParser
import QuickPayActors
import QuickPayCore
import QuickPayRuntime
import QuickPayStore

@main
struct BankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-bank",
        abstract: "The QuickPay bank: accounts, ledger, voucher signing, coin verification, redemption, unload.",
        discussion: """
            Example:
              qp-bank --bind tcp://127.0.0.1:7001 --control tcp://127.0.0.1:7101 --data-dir data/bank \\
                --signing-key keys/bank/signing.key --seed bank-seed.yaml --merchant chai-stall=tcp://127.0.0.1:7004
            Control actions: health, state, clock {advance_seconds}, crash {point}.
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "The bank's Ed25519 signing key file (quickpay keys generate).") var signingKey: String
    @Option(help: "A YAML file of accounts to open (applied once; see BankSeed).") var seed: String?
    @Option(help: "A merchant's endpoint for settling unloads: id=endpoint (repeatable).") var merchant: [String] = []
    @Option(help: "Seconds after expiry a merchant may still redeem; pending unloads refund then.") var depositWindowSeconds: Int64 = 24 * 3600

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let store = try SQLiteBankStore(path: "\(options.dataDir)/bank.sqlite")
        if let seed { try BankSeed.load(seed).apply(to: store) }
        var config = BankConfig()
        config.depositWindowSeconds = depositWindowSeconds
        let actor = BankActor(store: store, signer: BankSigner(privateKey: try readSigningKey(signingKey)), config: config, random: SystemRandomNumberGenerator())
        var hostConfig = options.hostConfig(name: "bank")
        for (id, endpoint) in try parseMerchantEndpoints(merchant) { hostConfig.peers[.merchant(id)] = endpoint }
        let host = try ActorHost(actor: actor, config: hostConfig)
        host.controlActions["state"] = { _, _, _ in (try StateDump.bank(store), []) }
        host.run()
    }
}
