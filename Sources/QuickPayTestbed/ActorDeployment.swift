import Foundation
import QuickPayConfig
import QuickPayActors
import QuickPayClient
import QuickPayCore
import Yams
import ZeroMQ

/// The actors a scenario runs against. Local (the usual case): the five actors as separate
/// processes on loopback, each on free ports with its own data folder and log file in a run
/// folder; keys and the bank's seed made for the run; stopping (or deinit) sends SIGTERM, then
/// SIGKILL to what is still alive. Remote (`init(remoteFile:)`): actors already running, on this
/// host or others, found by the endpoints of a deployment file; nothing is started or killed.
public final class ActorDeployment {
    public struct Customer {
        public let name: String, phone: String, account: String, deposit: Int64
        public init(name: String, phone: String, account: String, deposit: Int64) {
            self.name = name
            self.phone = phone
            self.account = account
            self.deposit = deposit
        }
    }

    public struct Merchant {
        /// `mode`: what the merchant is told with `--mode` (nil: it learns its mode from the
        /// bank); `bankMode`: what the bank's seed records (a planted mismatch when they differ).
        public let id: String, account: String, mode: MerchantMode?, bankMode: MerchantMode
        /// The owner's phone, the bank's phone of record for the merchant's account (nil: that
        /// of the customer of the same account, if any).
        public let phone: String?
        public init(id: String, account: String, mode: MerchantMode?, bankMode: MerchantMode? = nil, phone: String? = nil) {
            self.id = id
            self.account = account
            self.phone = phone
            self.mode = mode
            self.bankMode = bankMode ?? mode ?? .offline
        }
    }

    public let runFolder: String
    public let binFolder: String
    public let context: Context
    public var processes: [String: Process] = [:]
    public var controls: [String: ControlClient] = [:]
    public var endpoints: [String: String] = [:]
    var launches: [String: (executable: String, arguments: [String], serverFlags: Bool)] = [:]
    /// Actors a scenario has stopped with SIGSTOP (alive, but not answering).
    public var stopped: Set<String> = []
    /// Start processes with `QUICKPAY_TRACE_MESSAGES=1`: each logs a line per message it sends
    /// or receives (the scenario runner's reports draw them; load runs leave it off).
    public var traceMessages = false
    /// Start servers with `--metrics 127.0.0.1:PORT` (a free port each, in `metricsEndpoints`).
    public var metrics = false
    public private(set) var metricsEndpoints: [String: String] = [:]
    public let bankPublicKey: SigningPublicKey
    /// The bank's blind key list (every deployment made here has one).
    public let blindKeys: BlindKeyList?
    /// Which vouchers the customers load: blind RSA (the default) or Ed25519.
    public let scheme: SignatureScheme
    let passwordRounds: Int
    /// The deployment's keys (nil: plaintext, `insecure`).
    public let keys: KeyDirectory?
    /// How this process reaches the control sockets: as the operator, over CURVE.
    let makeControlSecurity: (_ actor: String, _ endpoint: String) throws -> ClientSecurity

    /// Links ("from->to", by process name) whose traffic goes through a fault proxy: `from` is
    /// given the endpoint `endpoints["proxy:from->to"]` for `to`; whoever runs the proxy binds it.
    public let proxiedLinks: Set<String>
    let customers: [Customer]
    /// Whether each customer runs as a `qp-customer` process (a load generator plays them itself).
    let customerProcesses: Bool
    let merchants: [Merchant]

