import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import ZeroMQ

/// One simulated customer's coins at one merchant: chains kept whole in memory so a coin costs
/// the generator an array lookup, not a chain walk.
struct CoinChain {
    let voucher: SignedVoucher
    let chain: HashChain
    var spent: Int
    /// The merchant has answered a payment that carried the voucher: stop attaching it.
    var acknowledged = false
    /// The merchant's signed receipt root and the last receipt checked, as a wallet keeps them.
    var receiptRoot: SignedReceiptCommitment?
    var lastReceipt = 0
    var lastReceiptValue: Bytes32?
    var remaining: Int { chain.length.value - spent }
}

/// A customer of the load: its session, and per merchant its Re 1 chains for single-coin
/// payments and its Rs 10, Rs 5 and Re 1 chains for multi-coin ones.
final class LoadCustomer {
    let index: Int
    let session: SessionToken
    var singles: [[CoinChain]]
    var multis: [[Denomination: [CoinChain]]]

    init(index: Int, session: SessionToken, merchants: Int) {
        self.index = index
        self.session = session
        singles = Array(repeating: [], count: merchants)
        multis = Array(repeating: [:], count: merchants)
    }
}

/// Starts the actors (real processes, real SQLite, CURVE unless insecure) and brings the
/// customers to the starting line through the real flows: register, OTP login, loads through
/// the app server. Nothing of this is measured.
public final class LoadSetup {
    public let spec: LoadSpec
    public let deployment: ActorDeployment
    var customers: [LoadCustomer] = []
    let log: (String) -> Void
    /// Everything deposited at the bank for the run, in paise (for the conservation check).
    public let depositedPaise: Int
    public var merchantAccounts: Set<String> { Set(spec.merchants.map { "ACC-\($0.id.uppercased())" }) }

    /// Coins a customer gets per merchant: sized from the most operations the run can offer.
    static let multiPaymentRupees: Int64 = 16

    public init(
        spec: LoadSpec, runFolder: String, binFolder: String, insecure: Bool, traceMessages: Bool = false, metrics: Bool = false, log: @escaping (String) -> Void) throws {
        self.spec = spec
        self.log = log
        let pairs = spec.customers * spec.merchants.count
        let weights = Double(spec.mix.values.reduce(0, +))
        let operations = Double(spec.maximumOperations)
        let singlesPerPair = Int((operations * Double(spec.mix[.single] ?? 0) / weights / Double(pairs)).rounded(.up))
        let multisPerPair = Int((operations * Double(spec.mix[.multi] ?? 0) / weights / Double(pairs)).rounded(.up))
        let loadsPerCustomer = Int((operations * Double(spec.mix[.load] ?? 0) / weights / Double(spec.customers)).rounded(.up))
        let depositRupees = spec.merchants.count * (singlesPerPair + 16 * multisPerPair + 2000) + 10 * loadsPerCustomer + 1000
        depositedPaise = depositRupees * 100 * spec.customers
        deployment = try ActorDeployment(
            runFolder: runFolder, binFolder: binFolder,
            customers: (0..<spec.customers).map {
                .init(name: "load\($0)", phone: Self.phone($0), account: "ACC-LOAD\($0)", deposit: Int64(depositRupees))
            },
            merchants: spec.merchants.enumerated().map { .init(id: $1.id, account: "ACC-\($1.id.uppercased())", mode: $1.mode, phone: Self.ownerPhone($0)) },
            // Logins are not measured: the app server hashes passwords with 1,000 rounds here.
            passwordRounds: 1000, insecure: insecure, launch: false, customerProcesses: false)
        deployment.traceMessages = traceMessages
        deployment.metrics = metrics
        try deployment.launchAll()
        try deployment.waitUntilHealthy()
        log("actors up (\(insecure ? "plaintext" : "CURVE")); preparing \(spec.customers) customers: \(singlesPerPair) single-coin and \(multisPerPair) multi-coin payments each per merchant")
        let started = Date()
        // Merchants' owners register with the app server (its receiver directory) before anyone
        // loads, each from the phone of record of the merchant's account.
        for (position, merchant) in spec.merchants.enumerated() {
            let owner = try CustomerClient(walletPath: "\(deployment.runFolder)/data/owner-\(merchant.id)/wallet.sqlite", endpoints: try endpoints(), bankKey: deployment.bankPublicKey)
            try owner.attachPhone(try sim(Self.ownerPhone(position)))
            _ = try owner.register(RegisterRequest(
                username: try Username(merchant.id), password: try Password("merchant password \(position)"),
                phone: try PhoneNumber(Self.ownerPhone(position)), bankAccount: try AccountID("ACC-\(merchant.id.uppercased())"), role: .merchant))
        }
        for index in 0..<spec.customers {
            customers.append(try prepare(index, singles: singlesPerPair, multis: multisPerPair))
        }
        log(String(format: "customers ready in %.1f s", Date().timeIntervalSince(started)))
    }

