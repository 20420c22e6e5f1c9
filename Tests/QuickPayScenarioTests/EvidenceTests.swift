import Foundation
import QuickPayAudit
import QuickPayConfig
import Testing
@testable import QuickPayScenario

/// The runner reads evidence strictly: a dump that lacks a field fails the step, it is never
/// read as zero; and a scenario's step with a parameter its action does not take is an error.
struct EvidenceTests {
    let bank: JSONObject = [
        "ok": true, "ledger": ["bank:ACC-A": 5000, "float:vouchers": 5000, "external:deposits": -10000],
        "journal": [["external:deposits", "bank:ACC-A", 10000], ["bank:ACC-A", "float:vouchers", 5000]], "accounts": ["ACC-A", "ACC-M"],
        "phones": ["ACC-A": "+919800000001", "ACC-M": "+919700000001"],
        "receivers": [["id": "m", "account": "ACC-M", "mode": "offline"]], "blind_keys": [String: Any](),
        "vouchers": [["id": "ab", "account": "ACC-A", "receiver": "m", "denomination": 50, "length": 1, "root": "cd", "redeemed_index": 0, "state": "open", "refunded_paise": 0]],
    ]

    @Test func aCompleteDumpPassesTheAudit() throws {
        let evidence = try Evidence.parse(bank: bank, merchants: ["m": ["vouchers": [["id": "ab", "last_index": 0, "redeemed_index": 0, "closed": false, "blind": false]]]], appServer: nil)
        #expect(evidence.failures(previous: nil, expectedDepositsPaise: 10000).isEmpty)
    }

    @Test(arguments: ["redeemed_index", "refunded_paise", "state", "denomination"])
    func aVoucherFieldMissingFromTheDumpIsAFailure(_ missing: String) throws {
        var broken = bank
        var vouchers = broken["vouchers"] as! [[String: Any]]
        vouchers[0][missing] = nil
        broken["vouchers"] = vouchers
        #expect(throws: Evidence.Malformed.self) { _ = try Evidence.parse(bank: broken, merchants: [:], appServer: nil) }
    }

    @Test(arguments: ["journal", "ledger", "receivers", "accounts", "phones", "blind_keys"])
    func aTableMissingFromTheDumpIsAFailure(_ missing: String) throws {
        var broken = bank
        broken[missing] = nil
        #expect(throws: Evidence.Malformed.self) { _ = try Evidence.parse(bank: broken, merchants: [:], appServer: nil) }
    }

    @Test func aMerchantRowWithoutItsLastIndexIsAFailure() throws {
        #expect(throws: Evidence.Malformed.self) {
            _ = try Evidence.parse(bank: bank, merchants: ["m": ["vouchers": [["id": "ab", "redeemed_index": 0, "closed": false]]]], appServer: nil)
        }
    }

    @Test func aMistypedStepParameterIsAnError() throws {
        let text = """
            name: typo
            steps:
              - unload: {customer: alice, refund_rupees: 5}
            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("typo-\(UInt64.random(in: 0...UInt64.max)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ScenarioError.self) { _ = try Scenario.load(path) }
    }

    /// A refused step changes no session, but the app server's tick may delete expired ones
    /// while it runs: those do not count; a live session that vanished does.
    @Test func expiredSessionsDeletedByTheTickAreNotAChange() throws {
        func app(_ sessions: [[String: Any]]) -> JSONObject {
            ["users": [["username": "alice", "account": "ACC-A", "phone": "+919800000001", "failed_attempts": 0, "locked_until": 0]],
             "sessions": sessions, "challenges": [] as [[String: Any]]]
        }
        let expired: [String: Any] = ["username": "alice", "expires_at": 100]
        let live: [String: Any] = ["username": "alice", "expires_at": 10_000]
        let before = try Evidence.parse(bank: bank, merchants: [:], appServer: app([expired, live]))
        let tickRan = try Evidence.parse(bank: bank, merchants: [:], appServer: app([live]))
        let liveGone = try Evidence.parse(bank: bank, merchants: [:], appServer: app([expired]))
        #expect(tickRan.differences(from: before, nowSeconds: 5_000).isEmpty)
        #expect(liveGone.differences(from: before, nowSeconds: 5_000) == ["the app server's sessions"])
        #expect(tickRan.differences(from: before) == ["the app server's sessions"], "without a time every session counts")
    }

}
