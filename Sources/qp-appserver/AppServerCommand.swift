import ArgumentParser
import QuickPayActors
import QuickPayCore
import QuickPayConfig
import QuickPayHost
import QuickPayStore

@main
struct AppServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-appserver",
        abstract: "The QuickPay app server: users, OTP login through the network provider, sessions, relays to the bank, prepaid codes.",
        discussion: """
            Example (keys from `quickpay keys deployment`):
              qp-appserver --bind tcp://10.77.0.3:7002 --control tcp://10.77.0.3:7102 --data-dir data/app --keys keys \\
                --bank tcp://10.77.0.2:7001 --nsp tcp://10.77.0.4:7003
            or: qp-appserver --deployment deploy.yaml --data-dir data/app
            Over CURVE any client key may connect (customers use a fresh key per connection and
            authenticate by password and OTP); the control socket admits only the operator's key.
            Control actions: health, state, and with --testing clock {advance_seconds}, crash {point};
              prepaid-issue {count, amount_paise} (prints the codes once).
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "The bank's endpoint (default: the deployment file's).") var bank: String?
    @Option(help: "The network provider's endpoint (default: the deployment file's).") var nsp: String?
    @Option(help: "A file of 64 hex digits: the key for OTP hashes (default: KEYS/appserver/otp.key).") var otpKey: String?
    @Option(help: "PBKDF2 rounds for passwords. Lower than 600,000 only for tests.") var passwordRounds: Int = PasswordHasher.owaspRounds

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let setup = try options.resolve("appserver")
        let store = try SQLiteAppServerStore(path: "\(options.dataDir)/appserver.sqlite")
        var config = AppServerConfig()
        config.passwordRounds = passwordRounds
        let actor = AppServerActor(store: store, config: config, otpKey: try readSigningKey(try setup.secretFile(otpKey, "otp.key", flagName: "otp-key")).seed, random: SystemRandomNumberGenerator())
        let hostConfig = try setup.hostConfig(peers: [
            .bank: (try setup.peer(bank, "bank", flagName: "bank"), "bank"), .networkProvider: (try setup.peer(nsp, "nsp", flagName: "nsp"), "nsp"),
        ], testing: options.isTesting)
        let host = try ActorHost(actor: actor, journal: store, config: hostConfig)
        host.readActions["state"] = { _ in try StateDump.appServer(store) }
        host.stepActions["prepaid-issue"] = { actor, request, _ in
            let count = (request["count"] as? Int) ?? 1
            let amount = Amount(paise: Int64((request["amount_paise"] as? Int) ?? 0))
            let (codes, step) = try actor.issuePrepaidCodes(count: count, amount: amount)
            return (["ok": true, "codes": codes], step)
        }
        host.run()
    }
}
