import ArgumentParser

/// `quickpay`: the QuickPay tool for people and scripts.
@main
struct QuickPayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickpay",
        abstract: "QuickPay: hash-chain micropayments between five actors on ZeroMQ.",
        discussion: """
            Examples:
              quickpay chain --seed 00...00 --length 5     print w_0 ... w_5 of a hash chain
              quickpay keys generate --out keys/bank      an Ed25519 signing key and a CURVE key pair
              quickpay bench core                         hashes/s, verifications/s, message sizes
              quickpay demo                               the core end to end over ZeroMQ
              quickpay run scenarios                      the scenario suite against real processes
              quickpay load scenarios/load/one-merchant.yaml   load with latency percentiles and ratios
            """,
        subcommands: [ChainCommand.self, KeysCommand.self, BenchCommand.self, DemoCommand.self, HappyPathCommand.self, RunCommand.self, LoadCommand.self, TestbedCustomerCommand.self, AuditCommand.self, SimulateCommand.self, ReportCommand.self]
    )
}
