import ArgumentParser
import Foundation
import QuickPayCore
import QuickPayConfig
import QuickPayClient
import ZeroMQ

/// Runs one action and prints its JSON answer; exits 1 if it was refused.
func runAction(_ action: String, _ request: [String: Any], options: ClientOptions) throws {
    let client = try options.client(try options.setup())
    let answer: [String: Any]
    do {
        answer = try CustomerActions.perform(action, request, client)
    } catch let error as QuickPayError {
        print(String(decoding: ControlJSON.encode(ControlJSON.failure(error.code.name, error.message)), as: UTF8.self))
        throw ExitCode(1)
    }
    print(String(decoding: ControlJSON.encode(answer), as: UTF8.self))
}

@main
struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qp-customer",
        abstract: "A QuickPay customer: a wallet and phone, by hand or under a scenario's control.",
        discussion: """
            By hand, against running servers (each command prints JSON; the subcommand comes first):
              W="--wallet alice.sqlite --keys keys --phone +919800000001 --merchant chai-stall=tcp://127.0.0.1:7004"
              qp-customer register $W --username alice --password 'correct horse battery' --account ACC-ALICE
              qp-customer login $W --username alice --password 'correct horse battery'
              qp-customer load $W --receiver chai-stall --rs10 2 --rs1 10
              qp-customer pay $W --receiver chai-stall --rupees 12
              qp-customer balance $W;  qp-customer wallet $W;  qp-customer unload $W --to bank
            As a process a scenario drives:
              qp-customer serve --name alice --control tcp://127.0.0.1:7105 --keys keys --phone +919800000001 --merchant chai-stall=...
            or with a deployment file: qp-customer serve --name alice --deployment deploy.yaml --wallet alice.sqlite
            Server keys come from KEYS/public; every connection uses a fresh CURVE key, so merchants
            cannot link payments to this customer. --insecure for plaintext.
            """,
        subcommands: [Serve.self, Register.self, Login.self, Load.self, Pay.self, Balance.self, Unload.self, Refresh.self, Withdraw.self, RedeemCode.self, WalletState.self]
    )

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the control endpoint (JSON actions) until SIGTERM.")
        @OptionGroup var options: ClientOptions
        @Option(help: "REP endpoint for the control socket (default: the deployment file's for customer-NAME).") var control: String?
        func run() throws {
            JSONLogHandler.bootstrap()
            Signals.install()
            let setup = try options.setup(control: control)
            guard let endpoint = setup.control else { throw ValidationError("give --control, or --name NAME with a deployment file that places customer-NAME") }
            try CustomerControl(client: try options.client(setup), endpoint: endpoint, security: try setup.serverSecurity()).run()
        }
    }

    struct Register: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var username: String
        @Option var password: String
        @Option var account: String
        @Option(help: "customer or merchant") var role: String = "customer"
        func run() throws {
            let phone = try options.phone ?? options.setup().deployment?.actors["customer-\(options.name ?? "cli")"]?.phone ?? ""
            try runAction("register", ["username": username, "password": password, "phone": phone, "account": account, "role": role], options: options)
        }
    }

    struct Login: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var username: String
        @Option var password: String
        func run() throws { try runAction("login", ["username": username, "password": password], options: options) }
    }

    struct Load: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var receiver: String
        @Option var rs50 = 0
        @Option var rs10 = 0
        @Option var rs5 = 0
        @Option var rs1 = 0
        func run() throws {
            try runAction("load", ["receiver": receiver, "counts": ["50": rs50, "10": rs10, "5": rs5, "1": rs1]], options: options)
        }
    }

    struct Pay: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var receiver: String
        @Option var rupees: Int
        @Option var order = ""
        func run() throws { try runAction("pay", ["receiver": receiver, "amount_paise": rupees * 100, "order": order], options: options) }
    }

    struct Balance: ParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() throws { try runAction("balance", [:], options: options) }
    }

    struct Unload: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: "bank or quickpay") var to = "bank"
        func run() throws { try runAction("unload", ["destination": to], options: options) }
    }

    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take the unspent value of your blind vouchers for a merchant as new blind vouchers (no account learns of it).")
        @OptionGroup var options: ClientOptions
        @Option(help: "The merchant whose vouchers are refreshed.") var receiver: String
        @Option(help: "The merchant the new vouchers are for (default: the same).") var to: String?
        func run() throws {
            var request: JSONObject = ["receiver": receiver]
            if let to { request["to"] = to }
            try runAction("refresh", request, options: options)
        }
    }

    struct Withdraw: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var rupees: Int
        func run() throws { try runAction("withdraw", ["amount_paise": rupees * 100], options: options) }
    }

    struct RedeemCode: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var code: String
        func run() throws { try runAction("redeem-code", ["code": code], options: options) }
    }

    struct WalletState: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "wallet")
        @OptionGroup var options: ClientOptions
        func run() throws { try runAction("wallet", [:], options: options) }
    }
}
