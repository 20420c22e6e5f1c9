import Foundation
import Testing

@testable import QuickPayReport

/// A load run folder written by hand and its page: the figures, the worst second, errors.
struct LoadReportTests {
    @Test func thePageShowsTheRun() throws {
        let folder = NSTemporaryDirectory() + "load-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result: [String: Any] = [
            "name": "one-merchant", "file": "scenarios/load/one-merchant.yaml", "customers": 40, "merchants": [["id": "chai-stall", "mode": "offline"]],
            "seconds": 2.0, "warmup_seconds": 1.0, "offered": 16000, "accepted": 15990, "offered_per_second": 8000.0, "accepted_per_second": 7995.0,
            "pacing": ["open_loop_rate": 8000.0], "transport": "CURVE", "errors": ["UNANSWERED": 10], "invariant_failures": [],
            "baseline": ["fdatasync_us": 60.5], "ratios": ["single_p50_over_reqrep_round_trip": 2.5],
            "latency_by_type": ["single": ["offered": 16000, "accepted": 15990, "p50_us": 400, "p90_us": 900, "p99_us": 6800, "p99_9_us": 9000, "max_us": 12000]],
            "timeline": [["second": 0, "ok": 8000, "errors": 0, "p50_us": 390, "p99_us": 4100, "max_us": 9000],
                         ["second": 1, "ok": 7990, "errors": 10, "p50_us": 410, "p99_us": 7300, "max_us": 12000]],
            "memory_kib": [["second": 0.0, "actor": "merchant-chai-stall", "kib": 40000], ["second": 1.0, "actor": "merchant-chai-stall", "kib": 41000]],
            "client_receipt_checks": ["receipts": 15990, "payments": 15990, "microseconds_per_payment": 0.7],
        ]
        try JSONSerialization.data(withJSONObject: result).write(to: URL(fileURLWithPath: "\(folder)/result.json"))
        try "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><text>percentiles</text></svg>".write(toFile: "\(folder)/latency.svg", atomically: true, encoding: .utf8)
        try "quickpay_requests_total 1\n".write(toFile: "\(folder)/metrics-merchant-chai-stall.txt", atomically: true, encoding: .utf8)
        let page = try String(contentsOfFile: try LoadReport.write(folder: folder), encoding: .utf8)
        #expect(page.contains("QuickPay load run: one-merchant"))
        #expect(page.contains("open loop at 8000/s"))
        #expect(page.contains("Worst per-second p99: <b>7.30 ms</b>"))
        #expect(page.contains("UNANSWERED") && page.contains(">10<"))
        #expect(page.contains("0.7 µs per payment"))
        #expect(page.contains("<text>percentiles</text>") && !page.contains("<?xml"), "the percentile curves inlined")
        #expect(page.contains("merchant-chai-stall"), "memory per actor")
        #expect(page.contains("href=\"metrics-merchant-chai-stall.txt\""))
        #expect(page.contains("ratio single_p50_over_reqrep_round_trip"))
    }
}
