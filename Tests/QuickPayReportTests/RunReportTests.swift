import Foundation
import Testing

@testable import QuickPayReport

/// A run folder written by hand (results.json and two logs) and the page built from it: the
/// failing step, a failed check, the money, the refused coin, the links, the rebuild.
struct RunReportTests {
    func folder() throws -> String {
        let run = NSTemporaryDirectory() + "report-\(UUID().uuidString)"
        let logs = "\(run)/double-spend/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(run)/double-spend/data/bank", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(run)/double-spend/data/bank/bank.sqlite", contents: Data())
        let results: [String: Any] = [
            "seconds": 1.5, "seed": 7,
            "meta": ["command": "quickpay run scenarios/attacks/01-replay.yaml --seed 7", "git_commit": "abc1234"],
            "scenarios": [[
                "name": "double-spend", "path": "scenarios/x.yaml", "passed": false, "seconds": 1.2, "final_failures": ["a final failure"],
                "steps": [
                    ["index": 1, "step": "pay alice", "action": "pay", "expected": "OK", "actual": "OK", "passed": true, "failures": [], "details": [],
                     "milliseconds": 4, "started_at": 100.0, "ledger": ["bank:ACC-A": 5000, "float:vouchers": 5000, "external:deposits": -10000],
                     "checks": [["name": "conservation", "holds": true]]],
                    ["index": 2, "step": "attack alice kind=replay", "action": "attack", "expected": "REPLAYED_COIN", "actual": "OK", "passed": false,
                     "failures": ["expected REPLAYED_COIN, got OK"], "details": [], "milliseconds": 3, "started_at": 101.0,
                     "ledger": ["bank:ACC-A": 5000, "float:vouchers": 4000, "external:deposits": -10000],
                     "checks": [["name": "conservation", "holds": false]]],
                ],
            ]],
        ]
        try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: "\(run)/results.json"))
        func line(_ time: String, _ fields: String) -> String { "{\"ts\":\"1970-01-01T00:01:\(time)Z\",\"msg\":\"message\",\(fields)}\n" }
        let customer = line("40.500000", "\"ev\":\"send\",\"peer\":\"tcp://m\",\"type\":\"payment\",\"rid\":\"aa01\"")
            + line("40.800000", "\"ev\":\"recv\",\"peer\":\"tcp://m\",\"type\":\"payment_reply\",\"rid\":\"aa01\"")
            + line("41.500000", "\"ev\":\"send\",\"peer\":\"tcp://m\",\"type\":\"payment\",\"rid\":\"aa02\"")
            + line("41.600000", "\"ev\":\"recv\",\"peer\":\"tcp://m\",\"type\":\"error\",\"rid\":\"aa02\",\"code\":\"REPLAYED_COIN\"")
        let merchant = "{\"ts\":\"1970-01-01T00:01:30.000Z\",\"msg\":\"serving\",\"bind\":\"tcp://m\"}\n"
            + line("40.600000", "\"ev\":\"recv\",\"peer\":\"\",\"type\":\"payment\",\"rid\":\"aa01\"")
            + line("40.700000", "\"ev\":\"send\",\"peer\":\"\",\"type\":\"payment_reply\",\"rid\":\"aa01\"")
            + line("41.550000", "\"ev\":\"recv\",\"peer\":\"\",\"type\":\"payment\",\"rid\":\"aa02\"")
            + line("41.560000", "\"ev\":\"send\",\"peer\":\"\",\"type\":\"error\",\"rid\":\"aa02\",\"code\":\"REPLAYED_COIN\"")
        try customer.write(toFile: "\(logs)/customer-alice.log", atomically: true, encoding: .utf8)
        try merchant.write(toFile: "\(logs)/merchant-m.log", atomically: true, encoding: .utf8)
        return run
    }

    @Test func thePageShowsWhatTheFolderHolds() throws {
        let run = try folder()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let path = try RunReport.write(folder: run)
        let page = try String(contentsOfFile: path, encoding: .utf8)
        #expect(page.contains("0 of 1 scenarios passed"))
        #expect(page.contains("quickpay run scenarios/attacks/01-replay.yaml --seed 7"))
        #expect(page.contains("abc1234"))
        #expect(page.contains("<details class=\"scenario\" id=\"s-double-spend\" open>"), "a failed scenario opens")
        #expect(page.contains("a final failure"))
        #expect(page.contains("<tr class=\"failed attack\">"), "the failed attack step is marked")
        #expect(page.contains("expected REPLAYED_COIN, got OK"))
        #expect(page.contains("class=\"bad\""), "the failed check is red")
        #expect(page.contains("(some failed)"))
        #expect(page.contains("float:vouchers") && !page.contains(">external:deposits<"), "money without the external accounts")
        #expect(page.contains("class=\"msg refusal\""), "the refused coin is drawn")
        #expect(page.contains("REPLAYED_COIN"))
        #expect(page.contains("4 messages between 2 processes"))
        #expect(page.contains("href=\"double-spend/logs/merchant-m.log\""))
        #expect(page.contains("href=\"double-spend/data/bank/bank.sqlite\""))
        #expect(!page.contains("src=\"http") && !page.contains("href=\"http") && !page.contains("url(http"), "nothing from the network")
        // Built again from the same folder: the same page.
        #expect(try RunReport.build(folder: run) == page)
    }

    @Test func aFolderThatIsNotARunIsATypedError() {
        #expect(throws: RunReport.Failure.self) { try RunReport.build(folder: NSTemporaryDirectory() + "none-\(UUID().uuidString)") }
    }

    /// What the folder holds is data, never markup: hostile strings in the logs and results
    /// come out escaped, and two scenarios whose names map to one id get two ids.
    @Test func hostileStringsAreEscaped() throws {
        let run = NSTemporaryDirectory() + "report-hostile-\(UUID().uuidString)"
        let hostile = "x\"><script>alert(1)</script>'"
        for name in ["a.b", "a-b"] { try FileManager.default.createDirectory(atPath: "\(run)/\(name)/logs", withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(atPath: run) }
        let results: [String: Any] = [
            "seconds": 1.0, "seed": hostile, "meta": ["command": hostile],
            "scenarios": ["a.b", "a-b"].map { name -> [String: Any] in
                ["name": name, "path": hostile, "passed": false, "seconds": 1.0, "final_failures": [hostile],
                 "steps": [["index": hostile, "step": hostile, "action": "attack", "expected": hostile, "actual": hostile, "passed": false,
                            "failures": [hostile], "details": [hostile], "milliseconds": hostile, "started_at": 0.0,
                            "checks": [["name": hostile, "holds": false]]]]]
            },
        ]
        try JSONSerialization.data(withJSONObject: results).write(to: URL(fileURLWithPath: "\(run)/results.json"))
        let line = "{\"ts\":\"1970-01-01T00:00:01.000000Z\",\"msg\":\"message\",\"ev\":\"send\",\"peer\":\"\(hostile.replacingOccurrences(of: "\"", with: "\\\""))\",\"type\":\"<b>t</b>\",\"rid\":\"aa\",\"code\":\"\\\"><script>x()</script>\",\"note\":\"<i>n</i>\"}\n"
        try line.write(toFile: "\(run)/a.b/logs/<evil>.log", atomically: true, encoding: .utf8)
        let page = try RunReport.build(folder: run)
        #expect(!page.contains("<script>alert"), "a hostile string came out as markup")
        #expect(!page.contains("<script>x()"), "a hostile code came out as markup")
        #expect(!page.contains("<b>t</b>") && !page.contains("<i>n</i>"))
        #expect(page.contains("id=\"s-a-b\"") && page.contains("id=\"s-a-b-2\""))
        #expect(page.components(separatedBy: "<script>").count == 3, "only the page's own two scripts")
    }

}
