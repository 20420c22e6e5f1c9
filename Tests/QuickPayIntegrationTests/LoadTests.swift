import Foundation
@testable import QuickPayLoad
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import QuickPayScenario
import Testing
import ZeroMQ

/// `quickpay load` end to end, small: real processes over CURVE, every kind of operation.
@Suite(.serialized) struct LoadTests {
    @Test func aShortMixedLoadIsAnsweredAndLeavesTheInvariantsWhole() throws {
        let folder = runFolder("load")
        let file = folder + "-mix.yaml"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try """
            name: tiny-mix
            customers: 3
            merchants: [{id: chai-stall, mode: offline}, {id: news-stand, mode: online}]
            mix: {single: 10, multi: 4, load: 2, redeem: 1}
            open_loop: {rate: 150}
            warmup_seconds: 0.5
            seconds: 1.5
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let spec = try LoadSpec(path: file)
        #expect(spec.pacing == .open(ratePerSecond: 150))
        // The operation sequence honours the weights.
        let kinds = (0..<170).map(spec.operation)
        #expect(kinds.filter { $0 == .single }.count == 100)
        #expect(kinds.filter { $0 == .redeem }.count == 10)

        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: binFolder(), insecure: false) { _ in }
        defer { setup.deployment.stopAll() }
        let results = try LoadRunner.run(spec: spec, setup: setup, progress: false)
        #expect(results.totalErrors == 0, "\(results.errors)")
        #expect(results.totalOffered == 225, "1.5 s at 150/s")
        #expect(results.totalAccepted == results.totalOffered)
        for operation in LoadSpec.Operation.allCases {
            let figures = try #require(results.percentiles(operation), "no \(operation) measured")
            #expect(figures["p50_us"]! > 0 && figures["p50_us"]! <= figures["p99_us"]! && figures["p99_us"]! <= figures["max_us"]!)
        }
        let redemption = try LoadRunner.redeemAll(setup)
        #expect(redemption.coins > 0)
        let evidence = try #require(try Evidence.read(setup.deployment, merchants: ["chai-stall", "news-stand"]))
        #expect(evidence.source == "files")
        let failures = evidence.failures(previous: nil, expectedDepositsPaise: setup.depositedPaise)
        #expect(failures.isEmpty, "\(failures)")
        // Every merchant's coins were credited by the bank: nothing left unredeemed.
        for merchant in ["chai-stall", "news-stand"] {
            #expect(try setup.deployment.control("merchant-\(merchant)").must(["action": "state"])["unredeemed_paise"] as? Int == 0)
        }
        let json = results.json(baseline: [:], invariants: failures, extra: [:])
        #expect(JSONSerialization.isValidJSONObject(json))
        #expect(results.svg().contains("<polyline"))
    }

    /// A closed loop at an online merchant keeps `concurrency` payments at the merchant: each
    /// user's next payment goes to its own customer, whose last one was just answered, so none
    /// waits in the generator behind its customer's previous payment (it did when the next
    /// payment went round the customers in turn: the tail of the online figure was that wait).
    @Test func aClosedLoopKeepsEachCustomersPaymentsOneAfterAnother() throws {
        let (spec, folder) = try loadFile("load-closed", """
            name: tiny-closed-online
            customers: 16
            merchants: [{id: news-stand, mode: online}]
            mix: {single: 1}
            closed_loop: {concurrency: 16}
            warmup_seconds: 0.3
            seconds: 1.5
            """)
        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: binFolder(), insecure: false) { _ in }
        defer { setup.deployment.stopAll() }
        let results = try LoadRunner.run(spec: spec, setup: setup, progress: false)
        #expect(results.totalErrors == 0, "\(results.errors)")
        #expect(results.totalAccepted > 100, "\(results.totalAccepted) payments in 1.5 s")
        #expect(results.heldForTheirCustomer == 0, "\(results.heldForTheirCustomer) payments waited in the generator")
        #expect(results.closedLoopUsersStopped == 0)
        #expect(results.totalAccepted == results.totalOffered)
    }

    /// A closed loop's users: with as many users as (customer, merchant) pairs each keeps to its
    /// own pair; with fewer, each walks its share of the pairs, every pair taken in turn.
    @Test func closedLoopUsersKeepToTheirPairs() {
        for (customers, merchants) in [(64, 1), (3, 2)] {
            let users = customers * merchants
            for user in 0..<users {
                let pairs = Set((0..<10).map { own in
                    let p = LoadEngine.pair(turn: LoadEngine.closedLoopTurn(user: user, own: own, users: users), customers: customers, merchants: merchants)
                    return p.customer * merchants + p.merchant
                })
                #expect(pairs.count == 1, "user \(user) of \(users) took \(pairs.count) pairs")
            }
        }
        let walked = (0..<6).map { LoadEngine.pair(turn: LoadEngine.closedLoopTurn(user: 0, own: $0, users: 1), customers: 3, merchants: 2) }
        #expect(walked.map(\.customer) == [0, 1, 2, 0, 1, 2] && walked.map(\.merchant) == [0, 0, 0, 1, 1, 1])
    }

    /// A redemption asked for with `"wait": true` is answered once the bank has credited every
    /// coin the merchant held and the merchant has recorded it: the state read right after the
    /// answer has nothing left unredeemed (the load generator times `redeem` this way).
    @Test func aRedemptionThatWaitsIsAnsweredOnceTheBankHasCredited() throws {
        let (spec, folder) = try loadFile("load-redeem", """
            name: tiny-redeem
            customers: 4
            merchants: [{id: chai-stall, mode: offline}]
            mix: {single: 1}
            closed_loop: {concurrency: 4}
            warmup_seconds: 0.2
            seconds: 0.5
            """)
        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: binFolder(), insecure: false) { _ in }
        defer { setup.deployment.stopAll() }
        let results = try LoadRunner.run(spec: spec, setup: setup, progress: false)
        #expect(results.totalErrors == 0, "\(results.errors)")
        let control = try setup.deployment.control("merchant-chai-stall")
        let held = try #require(try control.must(["action": "state"])["unredeemed_paise"] as? Int)
        #expect(held > 0, "the merchant holds no coins to redeem")
        let answer = try control.must(["action": "redeem", "wait": true])
        #expect(answer["settled_paise"] as? Int == held)
        #expect(try control.must(["action": "state"])["unredeemed_paise"] as? Int == 0, "answered before the bank had credited the coins")
        // And in the bank's own file, not through the merchant: every coin it held is credited.
        let evidence = try #require(try Evidence.read(setup.deployment, merchants: ["chai-stall"]))
        #expect(evidence.source == "files")
        let credited = Dictionary(uniqueKeysWithValues: evidence.data.vouchers.map { ($0.id, $0.redeemedIndex) })
        let paid = evidence.data.merchants["chai-stall", default: []].filter { $0.lastIndex > 0 }
        #expect(!paid.isEmpty)
        for row in paid { #expect(credited[row.id] == row.lastIndex, "voucher \(row.id): the bank credited \(credited[row.id] ?? -1) of \(row.lastIndex)") }
        // Nothing left: answered at once.
        #expect(try control.must(["action": "redeem", "wait": true])["settled_paise"] as? Int == 0)
    }

    /// With the bank gone, a waiting redemption answers UNAVAILABLE at its deadline (before the
    /// control client gives up), nothing is lost, the control socket serves again at once, and
    /// once the bank is back a waiting redemption settles everything.
    @Test func aWaitingRedemptionWithoutTheBankIsRefusedAtItsDeadlineAndSettlesLater() throws {
        let (spec, folder) = try loadFile("load-redeem-no-bank", """
            name: tiny-redeem-no-bank
            customers: 2
            merchants: [{id: chai-stall, mode: offline}]
            mix: {single: 1}
            closed_loop: {concurrency: 2}
            warmup_seconds: 0.2
            seconds: 0.3
            """)
        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: binFolder(), insecure: false) { _ in }
        defer { setup.deployment.stopAll() }
        _ = try LoadRunner.run(spec: spec, setup: setup, progress: false)
        let control = try setup.deployment.control("merchant-chai-stall")
        let held = try #require(try control.must(["action": "state"])["unredeemed_paise"] as? Int)
        #expect(held > 0)
        setup.deployment.kill9("bank")
        // While the wait goes on, a second operator's requests are answered at once: the wait
        // holds its own answer, not the control socket. The wait is asked on a REQ socket of its
        // own, read after the other requests.
        let name = "merchant-chai-stall"
        let context = try Context()
        func requester() throws -> Socket {
            let socket = try context.socket(.request)
            try socket.setReceiveTimeout(milliseconds: 15_000)
            try setup.deployment.controlSecurity(name).secure(socket, for: control.endpoint)
            try socket.connect(control.endpoint)
            return socket
        }
        let waiting = try requester()
        let started = Date()
        _ = try waiting.send(ControlJSON.encode(["action": "redeem", "wait": true]))
        usleep(300_000)
        // Eight wait at most: of eight more, exactly one (the ninth to arrive, whichever it is)
        // is refused at once with OVERLOADED; the other seven wait, each for its own answer.
        let others = try (0..<8).map { _ in try requester() }
        for socket in others { _ = try socket.send(ControlJSON.encode(["action": "redeem", "wait": true])) }
        var answers: [Int: (answer: JSONObject, after: TimeInterval)] = [:]
        func collect(untilSeconds limit: TimeInterval) throws {
            while answers.count < others.count, Date().timeIntervalSince(started) < limit {
                var poller = Poller()
                for socket in others { poller.register(socket) }
                for (index, events) in try poller.poll(timeoutMilliseconds: 100).enumerated() where events.contains(.readable) && answers[index] == nil {
                    let answer = try #require(try others[index].receive().flatMap { ControlJSON.decode($0[0]) })
                    answers[index] = (answer, Date().timeIntervalSince(started))
                }
            }
        }
        try collect(untilSeconds: 3)
        #expect(answers.count == 1, "\(answers.count) of eight answered at once: \(answers)")
        if let ninth = answers.values.first {
            #expect(ninth.answer["code"] as? String == "OVERLOADED" && (ninth.answer["message"] as? String ?? "").contains("already wait"), "\(ninth.answer)")
        }
        let health = try control.call(["action": "health"])
        #expect(health?["ok"] as? Bool == true, "health during a waiting redeem: \(health ?? [:])")
        #expect(health?["control_requests_waiting"] as? Int == 8, "\(health ?? [:])")
        #expect(try control.call(["action": "state"])?["unredeemed_paise"] as? Int == held)
        let answeredWithin = Date().timeIntervalSince(started)
        #expect(answeredWithin < 4, "the control socket took \(answeredWithin) s to answer during a wait")
        let refused = try waiting.receive().flatMap { ControlJSON.decode($0[0]) }
        let waited = Date().timeIntervalSince(started)
        #expect(refused?["code"] as? String == "UNAVAILABLE", "\(refused ?? [:]) after \(waited) s")
        #expect(waited >= 9 && waited < 15, "answered after \(waited) s")
        try collect(untilSeconds: 15)
        let timedOut = answers.values.filter { ($0.answer["message"] as? String ?? "").contains("not done within") }
        #expect(answers.count == 8 && timedOut.count == 7, "\(answers)")
        #expect(timedOut.allSatisfy { $0.answer["code"] as? String == "UNAVAILABLE" && $0.after >= 9 }, "\(timedOut)")
        #expect(try control.must(["action": "state"])["unredeemed_paise"] as? Int == held, "the refused wait changed what the merchant holds")
        try setup.deployment.restart("bank")
        try setup.deployment.waitUntilHealthy()
        // What the refused wait started may have been settled meanwhile: this one waits for the rest.
        let settled = try #require(try control.must(["action": "redeem", "wait": true])["settled_paise"] as? Int)
        #expect(settled <= held)
        #expect(try control.must(["action": "state"])["unredeemed_paise"] as? Int == 0)
    }

    /// Twelve users redeeming at one merchant: the generator keeps eight out (what the control
    /// socket lets wait) and holds the rest, so none is refused for being the ninth. And the
    /// control socket refuses an envelope too large to hold while an answer waits.
    @Test func redeemsBeyondEightWaitInTheGenerator() throws {
        let (spec, folder) = try loadFile("load-redeem-twelve", """
            name: tiny-redeem-twelve
            customers: 2
            merchants: [{id: chai-stall, mode: offline}]
            mix: {redeem: 1}
            closed_loop: {concurrency: 12}
            warmup_seconds: 0.2
            seconds: 0.5
            """)
        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: binFolder(), insecure: false) { _ in }
        defer { setup.deployment.stopAll() }
        let results = try LoadRunner.run(spec: spec, setup: setup, progress: false)
        #expect(results.totalErrors == 0, "\(results.errors)")
        #expect(results.totalAccepted > 12)
        #expect(results.redeemsHeld > 0, "twelve users never had more than eight out")

        let name = "merchant-chai-stall"
        let endpoint = try #require(setup.deployment.endpoints["\(name)-control"])
        let dealer = try Context().socket(.dealer)
        try dealer.setReceiveTimeout(milliseconds: 5000)
        try setup.deployment.controlSecurity(name).secure(dealer, for: endpoint)
        try dealer.connect(endpoint)
        try dealer.send(multipart: [[1], [2], [3], [4], [], ControlJSON.encode(["action": "health"])])
        let frames = try #require(try dealer.receive())
        #expect(frames.count == 2 && frames[0].isEmpty, "\(frames.count) frames")
        #expect(ControlJSON.decode(frames[frames.count - 1])?["code"] as? String == "MALFORMED")
        try dealer.send(multipart: [[1], [], ControlJSON.encode(["action": "health"])])
        let fine = try #require(try dealer.receive())
        #expect(fine.count == 3 && fine[0] == [1] && ControlJSON.decode(fine[2])?["ok"] as? Bool == true)
    }

    /// A load file written into a fresh run folder, and its spec.
    func loadFile(_ name: String, _ yaml: String) throws -> (LoadSpec, String) {
        let folder = runFolder(name)
        let file = folder + ".yaml"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        return (try LoadSpec(path: file), folder)
    }
}