    static func phone(_ index: Int) -> String { "+9198" + String(format: "%08d", 10_000 + index) }
    static func ownerPhone(_ position: Int) -> String { "+9197" + String(format: "%08d", 10_000 + position) }

    /// The SIM the deployment's key ceremony made for `phone`.
    func sim(_ phone: String) throws -> SimCard {
        guard let card = try KeyDirectory.readSims(KeyDirectory("\(deployment.runFolder)/keys").simFile(phone)).first else {
            throw QuickPayError(.internal, "no SIM for \(phone)")
        }
        return card
    }

    func endpoints() throws -> ClientEndpoints {
        ClientEndpoints(
            appServer: deployment.endpoints["appserver"]!, networkProvider: deployment.endpoints["nsp"]!,
            merchants: Dictionary(uniqueKeysWithValues: spec.merchants.map { (try! ReceiverID($0.id), deployment.endpoints["merchant-\($0.id)"]!) }),
            security: try customerSecurity())
    }

    var merchantIDs: [ReceiverID] { spec.merchants.map { try! ReceiverID($0.id) } }

    /// What a customer's sockets expect of each server (every connection gets a fresh key).
    func customerSecurity() throws -> ClientSecurity {
        var security = try deployment.clientSecurity(to: "appserver")
        if !security.isPlaintext {
            security.serverKeys[deployment.endpoints["nsp"]!] = try deployment.keys!.publicKey("nsp")
            for merchant in spec.merchants {
                security.serverKeys[deployment.endpoints["merchant-\(merchant.id)"]!] = try deployment.keys!.publicKey("merchant-\(merchant.id)")
            }
        }
        return security
    }

    func prepare(_ index: Int, singles: Int, multis: Int) throws -> LoadCustomer {
        let client = try CustomerClient(walletPath: "\(deployment.runFolder)/data/load\(index)/wallet.sqlite", endpoints: try endpoints(), bankKey: deployment.bankPublicKey)
        let phone = try PhoneNumber(Self.phone(index))
        try client.attachPhone(try sim(Self.phone(index)))
        let username = try Username("load\(index)")
        let password = try Password("load password \(index)")
        _ = try client.register(RegisterRequest(username: username, password: password, phone: phone, bankAccount: try AccountID("ACC-LOAD\(index)"), role: .customer))
        _ = try client.login(username: username, password: password)
        let customer = LoadCustomer(index: index, session: SessionToken(try client.sessionBytes()), merchants: spec.merchants.count)
        for (position, receiver) in merchantIDs.enumerated() {
            // Single-coin payments: Re 1 chains of up to 1,000 coins (a load moves at most Rs 1,000).
            var singleVouchers: Set<VoucherID> = []
            var left = singles
            while left > 0 {
                let length = min(left, ChainLength.maximum)
                singleVouchers.formUnion(try client.load(receiver: receiver, counts: [.rs1: length]).vouchers.map(\.id))
                left -= length
            }
            // Multi-coin payments (Rs 10 + Rs 5 + Re 1): 50 of each per load.
            left = multis
            while left > 0 {
                let count = min(left, 50)
                _ = try client.load(receiver: receiver, counts: [.rs10: count, .rs5: count, .rs1: count])
                left -= count
            }
            for entry in client.wallet.vouchers.values where entry.voucher.commitment.receiverID == receiver {
                let chain = CoinChain(voucher: entry.voucher, chain: entry.chain, spent: entry.spent)
                if singleVouchers.contains(entry.id) {
                    customer.singles[position].append(chain)
                } else {
                    customer.multis[position][entry.denomination, default: []].append(chain)
                }
            }
        }
        return customer
    }
}