    /// Prepares keys, the bank's seed and distinct ports; starts every process unless `launch`
    /// is false (then call `launchAll()`, after starting the proxies of `proxiedLinks`).
    public init(
        runFolder: String, binFolder: String, customers: [Customer], merchants: [Merchant], passwordRounds: Int = PasswordHasher.owaspRounds,
        proxiedLinks: Set<String> = [], insecure: Bool = false, launch: Bool = true, customerProcesses: Bool = true,
        scheme: SignatureScheme = .blindRSA, blindKeyPlan: BlindKeyPlan = ActorDeployment.testKeyPlan()
    ) throws {
        self.scheme = scheme
        self.customerProcesses = customerProcesses
        self.proxiedLinks = proxiedLinks
        self.customers = customers
        self.merchants = merchants
        self.runFolder = runFolder
        self.binFolder = binFolder
        self.passwordRounds = passwordRounds
        context = try Context()
        try FileManager.default.createDirectory(atPath: "\(runFolder)/logs", withIntermediateDirectories: true)
        // The same keys `quickpay keys deployment` makes; used over CURVE unless `insecure`.
        let keyFolder = KeyDirectory("\(runFolder)/keys")
        // The phone of record of each account: its customer's, or the merchant owner's.
        var phones: [String: String] = [:]
        for customer in customers { phones[customer.account] = phones[customer.account] ?? customer.phone }
        for merchant in merchants { if let phone = merchant.phone { phones[merchant.account] = phones[merchant.account] ?? phone } }
        try KeyDirectory.create(
            at: keyFolder.path, merchants: merchants.map(\.id), customers: customerProcesses ? customers.map(\.name) : [],
            phones: customers.map(\.phone) + merchants.compactMap(\.phone), blind: blindKeyPlan, force: true)
        bankPublicKey = try readPublicKey(keyFolder.bankSigningPublicKeyFile)
        blindKeys = try keyFolder.blindKeyList(bankKey: bankPublicKey)
        keys = insecure ? nil : keyFolder
        if insecure {
            makeControlSecurity = { _, _ in .plaintext }
        } else {
            let operatorKeys = try keyFolder.keyPair("operator")
            makeControlSecurity = { actor, endpoint in .curve(ownKeys: operatorKeys, serverKeys: [endpoint: try keyFolder.publicKey(actor)]) }
        }
        var seed = "accounts:\n"
        let merchantAccounts = Set(merchants.map(\.account))
        func phoneLine(_ account: String) -> String { phones[account].map { "    phone: \"\($0)\"\n" } ?? "" }
        var seeded: Set<String> = []
        for customer in customers where !merchantAccounts.contains(customer.account) && seeded.insert(customer.account).inserted {
            seed += "  - id: \(customer.account)\n    deposit_rupees: \(customer.deposit)\n" + phoneLine(customer.account)
        }
        for merchant in merchants {
            seed += "  - id: \(merchant.account)\n    deposit_rupees: 0\n    receiver: \(merchant.id)\n    mode: \(merchant.bankMode.rawValue)\n" + phoneLine(merchant.account)
        }
        try Self.write("\(runFolder)/bank-seed.yaml", seed)

        let names = ["bank", "appserver", "nsp"] + merchants.map({ "merchant-\($0.id)" }) + (customerProcesses ? customers.map({ "customer-\($0.name)" }) : [])
        // The kernel may hand the same free port out twice once the probe socket closes, so
        // every port of the deployment is checked to be distinct.
        var taken: Set<Int> = []
        func distinctPort() throws -> Int {
            while true {
                let port = try Self.freePort()
                if taken.insert(port).inserted { return port }
            }
        }
        for name in names {
            endpoints[name] = "tcp://127.0.0.1:\(try distinctPort())"
            endpoints["\(name)-control"] = "tcp://127.0.0.1:\(try distinctPort())"
        }
        for link in proxiedLinks { endpoints["proxy:\(link)"] = "tcp://127.0.0.1:\(try distinctPort())" }
        if launch { try launchAll() }
    }

    /// Where process `from` finds process `to`: the proxy's endpoint if the link is proxied.
    public func peer(_ from: String, _ to: String) -> String {
        endpoints[proxiedLinks.contains("\(from)->\(to)") ? "proxy:\(from)->\(to)" : to]!
    }

    /// How the fault proxy of link `from->to` speaks CURVE: to `from` it is `to` (it holds
    /// `to`'s key pair), and to `to` it is `from` (with `from`'s key, or a fresh one for a
    /// customer), so both actors' checks see what they would without the proxy. nil: plaintext.
    public func proxyKeys(_ link: String) throws -> (front: CurveKeyPair, back: ClientSecurity)? {
        guard let keys else { return nil }
        let parts = link.components(separatedBy: "->")
        let (from, to) = (parts[0], parts[1])
        let own = from.hasPrefix("customer-") ? nil : try keys.keyPair(from)
        return (try keys.keyPair(to), .curve(ownKeys: own, serverKeys: [endpoints[to]!: try keys.publicKey(to)]))
    }

    /// How this process reaches `actor`'s control socket (as the operator).
    public func controlSecurity(_ actor: String) throws -> ClientSecurity {
        try makeControlSecurity(actor, endpoints["\(actor)-control"]!)
    }

    /// A requester to the bank with merchant `id`'s own key pair: the testbed's merchant attacks.
    public func bankRequester(asMerchant id: String) throws -> Requester {
        let requester = try Requester(context: context, endpoint: endpoints["bank"]!, security: try clientSecurity(to: "bank", as: "merchant-\(id)"))
        requester.trace = runnerTrace
        return requester
    }

    /// The messages this process sends itself (the runner's attacks as a merchant), traced into
    /// logs/runner.log when `traceMessages` is on.
    public lazy var runnerTrace: MessageTrace? = traceMessages && !isRemote ? MessageTrace.file("\(runFolder)/logs/runner.log", actor: "runner") : nil

