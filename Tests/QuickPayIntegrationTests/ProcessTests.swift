import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import Testing
import ZeroMQ

/// The folder holding the built qp-* executables: QUICKPAY_BIN, or the build folder this test
/// binary sits in.
func binFolder() -> String {
    if let folder = ProcessInfo.processInfo.environment["QUICKPAY_BIN"] { return folder }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if FileManager.default.fileExists(atPath: beside.appendingPathComponent("qp-bank").path) { return beside.path }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug").path
}

func runFolder(_ name: String) -> String {
    NSTemporaryDirectory() + "quickpay-it-\(name)-\(UUID().uuidString.prefix(8))"
}

/// A deployment with alice (Rs 1000) and one merchant, with fast password hashing (explicit
/// test configuration), everyone healthy, alice registered and logged in.
func aliceAndShop(_ name: String, mode: MerchantMode = .offline, insecure: Bool = false) throws -> ActorDeployment {
    let deployment = try ActorDeployment(
        runFolder: runFolder(name), binFolder: binFolder(),
        customers: [
            .init(name: "alice", phone: "+919800000001", account: "ACC-ALICE", deposit: 1000),
            .init(name: "chai-owner", phone: "+919800000002", account: "ACC-CHAI", deposit: 0),
        ],
        merchants: [.init(id: "chai-stall", account: "ACC-CHAI", mode: mode)], passwordRounds: 1000, insecure: insecure)
    try deployment.waitUntilHealthy()
    let alice = try deployment.control("customer-alice")
    try alice.must(["action": "register", "username": "alice", "password": "correct horse battery", "phone": "+919800000001", "account": "ACC-ALICE"])
    // The merchant's owner registers it through the app server from the phone the bank holds for
    // ACC-CHAI (its receiver id is its username).
    try deployment.control("customer-chai-owner").must([
        "action": "register", "username": "chai-stall", "password": "chai stall password", "phone": "+919800000002",
        "account": "ACC-CHAI", "role": "merchant",
    ])
    try alice.must(["action": "login", "username": "alice", "password": "correct horse battery"])
    return deployment
}

func ledger(_ deployment: ActorDeployment) throws -> [String: Int] {
    try deployment.control("bank").must(["action": "state"])["ledger"] as? [String: Int] ?? [:]
}

@Suite(.serialized) struct ProcessTests {
    /// Over CURVE (the default) and plaintext (`--insecure`), in both merchant modes.
    @Test(arguments: [MerchantMode.offline, .online], [false, true])
    func fiveProcessesOverTCPEndWithTheRightBalances(mode: MerchantMode, insecure: Bool) throws {
        let deployment = try aliceAndShop("happy-\(mode)\(insecure ? "-plaintext" : "")", mode: mode, insecure: insecure)
        #expect(try deployment.control("bank").must(["action": "health"])["transport"] as? String == (insecure ? "plaintext" : "curve"))
        defer { deployment.stopAll() }
        let alice = try deployment.control("customer-alice")
        try alice.must(["action": "load", "receiver": "chai-stall", "counts": ["10": 2, "5": 2, "1": 10]])
        for rupees in [1, 5, 12, 3, 10] { try alice.must(["action": "pay", "receiver": "chai-stall", "amount_paise": rupees * 100]) }
        try deployment.control("merchant-chai-stall").must(["action": "redeem"])
        for _ in 0..<100 where (try ledger(deployment)["qp:ACC-CHAI"]) != 3100 { usleep(20_000) }
        let unload = try alice.must(["action": "unload", "destination": "bank"])
        #expect(unload["refunded_paise"] as? Int == 900)  // Rs 40 loaded, Rs 31 paid
        let balances = try ledger(deployment)
        #expect(balances["bank:ACC-ALICE"] == 100_000 - 3100)
        #expect(balances["qp:ACC-CHAI"] == 3100)
        #expect(balances.filter { $0.key.hasPrefix("float:") }.values.allSatisfy { $0 == 0 })
        #expect(balances.values.reduce(0, +) == 0)
    }

