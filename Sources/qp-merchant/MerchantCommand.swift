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
            Example:
              qp-merchant --id chai-stall --mode offline --bind tcp://127.0.0.1:7004 --control tcp://127.0.0.1:7104 \\
                --data-dir data/chai --bank tcp://127.0.0.1:7001 --bank-key keys/bank/signing.pub --receipt-key keys/chai/signing.key
            Control actions: health, state, redeem, clock {advance_seconds}, crash {point},
              withhold {on} (take coins, send no service or receipt),
              attack {kind: double-redeem | redeem-beyond-n | redeem-coin {voucher, index, value, as_receiver}}.
            """
    )

    @OptionGroup var options: ActorOptions
    @Option(help: "This merchant's receiver id (the username it registered with).") var id: String
    @Option(help: "offline (PayWord: its own state, redeems later) or online (the bank verifies every coin).") var mode: String = "offline"
    @Option(help: "The bank's endpoint.") var bank: String
    @Option(help: "The bank's public key: 64 hex digits, or a file of them.") var bankKey: String
    @Option(help: "This merchant's Ed25519 key file, for signing receipt-chain roots.") var receiptKey: String

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        guard let mode = MerchantMode(rawValue: mode) else { throw ValidationError("--mode is offline or online") }
        let receiver = try ReceiverID(id)
        let store = try SQLiteMerchantStore(path: "\(options.dataDir)/merchant.sqlite")
        let actor = MerchantActor(
            store: store, config: MerchantConfig(receiverID: receiver, mode: mode), bankKey: try readPublicKey(bankKey),
            receiptKey: try readSigningKey(receiptKey), random: SystemRandomNumberGenerator())
        var hostConfig = options.hostConfig(name: "merchant:\(receiver)")
        hostConfig.peers = [.bank: bank]
        let host = try ActorHost(actor: actor, config: hostConfig)
        host.controlActions["state"] = { _, _, _ in (try StateDump.merchant(store), []) }
        host.controlActions["redeem"] = { actor, _, now in (["ok": true, "started": true], actor.redeem(now: now)) }
        host.controlActions["withhold"] = { actor, request, _ in
            actor.withholdService = request["on"] as? Bool ?? true
            return (["ok": true, "withholding": actor.withholdService], [])
        }
        var attacker: Requester?
        host.controlActions["attack"] = { _, request, _ in
            if attacker == nil { attacker = try Requester(context: try Context(), endpoint: bank) }
            return (try MerchantAttacks.perform(request["kind"] as? String ?? "", request: request, store: store, receiver: receiver, bank: attacker!), [])
        }
        host.run()
    }
}