    /// How a client in this process reaches actor `to`: as `as` (an actor of the deployment,
    /// with its key pair) or, when `as` is nil, with a fresh key as a customer would.
    public func clientSecurity(to: String, as actor: String? = nil) throws -> ClientSecurity {
        guard let keys else { return .plaintext }
        return .curve(ownKeys: try actor.map { try keys.keyPair($0) }, serverKeys: [endpoints[to]!: try keys.publicKey(to)])
    }

    public func launchAll() throws {
        func merchantFlags(_ from: String) -> [String] {
            merchants.flatMap { ["--merchant", "\($0.id)=\(peer(from, "merchant-\($0.id)"))"] }
        }
        let keyFolder = "\(runFolder)/keys"
        let security = (keys == nil ? ["--insecure"] : ["--keys", keyFolder]) + ["--testing"]
        try start("nsp", "qp-nsp", security + ["--sims", KeyDirectory(keyFolder).networkProviderSims])
        try start("bank", "qp-bank", security + [
            "--signing-key", "\(keyFolder)/bank/signing.key", "--seed", "\(runFolder)/bank-seed.yaml", "--blind-keys", keyFolder,
        ] + merchantFlags("bank"))
        try start("appserver", "qp-appserver", security + [
            "--bank", peer("appserver", "bank"), "--nsp", peer("appserver", "nsp"), "--otp-key", "\(keyFolder)/appserver/otp.key",
            "--password-rounds", String(passwordRounds),
        ])
        for merchant in merchants {
            let name = "merchant-\(merchant.id)"
            try start(name, "qp-merchant", security + (merchant.mode.map { ["--mode", $0.rawValue] } ?? []) + [
                "--id", merchant.id, "--bank", peer(name, "bank"),
                "--bank-key", "\(keyFolder)/public/bank.signing", "--receipt-key", "\(keyFolder)/\(name)/receipt.key",
                "--blind-keys", "\(keyFolder)/public/bank.blindkeys",
            ])
        }
        for customer in customers where customerProcesses {
            let name = "customer-\(customer.name)"
            // The testbed's customer: the production wallet plus the attacker's actions.
            try start(name, "quickpay", [
                "customer", "serve", "--name", customer.name, "--wallet", "\(runFolder)/data/\(name)/wallet.sqlite", "--app-server", peer(name, "appserver"),
                "--nsp", peer(name, "nsp"), "--bank-key", "\(keyFolder)/public/bank.signing", "--phone", customer.phone,
                "--sim", KeyDirectory(keyFolder).simFile(customer.phone),
                "--blind-keys", "\(keyFolder)/public/bank.blindkeys", "--scheme", scheme.description,
            ] + security + merchantFlags(name), serverFlags: false)
        }
    }

    /// Actors already running elsewhere, from a deployment file:
    ///
    /// ```yaml
    /// actors:
    ///   bank: {endpoint: "tcp://10.7.0.2:7001", control: "tcp://10.7.0.2:7101"}
    ///   appserver: {endpoint: "tcp://10.7.0.3:7002", control: "tcp://10.7.0.3:7102"}
    ///   nsp: {endpoint: "tcp://10.7.0.4:7003", control: "tcp://10.7.0.4:7103"}
    ///   merchant-chai-stall: {endpoint: "tcp://10.7.0.5:7004", control: "tcp://10.7.0.5:7104"}
    ///   customer-alice: {control: "tcp://10.7.0.6:7105"}
    /// ```
    /// The blind keys of a test deployment: every value the scenarios and load runs use, for two
    /// 30-day epochs from now (a scenario may move its clock a month on and load again), drawn
    /// from a pool of ready RSA keys (making 128 keys takes ~15 s; a pool makes it once per
    /// machine). `QUICKPAY_RSA_POOL` names the pool; default `~/.cache/quickpay/test-rsa-pool`.
    /// Test keys only: `quickpay keys deployment` makes a real bank's keys fresh.
    public static func testKeyPlan() -> BlindKeyPlan {
        var plan = BlindKeyPlan()
        plan.lengths = [1, 2, 3, 4, 5, 6, 8, 10, 13, 20, 35, 50, 100, 200, 500, 1000]
        plan.epochSeconds = 30 * 24 * 3600
        plan.validitySeconds = 30 * 24 * 3600
        plan.epochs = 2
        let environment = ProcessInfo.processInfo.environment
        plan.pool = environment["QUICKPAY_RSA_POOL"] ?? "\(environment["HOME"] ?? NSTemporaryDirectory())/.cache/quickpay/test-rsa-pool"
        return plan
    }

