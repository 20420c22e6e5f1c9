import ArgumentParser
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed

/// `quickpay customer serve`: the customer a scenario drives. The same wallet as `qp-customer
/// serve`, plus the attacker's actions (replay, forge, tamper, raw frames, floods), which the
/// production executable does not have.
struct TestbedCustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "A customer under scenario control, with the attacks (testing only).",
        subcommands: [Serve.self]
    )

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the control endpoint (wallet actions and attacks) until SIGTERM.",
            discussion: """
                Example (what `quickpay run` starts for each customer):
                  quickpay customer serve --name alice --control tcp://127.0.0.1:7105 --keys keys --phone +919800000001 \\
                    --app-server tcp://127.0.0.1:7002 --nsp tcp://127.0.0.1:7003 --merchant chai-stall=tcp://127.0.0.1:7004
                Actions: those of qp-customer serve, and attack {kind, merchant, ...}, raw {endpoint, hex}, flood {endpoint, count}, last-coin.
                """
        )
        @OptionGroup var options: ClientOptions
        @Option(help: "REP endpoint for the control socket.") var control: String?
        @Flag(help: "Accepted for symmetry with the actors: this customer is always a testing one.") var testing = false

        func run() throws {
            JSONLogHandler.bootstrap()
            Signals.install()
            let setup = try options.setup(control: control)
            guard let endpoint = setup.control else { throw ValidationError("give --control, or --name NAME with a deployment file that places customer-NAME") }
            try CustomerControl(client: try options.client(setup), endpoint: endpoint, security: try setup.serverSecurity(), actions: TestbedCustomerActions.perform).run()
        }
    }
}
