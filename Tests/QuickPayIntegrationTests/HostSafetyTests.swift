import Foundation
import QuickPayActors
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import QuickPayTestbed
import Testing
import ZeroMQ

/// What a production deployment refuses: a merchant in another mode than the bank holds, and
/// the testing controls (crash points, clock shifts, SMS faults) of a deployment not started
/// for testing.
@Suite(.serialized) struct HostSafetyTests {
    /// Defect 6: a merchant told `--mode offline` while the bank holds it online does not start
    /// (an unload would refund the coins it takes); without `--mode` it takes the bank's.
    @Test func aMerchantWhoseModeContradictsTheBankDoesNotStart() throws {
        let deployment = try ActorDeployment(
            runFolder: runFolder("mode"), binFolder: binFolder(), customers: [],
            merchants: [.init(id: "chai-stall", account: "ACC-CHAI", mode: .offline, bankMode: .online)], passwordRounds: 1000)
        defer { deployment.stopAll() }
        #expect(throws: (any Error).self) { try deployment.waitUntilHealthy(timeoutSeconds: 10) }
        let merchant = try #require(deployment.processes["merchant-chai-stall"])
        merchant.waitUntilExit()
        #expect(merchant.terminationStatus != 0)
        let log = try String(contentsOfFile: "\(deployment.runFolder)/logs/merchant-chai-stall.log", encoding: .utf8)
        #expect(log.contains("--mode offline, but the bank holds online"), "\(log)")
    }

    @Test func testingControlsNeedATestingDeployment() throws {
        let folder = runFolder("production")
        let control = "tcp://127.0.0.1:\(try freePort())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binFolder())/qp-nsp")
        // A provider with no SIMs yet (an empty SIM file, private as the provider requires).
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        FileManager.default.createFile(atPath: "\(folder)/sims", contents: Data(), attributes: [.posixPermissions: 0o600])
        process.arguments = ["--insecure", "--bind", "tcp://127.0.0.1:\(try freePort())", "--control", control, "--data-dir", "\(folder)/nsp", "--sims", "\(folder)/sims"]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let client = try ControlClient(context: try Context(), endpoint: control, security: .plaintext)
        var health: JSONObject?
        for _ in 0..<50 where health == nil {
            health = try client.call(["action": "health"])
            if health == nil { usleep(100_000) }
        }
        #expect(health?["testing"] as? Bool == false)
        for request: JSONObject in [["action": "crash", "point": "after-commit:sms_submit"], ["action": "clock", "advance_seconds": 10], ["action": "sms-fault", "fault": "drop"]] {
            let answer = try #require(try client.call(request))
            #expect(answer["code"] as? String == "FORBIDDEN", "\(request)")
        }
    }

    func freePort() throws -> Int {
        let socket = try Context().socket(.router)
        try socket.bind("tcp://127.0.0.1:*")
        defer { socket.close() }
        return Int(try socket.lastEndpoint().split(separator: ":").last!)!
    }
}