    public init(remoteFile path: String) throws {
        runFolder = ""
        binFolder = ""
        passwordRounds = 0
        proxiedLinks = []
        customers = []
        merchants = []
        customerProcesses = false
        context = try Context()
        let file = try DeploymentFile(path: path)
        keys = file.insecure ? nil : file.keys
        if let keys = file.keys, FileManager.default.fileExists(atPath: keys.bankSigningPublicKeyFile) {
            bankPublicKey = try readPublicKey(keys.bankSigningPublicKeyFile)
        } else {
            bankPublicKey = SigningPrivateKey(seed: .zero).publicKey
        }
        blindKeys = try file.keys?.blindKeyList(bankKey: bankPublicKey)
        scheme = blindKeys == nil ? .ed25519 : .blindRSA
        if file.insecure {
            makeControlSecurity = { _, _ in .plaintext }
        } else {
            let operatorKeys = try file.keys!.keyPair("operator")
            makeControlSecurity = { actor, endpoint in .curve(ownKeys: operatorKeys, serverKeys: [endpoint: try file.curveKey(actor)]) }
        }
        for (name, entry) in file.actors {
            if let endpoint = entry.endpoint { endpoints[name] = endpoint }
            guard let control = entry.control else { throw ControlFailure(endpoint: path, answer: ["message": "\(name) has no control endpoint"]) }
            endpoints["\(name)-control"] = control
            controls[name] = try ControlClient(context: context, endpoint: control, security: try makeControlSecurity(name, control))
        }
        isRemote = true
    }

    /// Actors found by address: they cannot be started, killed or stopped from here.
    public private(set) var isRemote = false

    deinit { stopAll() }

    /// Starts (or restarts) one actor process; its stderr goes to logs/NAME.log.
    public func start(_ name: String, _ executable: String, _ arguments: [String], serverFlags: Bool = true) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binFolder)/\(executable)")
        var flags = arguments
        if serverFlags {
            flags += ["--bind", endpoints[name]!, "--control", endpoints["\(name)-control"]!, "--data-dir", "\(runFolder)/data/\(name)"]
            if metrics {
                let endpoint = try metricsEndpoints[name] ?? "127.0.0.1:\(Self.freePort())"
                metricsEndpoints[name] = endpoint
                flags += ["--metrics", endpoint]
            }
        } else {
            flags += ["--control", endpoints["\(name)-control"]!]
        }
        process.arguments = flags
        if traceMessages {
            var environment = ProcessInfo.processInfo.environment
            environment["QUICKPAY_TRACE_MESSAGES"] = "1"
            environment["QUICKPAY_TRACE_NAME"] = name
            process.environment = environment
        }
        launches[name] = (executable, arguments, serverFlags)
        let logPath = "\(runFolder)/logs/\(name).log"
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        processes[name] = process
        let control = endpoints["\(name)-control"]!
        controls[name] = try ControlClient(context: context, endpoint: control, security: try makeControlSecurity(name, control))
    }

    /// Waits until every process answers `health`.
    public func waitUntilHealthy(timeoutSeconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        for (name, control) in controls.sorted(by: { $0.key < $1.key }) {
            control.timeoutMilliseconds = 500
            defer { control.timeoutMilliseconds = 15_000 }
            while true {
                if let answer = try control.call(["action": "health"]), answer["ok"] as? Bool == true { break }
                // Actors elsewhere may still be starting: ask again until the deadline.
                if isRemote {
                    guard Date() < deadline else { throw ControlFailure(endpoint: name, answer: ["message": "did not answer health at \(control.endpoint)"]) }
                    continue
                }
                guard processes[name]?.isRunning == true else { throw ControlFailure(endpoint: name, answer: ["message": "exited; see \(runFolder)/logs/\(name).log"]) }
                guard Date() < deadline else { throw ControlFailure(endpoint: name, answer: ["message": "not healthy in time"]) }
            }
        }
    }

    public func control(_ name: String) throws -> ControlClient {
        guard let control = controls[name] else { throw ControlFailure(endpoint: name, answer: ["message": "no such actor"]) }
        return control
    }

    /// SIGTERM to every process, then SIGKILL to what has not exited within a second.
    public func stopAll() {
        for process in processes.values where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(2)
        while processes.values.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        for process in processes.values where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes.values { process.waitUntilExit() }
    }

    /// Starts a stopped (or killed) actor again with the same flags and data folder.
    public func restart(_ name: String) throws {
        guard !isRemote else { throw ControlFailure(endpoint: name, answer: ["message": "a remote actor cannot be restarted from here"]) }
        guard let launch = launches[name] else { throw ControlFailure(endpoint: name, answer: ["message": "never started"]) }
        try start(name, launch.executable, launch.arguments, serverFlags: launch.serverFlags)
    }

    public func kill9(_ name: String) {
        guard let process = processes[name] else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func freePort() throws -> Int {
        let context = try Context()
        let socket = try context.socket(.router)
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint()
        socket.close()
        return Int(endpoint.split(separator: ":").last!)!
    }

    static func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ControlFailure(endpoint: path, answer: ["message": "cannot write"])
        }
    }
}