    /// kill -9 the bank right after a load commits and before it replies; restart it; the
    /// retry gets the same vouchers and alice is debited once.
    @Test func bankKilledAfterTheLoadCommitsDebitsOnce() throws {
        let deployment = try aliceAndShop("crash")
        defer { deployment.stopAll() }
        try deployment.control("bank").must(["action": "crash", "point": "after-commit:bank_load"])
        let endpoint = deployment.endpoints["customer-alice-control"]!
        let security = try deployment.controlSecurity("customer-alice")
        // The load blocks until alice has an answer, so it runs on its own thread and socket.
        let result = LoadResult()
        let thread = Thread {
            do {
                let context = try Context()
                let control = try ControlClient(context: context, endpoint: endpoint, security: security, timeoutMilliseconds: 20_000)
                result.answer = try control.call(["action": "load", "receiver": "chai-stall", "counts": ["50": 2, "1": 5]]).map(ControlJSON.encode)
            } catch {
                result.failure = "\(error)"
            }
            result.done.signal()
        }
        thread.start()
        deployment.processes["bank"]!.waitUntilExit()
        #expect(deployment.processes["bank"]!.terminationReason == .uncaughtSignal)
        #expect(deployment.processes["bank"]!.terminationStatus == SIGKILL)
        try deployment.restart("bank")
        #expect(result.done.wait(timeout: .now() + 30) == .success)
        let answer = try #require(result.answer.flatMap(ControlJSON.decode), "\(result.failure ?? "no answer")")
        #expect(answer["ok"] as? Bool == true, "\(answer)")
        #expect(answer["debited_paise"] as? Int == 10_500)
        let balances = try ledger(deployment)
        #expect(balances["bank:ACC-ALICE"] == 100_000 - 10_500)
        // Blind vouchers: the debit sits in the two keys' floats, and the bank knows no voucher of
        // them (it signed blind); alice unblinded both from the answer it gave after the restart.
        #expect(balances.filter { $0.key.hasPrefix("float:key:") }.values.reduce(0, +) == 10_500)
        let bankVouchers = (try deployment.control("bank").must(["action": "state"])["vouchers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(bankVouchers.isEmpty)
        #expect((answer["vouchers"] as? [String] ?? []).count == 2)
        // A further load works: the bank is serving again.
        try deployment.control("customer-alice").must(["action": "load", "receiver": "chai-stall", "counts": ["1": 3]])
        #expect(try ledger(deployment)["bank:ACC-ALICE"] == 100_000 - 10_800)
    }

    /// Garbage, truncated, oversized, unknown-type and many-frame messages at every actor's
    /// socket: each gets MALFORMED or is refused, and the actor keeps serving.
    @Test func badInputAtEverySocketIsRefusedAndTheActorKeepsServing() throws {
        let deployment = try aliceAndShop("bad-input")
        defer { deployment.stopAll() }
        let context = try Context()
        let codec = WireCodec()
        let valid = codec.encode(Envelope(requestID: RequestID(Bytes16(high: 5, low: 5)), body: .bankBalance(try AccountID("ACC-ALICE"))))
        var unknownType: [UInt8] = [0x08, 0x01, 0x12, 0x10] + [UInt8](repeating: 3, count: 16)
        unknownType += [0x9a, 0x06, 0x00]
        let malformed: [(String, [UInt8])] = [
            ("garbage", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
            ("truncated", Array(valid.prefix(valid.count - 3))),
            ("wrong version", [0x08, 0x07] + Array(valid.dropFirst(2))),
            ("unknown type", unknownType),
            ("empty", []),
        ]
        for actor in ["bank", "appserver", "nsp", "merchant-chai-stall"] {
            let socket = try context.socket(.dealer)
            try socket.setReceiveTimeout(milliseconds: 3000)
            // An authenticated peer sending garbage: the bank admits only the app server and
            // merchants, so its messages come with the app server's key.
            try deployment.clientSecurity(to: actor, as: actor == "bank" ? "appserver" : nil).secure(socket, for: deployment.endpoints[actor]!)
            try socket.connect(deployment.endpoints[actor]!)
            for (name, frame) in malformed {
                try socket.send(frame)
                let reply = try #require(try socket.receive(), "\(actor) did not answer \(name)")
                let decoded = try codec.decode(reply[0])
                guard case .error(let error) = decoded.body else { Issue.record("\(actor) answered \(name) with \(decoded.body.typeName)"); continue }
                #expect(error.code == .malformed, "\(actor), \(name)")
            }
            // A message of three frames is refused without an answer; an oversized one cuts the
            // connection (libzmq's maximum message size). Neither stops the actor.
            try socket.send(multipart: [[1], [2], [3]])
            try socket.send([UInt8](repeating: 0x0a, count: ProtocolLimits.defaultMaximumFrameBytes + 100))
            socket.close()
            let health = try deployment.control(actor).must(["action": "health"])
            #expect(health["ok"] as? Bool == true, "\(actor) stopped serving")
        }
        // And the bank still answers real requests on its socket.
        let bank = try Requester(context: context, endpoint: deployment.endpoints["bank"]!, security: try deployment.clientSecurity(to: "bank", as: "appserver"))
        #expect(try bank.request(.bankBalance(try AccountID("ACC-ALICE"))) == .balanceReply(Balances(bank: Amount(paise: 100_000), quickPay: .zero)))
        for process in deployment.processes.values { #expect(process.isRunning) }
    }
}

final class LoadResult: @unchecked Sendable {
    var answer: [UInt8]?
    var failure: String?
    let done = DispatchSemaphore(value: 0)
}

import QuickPayScenario

@Suite(.serialized) struct ScenarioRunnerTests {
    /// The runner drives actors it did not start, found by the addresses of a deployment file.
    @Test func runnerDrivesActorsAtGivenAddresses() throws {
        let deployment = try ActorDeployment(
            runFolder: runFolder("remote"), binFolder: binFolder(),
            customers: [
                .init(name: "alice", phone: "+919800000001", account: "ACC-ALICE", deposit: 1000),
                .init(name: "chai-stall", phone: "+919700000001", account: "ACC-CHAI", deposit: 0),
            ],
            merchants: [.init(id: "chai-stall", account: "ACC-CHAI", mode: .offline)], passwordRounds: 1000)
        defer { deployment.stopAll() }
        try deployment.waitUntilHealthy()
        var file = "keys: \(deployment.runFolder)/keys\nactors:\n"
        for name in ["bank", "appserver", "nsp", "merchant-chai-stall", "customer-alice", "customer-chai-stall"] {
            let endpoint = deployment.endpoints[name].map { "endpoint: \"\($0)\", " } ?? ""
            file += "  \(name): {\(endpoint)control: \"\(deployment.endpoints["\(name)-control"]!)\"}\n"
        }
        let path = deployment.runFolder + "/deployment.yaml"
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        let scenarioPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scenarios/flows/smoke.yaml").path
        let runner = ScenarioRunner(binFolder: binFolder(), runsFolder: deployment.runFolder + "/runs", passwordRounds: 1000)
        runner.remoteDeployment = path
        var printed: [String] = []
        runner.print = { printed.append($0) }
        let result = runner.run(try #require(try Scenario.load(scenarioPath).first))
        #expect(result.passed, "\(printed.joined(separator: "\n"))")
        #expect(result.steps.count == 8)
        // The actors were the deployment's own: its bank holds the result.
        #expect(try ledger(deployment)["qp:ACC-CHAI"] == 1500)
    }
}
