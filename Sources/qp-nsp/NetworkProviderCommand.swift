import ArgumentParser
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
            Over CURVE any device may attach (with a fresh key), but only the app server's key may
            submit SMS; the control socket admits only the operator's key.
            Control actions: health, state, clock {advance_seconds},
              sms-fault {fault: drop | hold | duplicate | misroute, to: phone | delay, seconds} (the next SMS), sms-release.
            """
    )

    @OptionGroup var options: ActorOptions

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let setup = try options.resolve("nsp")
        let store = try SQLiteNetworkProviderStore(path: "\(options.dataDir)/nsp.sqlite")
        let callers = try setup.keys.map { _ in CallerPolicy(appServers: [Bytes32(try setup.publicKey("appserver"))]) }
        let actor = NetworkProviderActor(store: store, random: SystemRandomNumberGenerator(), callers: callers)
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
        host.run()
    }
}
