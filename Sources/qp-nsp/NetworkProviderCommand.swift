import ArgumentParser
import Logging
import QuickPayActors
import QuickPayCore
import QuickPayConfig
import QuickPayHost
import QuickPayStore

@main
struct NetworkProviderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-nsp",
        abstract: "The QuickPay network provider: delivers the app server's SMS to the device attached for each phone.",
        discussion: """
            Example:
              qp-nsp --bind tcp://10.77.0.4:7003 --control tcp://10.77.0.4:7103 --data-dir data/nsp --keys keys
            A device attaches for a phone by answering a challenge with the phone's SIM (the SIM
            file from the key ceremony, `quickpay keys deployment --phone`): the provider holds
            every SIM's secret in its SIM file (0600), never in its database. Over CURVE any device
            may try (with a fresh key), but only the app server's key may submit SMS; the control
            socket admits only the operator's key.
            Control actions: health, state, clock {advance_seconds},
              sim-issue {phone} (a new SIM for the phone: its first, or a swap that cuts the old
                one off; written to the SIM file, logged, and returned once as `sim`),
              sms-fault {fault: drop | hold | duplicate | misroute, to: phone | delay, seconds} (the next SMS), sms-release.
            """
    )

    @OptionGroup var options: ActorOptions

    @Option(help: "The SIM file: every phone's SIM secret, `phone secret` lines (default: the keys folder's nsp/sims).")
    var sims: String?

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let setup = try options.resolve("nsp")
        let store = try SQLiteNetworkProviderStore(path: "\(options.dataDir)/nsp.sqlite")
        let callers = try setup.keys.map { _ in CallerPolicy(appServers: [Bytes32(try setup.publicKey("appserver"))]) }
        guard let simFile = sims ?? setup.keys?.networkProviderSims ?? options.keys.map({ KeyDirectory($0).networkProviderSims }) else {
            throw ValidationError("give --sims FILE (the SIM file of the key ceremony) or --keys FOLDER holding nsp/sims")
        }
        let actor = NetworkProviderActor(store: store, sims: try KeyDirectory.readSims(simFile), random: SystemRandomNumberGenerator(), callers: callers)
        let host = try ActorHost(actor: actor, journal: store, config: try setup.hostConfig(peers: [:], testing: options.isTesting))
        host.readActions["state"] = { [unowned host] _ in try StateDump.networkProvider(host.core.actor) }
        // Faults are a testing deployment's: a production network provider delivers every SMS.
        host.testingActions = ["sms-fault", "sms-release"]
        host.stepActions["sms-fault"] = { actor, request, _ in
            switch request["fault"] as? String {
            case "drop": actor.nextFault = .drop
            case "hold": actor.nextFault = .hold
            case "duplicate": actor.nextFault = .duplicate
            case "misroute": actor.nextFault = .misroute(try PhoneNumber(request["to"] as? String ?? ""))
            case "delay": actor.nextFault = .delay(seconds: Int64(request["seconds"] as? Int ?? 5))
            default: throw QuickPayError(.malformed, "fault is drop, hold, duplicate, misroute (with to) or delay (with seconds)")
            }
            return (["ok": true], .none)
        }
        host.stepActions["sms-release"] = { actor, _, _ in (["ok": true], actor.releaseHeld()) }
        let logger = Logger(label: setup.name)
        host.stepActions["sim-issue"] = { actor, request, now in
            let phone = try PhoneNumber(request["phone"] as? String ?? "")
            let (card, step) = try actor.issueSim(for: phone, now: now)
            // The file first: a SIM handed out is one the provider knows after a restart.
            try KeyFiles.replacePrivate(simFile, actor.sims.values.sorted { $0.phone < $1.phone }.map(\.line).joined(separator: "\n") + "\n")
            logger.notice("sim issued by the operator", metadata: ["phone": "\(phone)", "event": "\(step.label ?? "")"])
            return (["ok": true, "phone": phone.value, "sim": card.line], step)
        }
        host.run()
    }
}
