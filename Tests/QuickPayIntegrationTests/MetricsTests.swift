import Foundation
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import QuickPayTestbed
import Testing

/// `--metrics` on real processes: every listed series answers over HTTP, and a request is
/// counted by its type and outcome.
@Suite(.serialized) struct MetricsTests {
    @Test func everyActorServesTheListedSeries() throws {
        let deployment = try ActorDeployment(
            runFolder: runFolder("metrics"), binFolder: binFolder(), customers: [.init(name: "alice", phone: "+919800000001", account: "ACC-ALICE", deposit: 10)],
            merchants: [.init(id: "chai-stall", account: "ACC-CHAI", mode: .offline)], passwordRounds: 1000, launch: false)
        deployment.metrics = true
        defer { deployment.stopAll() }
        try deployment.launchAll()
        try deployment.waitUntilHealthy()
        #expect(Set(deployment.metricsEndpoints.keys) == ["bank", "appserver", "nsp", "merchant-chai-stall"])

        // One frame the merchant must refuse (a body it does not take) and one it cannot read.
        let merchant = deployment.endpoints["merchant-chai-stall"]!
        let security = try deployment.clientSecurity(to: "merchant-chai-stall")
        let modeQuery = WireCodec().encode(Envelope(requestID: RequestID(Bytes16(high: 9, low: 9)), body: .modeQuery(try ReceiverID("chai-stall"))))
        let refused = try sendRaw(context: deployment.context, endpoint: merchant, hex: HexCoding.encode(modeQuery), security: security)
        #expect(refused["code"] as? String == "MALFORMED")
        _ = try sendRaw(context: deployment.context, endpoint: merchant, hex: "ffff", security: security)
        // A batch of two more: counted once as a batch, and each of its requests by its type;
        // its group counts its two requests.
        func groups() throws -> (count: Double, inputs: Double) {
            let text = try httpGet(deployment.metricsEndpoints["merchant-chai-stall"]!).body
            func value(_ name: String) -> Double {
                text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? -1
            }
            return (value("quickpay_group_commit_inputs_count"), value("quickpay_group_commit_inputs_sum"))
        }
        let before = try groups()
        let items = (10...11).map { WireCodec().encode(Envelope(requestID: RequestID(Bytes16(high: 9, low: UInt64($0))), body: .modeQuery(try! ReceiverID("chai-stall")))) }
        let batch = WireCodec().encode(Envelope(requestID: RequestID(Bytes16(high: 9, low: 12)), body: .batch(items)))
        #expect(try sendRaw(context: deployment.context, endpoint: merchant, hex: HexCoding.encode(batch), security: security)["answered"] as? Bool == true)
        var after = try groups()
        for _ in 0..<100 where after.count == before.count {
            usleep(10_000)  // the group is recorded just after its answers leave
            after = try groups()
        }
        #expect(before.count >= 0 && after.count == before.count + 1, "\(before) -> \(after)")
        #expect(after.inputs == before.inputs + 2, "the batch's group counted \(after.inputs - before.inputs) inputs, not its 2 requests")

        let (status, body) = try httpGet(deployment.metricsEndpoints["merchant-chai-stall"]!)
        #expect(status == 200)
        for series in [
            "quickpay_requests_total", "quickpay_request_duration_seconds_bucket", "quickpay_group_commit_inputs_bucket",
            "quickpay_group_commit_duration_seconds_bucket", "quickpay_queue_depth{queue=\"open_requests\"}",
            "quickpay_queue_depth{queue=\"peer_requests_in_flight\"}", "quickpay_queue_depth{queue=\"worker_jobs\"}",
            "quickpay_peer_retries_total", "quickpay_refused_handshakes_total", "quickpay_reply_cache_entries",
            "quickpay_sqlite_bytes{file=\"database\"}", "quickpay_sqlite_bytes{file=\"wal\"}", "quickpay_resident_memory_bytes",
        ] {
            #expect(body.contains(series), "no \(series) in the merchant's metrics")
        }
        #expect(body.contains("quickpay_requests_total{type=\"mode_query\",outcome=\"MALFORMED\"} 3\n"))
        #expect(body.contains("quickpay_requests_total{type=\"batch\",outcome=\"OK\"} 1\n"))
        #expect(body.contains("quickpay_requests_total{type=\"unreadable\",outcome=\"MALFORMED\"} 1\n"))
        let database = body.split(separator: "\n").first { $0.hasPrefix("quickpay_sqlite_bytes{file=\"database\"}") }
        #expect((database?.split(separator: " ").last).flatMap { Double($0) } ?? 0 > 0)
        #expect(try httpGet(deployment.metricsEndpoints["merchant-chai-stall"]!, path: "/").status == 404)
        for actor in ["bank", "appserver", "nsp"] {
            let (status, text) = try httpGet(deployment.metricsEndpoints[actor]!)
            #expect(status == 200 && text.contains("quickpay_group_commit_duration_seconds"), "\(actor)'s metrics")
        }
    }
}
