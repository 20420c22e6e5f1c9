import ArgumentParser
import QuickPayActors
import QuickPayCore
import QuickPayRuntime
import QuickPayStore

@main
struct AppServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-appserver",
        abstract: "The QuickPay app server: users, OTP login through the network provider, sessions, relays to the bank, prepaid codes.",
        discussion: """
            Example:
              qp-appserver --bind tcp://127.0.0.1:7002 --control tcp://127.0.0.1:7102 --data-dir data/app \\
                --bank tcp://127.0.0.1:7001 --nsp tcp://127.0.0.1:7003 --otp-key keys/app/signing.key
            Control actions: health, state, clock {advance_seconds}, crash {point},
              prepaid-issue {count, amount_paise} (prints the codes once).
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "The bank's endpoint.") var bank: String
    @Option(help: "The network provider's endpoint.") var nsp: String
    @Option(help: "A file of 64 hex digits: the key for OTP hashes (quickpay keys generate writes signing.key).") var otpKey: String
    @Option(help: "PBKDF2 rounds for passwords. Lower than 600,000 only for tests.") var passwordRounds: Int = PasswordHasher.owaspRounds

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let store = try SQLiteAppServerStore(path: "\(options.dataDir)/appserver.sqlite")
        var config = AppServerConfig()
        config.passwordRounds = passwordRounds
        let actor = AppServerActor(store: store, config: config, otpKey: try readSigningKey(otpKey).seed, random: SystemRandomNumberGenerator())
        var hostConfig = options.hostConfig(name: "appserver")
        hostConfig.peers = [.bank: bank, .networkProvider: nsp]
        let host = try ActorHost(actor: actor, config: hostConfig)
        host.controlActions["state"] = { _, _, _ in (try StateDump.appServer(store), []) }
        host.controlActions["prepaid-issue"] = { actor, request, _ in
            let count = (request["count"] as? Int) ?? 1
            let amount = Amount(paise: Int64((request["amount_paise"] as? Int) ?? 0))
            return (["ok": true, "codes": try actor.issuePrepaidCodes(count: count, amount: amount)], [])
        }
        host.run()
    }
}
