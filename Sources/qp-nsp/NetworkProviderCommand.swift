import ArgumentParser
import QuickPayActors
import QuickPayRuntime

@main
struct NetworkProviderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-nsp",
        abstract: "The QuickPay network provider: delivers the app server's SMS to the device attached for each phone.",
        discussion: """
            Example:
              qp-nsp --bind tcp://127.0.0.1:7003 --control tcp://127.0.0.1:7103
            Control actions: health, state, clock {advance_seconds}.
            """
    )

    @OptionGroup var options: ActorOptions

    func run() throws {
        JSONLogHandler.bootstrap()
        Signals.install()
        let host = try ActorHost(actor: NetworkProviderActor(random: SystemRandomNumberGenerator()), config: options.hostConfig(name: "nsp"))
        host.controlActions["state"] = { actor, _, _ in (StateDump.networkProvider(actor), []) }
        host.run()
    }
}
