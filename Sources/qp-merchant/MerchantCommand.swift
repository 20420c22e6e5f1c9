import ArgumentParser
import QuickPayActors
import QuickPayCore
import QuickPayRuntime
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
            Control actions: health, state, redeem, clock {advance_seconds}, crash {point},
              withhold {on} (take coins, send no service or receipt),
              attack {kind: double-redeem | redeem-beyond-n | redeem-coin {voucher, index, value, as_receiver} | raw {hex}}.
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "This merchant's receiver id (the username it registered with).") var id: String
    @Option(help: "offline (PayWord: its own state, redeems later) or online (the bank verifies every coin); default: the deployment file's, else offline.") var mode: String?
    @Option(help: "The bank's endpoint (default: the deployment file's).") var bank: String?
    @Option(help: "The bank's Ed25519 public key: 64 hex digits, or a file of them (default: KEYS/public/bank.signing).") var bankKey: String?
    @Option(help: "This merchant's Ed25519 key file, for signing receipt-chain roots (default: KEYS/merchant-ID/receipt.key).") var receiptKey: String?

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let receiver = try ReceiverID(id)
        let setup = try options.resolve("merchant-\(receiver)")
        guard let mode = MerchantMode(rawValue: mode ?? setup.deployment?.actors[setup.name]?.mode ?? "offline") else {
            throw ValidationError("--mode is offline or online")
        }
        let store = try SQLiteMerchantStore(path: "\(options.dataDir)/merchant.sqlite")
        var config = MerchantConfig(receiverID: receiver, mode: mode)
        if setup.keys != nil { config.callers = CallerPolicy(bank: Bytes32(try setup.publicKey("bank"))) }
        let actor = MerchantActor(
            store: store, config: config, bankKey: try setup.bankSigningKey(bankKey),
            receiptKey: try readSigningKey(try setup.secretFile(receiptKey, "receipt.key", flagName: "receipt-key")), random: SystemRandomNumberGenerator())
        let bank = try setup.peer(bank, "bank", flagName: "bank")
        let hostConfig = try setup.hostConfig(peers: [.bank: (bank, "bank")])
        let host = try ActorHost(actor: actor, config: hostConfig)
        host.controlActions["state"] = { _, _, _ in (try StateDump.merchant(store), []) }
        host.controlActions["redeem"] = { actor, _, now in (["ok": true, "started": true], actor.redeem(now: now)) }
        host.controlActions["withhold"] = { actor, request, _ in
            actor.withholdService = request["on"] as? Bool ?? true
            return (["ok": true, "withholding": actor.withholdService], [])
        }
        var attacker: Requester?
        host.controlActions["attack"] = { _, request, _ in
            if request["kind"] as? String == "raw" {
                // Raw frames at the bank from this merchant's own (admitted) key.
                return (try sendRaw(context: try Context(), endpoint: bank, hex: request["hex"] as? String ?? "", security: hostConfig.clientSecurity), [])
            }
            if attacker == nil { attacker = try Requester(context: try Context(), endpoint: bank, security: hostConfig.clientSecurity) }
            return (try MerchantAttacks.perform(request["kind"] as? String ?? "", request: request, store: store, receiver: receiver, bank: attacker!), [])
        }
        host.run()
    }
}
