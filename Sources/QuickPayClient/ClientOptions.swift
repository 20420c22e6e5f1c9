import ArgumentParser
import Foundation
import QuickPayConfig
import QuickPayCore

/// Where the customer finds the servers and their keys, and its wallet file.
public struct ClientOptions: ParsableArguments {
    public init() {}
    @Option(help: "The wallet file (SQLite, 0600; created if missing).") public var wallet: String = "wallet.sqlite"
    @Option(help: "The app server's endpoint (default: the deployment file's, else tcp://127.0.0.1:7002).") public var appServer: String?
    @Option(help: "The network provider's endpoint; this process is the phone (default: the deployment file's, else tcp://127.0.0.1:7003).") public var nsp: String?
    @Option(help: "A merchant's endpoint: id=endpoint (repeatable; default: the deployment file's merchants).") public var merchant: [String] = []
    @Option(help: "The bank's public key: 64 hex digits, or a file of them (default: KEYS/public/bank.signing).") public var bankKey: String?
    @Option(help: "This device's phone number (E.164); it attaches to the network provider for the OTP (default: the deployment file's, else the SIM's).") public var phone: String?
    @Option(help: "This phone's SIM file, from the key ceremony (default: KEYS/sims/PHONE.sim): the device proves it holds the phone with it.") public var sim: String?
    @Option(help: "This customer's name in the deployment file (customer-NAME): its control endpoint, phone and control key.") public var name: String?
    @Option(help: "A YAML deployment file (env QUICKPAY_DEPLOYMENT).") public var deployment: String?
    @Option(help: "The keys folder: the servers' public keys (env QUICKPAY_KEYS). Payments use a fresh CURVE key per connection.") public var keys: String?
    @Flag(help: "Plaintext ZeroMQ (env QUICKPAY_INSECURE=1).") public var insecure = false
    @Option(help: "The bank's blind key list (default: KEYS/public/bank.blindkeys, if there).") public var blindKeys: String?
    @Option(help: "Which vouchers to load: blind-rsa (unlinkable; the default when the bank has a blind key list) or ed25519 (env QUICKPAY_VOUCHER_SCHEME).") public var scheme: String?

    public func setup(control: String? = nil) throws -> ActorSetup {
        try ActorSetup.resolve("customer-\(name ?? "cli")", control: control, deployment: deployment, keys: keys, insecure: insecure)
    }

    public func client(_ setup: ActorSetup) throws -> CustomerClient {
        let appServer = try appServer ?? (setup.deployment == nil ? "tcp://127.0.0.1:7002" : setup.deployment!.endpoint("appserver"))
        let nsp = try nsp ?? (setup.deployment == nil ? "tcp://127.0.0.1:7003" : setup.deployment!.endpoint("nsp"))
        var merchants = try parseMerchantEndpoints(merchant)
        if merchant.isEmpty, let deployment = setup.deployment {
            for name in deployment.merchantNames { merchants[try ReceiverID(name)] = try deployment.endpoint("merchant-\(name)") }
        }
        var peers = [appServer: "appserver", nsp: "nsp"]
        for (id, endpoint) in merchants { peers[endpoint] = "merchant-\(id)" }
        let bankPublicKey = try setup.bankSigningKey(bankKey)
        let schemeName = scheme ?? ProcessInfo.processInfo.environment["QUICKPAY_VOUCHER_SCHEME"]
        let chosen = try schemeName.map { name in
            guard let scheme = SignatureScheme(name: name) else { throw ValidationError("--scheme is blind-rsa or ed25519") }
            return scheme
        }
        let client = try CustomerClient(
            walletPath: wallet,
            endpoints: ClientEndpoints(appServer: appServer, networkProvider: nsp, merchants: merchants, security: try setup.clientSecurity(peers: peers, fresh: true)),
            bankKey: bankPublicKey, blindKeys: try setup.blindKeyList(blindKeys, bankKey: bankPublicKey), scheme: chosen)
        let phone = phone ?? setup.deployment?.actors[setup.name]?.phone
        let keysFolder = setup.keys ?? setup.deployment?.keys ?? keys.map(KeyDirectory.init)
        if let file = sim ?? phone.flatMap({ keysFolder?.simFile($0) }) {
            guard let card = try KeyDirectory.readSims(file).first else { throw ValidationError("\(file) holds no SIM") }
            if let phone, phone != card.phone.value { throw ValidationError("\(file) is the SIM of \(card.phone), not of \(phone)") }
            try client.attachPhone(card)
        }
        return client
    }
}

