import Foundation
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import Testing

@testable import QuickPayReport

/// The diagram's logic on logs written by hand: matching, the Lamport order, collapsing.
struct DiagramTests {
    func event(_ actor: String, _ kind: LogEvent.Kind, _ position: Int, time: Double, peer: String = "", type: String = "", rid: String = "", code: String? = nil, bind: String? = nil) -> LogEvent {
        var event = LogEvent(actor: actor, kind: kind, position: position, time: time)
        event.peer = peer
        event.type = type
        event.requestID = rid
        event.code = code
        event.bind = bind
        return event
    }

    /// A customer pays a merchant whose clock runs 10 s behind: wall-clock order would put the
    /// merchant's receive before the customer's send; the Lamport order does not.
    @Test func causalOrderDespiteSkewedClocks() {
        let logs = RunLogs(events: [
            "merchant-m": [
                event("merchant-m", .started, 0, time: 90, bind: "tcp://m"),
                event("merchant-m", .recv, 1, time: 91, type: "payment", rid: "r1"),
                event("merchant-m", .send, 2, time: 91.1, type: "payment_reply", rid: "r1"),
            ],
            "customer-a": [
                event("customer-a", .send, 0, time: 100, peer: "tcp://m", type: "payment", rid: "r1"),
                event("customer-a", .recv, 1, time: 100.2, peer: "tcp://m", type: "payment_reply", rid: "r1"),
            ],
        ])
        let diagram = Diagram(logs: logs)
        #expect(diagram.messages.map(\.type) == ["payment", "payment_reply"])
        #expect(diagram.messages.map(\.from) == ["customer-a", "merchant-m"])
        #expect(diagram.messages.map(\.to) == ["merchant-m", "customer-a"])
        #expect(diagram.messages.allSatisfy { !$0.lost })
        #expect(diagram.messages[0].clock < diagram.messages[1].clock)
        #expect(diagram.lifelines == ["customer-a", "merchant-m"])
    }

    /// Through a fault proxy that drops the first copy: customer -> proxy (dropped), the retry
    /// customer -> proxy -> merchant; the endpoints keep the proxy's receive from matching the
    /// merchant's.
    @Test func proxiedAndDroppedMessages() {
        let logs = RunLogs(events: [
            "proxy-x": [
                event("proxy-x", .started, 0, time: 0, bind: "tcp://p"),
                event("proxy-x", .recv, 1, time: 1, type: "payment", rid: "r1"),
                event("proxy-x", .recv, 2, time: 2, type: "payment", rid: "r1"),
                event("proxy-x", .send, 3, time: 2.1, peer: "tcp://m", type: "payment", rid: "r1"),
            ],
            "merchant-m": [
                event("merchant-m", .started, 0, time: 0, bind: "tcp://m"),
                event("merchant-m", .recv, 1, time: 2.2, type: "payment", rid: "r1"),
            ],
            "customer-a": [
                event("customer-a", .send, 0, time: 0.9, peer: "tcp://p", type: "payment", rid: "r1"),
                event("customer-a", .send, 1, time: 1.9, peer: "tcp://p", type: "payment", rid: "r1"),
            ],
        ])
        var proxyLogs = logs
        proxyLogs.events["proxy-x"]![1].note = "drop"
        let diagram = Diagram(logs: proxyLogs)
        let routes = diagram.messages.map { "\($0.from)>\($0.to ?? "?")" }
        #expect(routes == ["customer-a>proxy-x", "customer-a>proxy-x", "proxy-x>merchant-m"])
        #expect(diagram.messages[0].note == "drop")
        #expect(diagram.messages.allSatisfy { !$0.lost })
        #expect(diagram.brokenPairs == 0)
    }

    /// A send nobody logged receiving is drawn as lost, toward the endpoint's owner.
    @Test func lostAndUnknownSenders() {
        let logs = RunLogs(events: [
            "bank": [event("bank", .started, 0, time: 0, bind: "tcp://b"), event("bank", .recv, 1, time: 1, type: "redeem", rid: "x")],
            "appserver": [event("appserver", .send, 0, time: 2, peer: "tcp://b", type: "bank_load", rid: "y")],
        ])
        let diagram = Diagram(logs: logs)
        #expect(diagram.messages.count == 2)
        let lost = diagram.messages.first { $0.type == "bank_load" }!
        #expect(lost.lost && lost.to == "bank")
        let unknown = diagram.messages.first { $0.type == "redeem" }!
        #expect(unknown.from == Diagram.outside && unknown.to == "bank")
    }

    /// 37 payments and their answers collapse into one pair ×37; the refused one stays apart.
    @Test func repeatedPairsCollapse() {
        var customer: [LogEvent] = []
        var merchant: [LogEvent] = [event("merchant-m", .started, 0, time: 0, bind: "tcp://m")]
        for index in 0..<38 {
            let rid = "r\(index)"
            let time = Double(index + 1)
            let refused = index == 37
            customer.append(event("customer-a", .send, customer.count, time: time, peer: "tcp://m", type: "payment", rid: rid))
            merchant.append(event("merchant-m", .recv, merchant.count, time: time + 0.1, type: "payment", rid: rid))
            merchant.append(event("merchant-m", .send, merchant.count, time: time + 0.2, type: refused ? "error" : "payment_reply", rid: rid, code: refused ? "REPLAYED_COIN" : nil))
            customer.append(event("customer-a", .recv, customer.count, time: time + 0.3, peer: "tcp://m", type: refused ? "error" : "payment_reply", rid: rid, code: refused ? "REPLAYED_COIN" : nil))
        }
        let diagram = Diagram(logs: RunLogs(events: ["customer-a": customer, "merchant-m": merchant]))
        #expect(diagram.messages.count == 76)
        let rows = diagram.rows(steps: [(index: 1, label: "pay x37", attack: false, failed: false, startedAt: 0.5), (index: 2, label: "replay", attack: true, failed: false, startedAt: 37.5)])
        let drawn = rows.compactMap { row -> Diagram.Message? in if case .message(let m) = row { m } else { nil } }
        #expect(drawn.reduce(0) { $0 + $1.count } == 76)
        #expect(drawn.map(\.count) == [37, 37, 1, 1])
        #expect(drawn.last?.code == "REPLAYED_COIN")
        // Steps land before the first row at or after their start.
        guard case .step(2, _, true, _) = rows[rows.count - 3] else {
            Issue.record("the attack step's band is not before the refused payment: \(rows)")
            return
        }
        let svg = DiagramSVG.pages(diagram, rows: rows).joined()
        #expect(svg.contains("REPLAYED_COIN"))
        #expect(svg.components(separatedBy: "class=\"msg").count - 1 == 4)
        #expect(svg.contains("class=\"msg refusal\""))
    }

    /// The trace lines the processes write are what the report reads (one format, two ends).
    @Test func traceLinesRoundTrip() throws {
        var written: [UInt8] = []
        let trace = MessageTrace(actor: "merchant-m", write: { written += $0 })
        let requestID = RequestID(Bytes16(high: 0x0102030405060708, low: 0x1112131415161718))
        let codec = WireCodec()
        trace.record(.recv, codec.encode(Envelope(requestID: requestID, body: .ack)), peer: "tcp://x")
        trace.record(.send, codec.encode(Envelope(requestID: requestID, body: .error(QuickPayError(.replayedCoin, "spent")))), note: "drop")
        let folder = NSTemporaryDirectory() + "trace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(written + Array("not json: a stack trace\n".utf8)).write(to: URL(fileURLWithPath: "\(folder)/merchant-m.log"))
        let logs = RunLogs(folder: folder)
        let events = logs.events["merchant-m"] ?? []
        #expect(logs.unreadableLines == 1)
        #expect(events.count == 2)
        #expect(events[0].kind == .recv && events[0].type == "ack" && events[0].peer == "tcp://x" && events[0].requestID == "01020304050607081112131415161718")
        #expect(events[1].kind == .send && events[1].type == "error" && events[1].code == "REPLAYED_COIN" && events[1].note == "drop")
        #expect(events[0].time > 1_700_000_000 && events[1].time >= events[0].time)
    }

    /// Five identical messages in a row are one row of x5 (a pair is tried only when the next
    /// message differs).
    @Test func identicalMessagesCollapseIntoOneRow() {
        let flood = (0..<5).map { event("runner", .send, $0, time: Double($0), peer: "tcp://b", type: "login", rid: "f\($0)") }
        let diagram = Diagram(logs: RunLogs(events: ["runner": flood, "bank": [event("bank", .started, 0, time: 0, bind: "tcp://b")]]))
        let counts = diagram.rows().compactMap { row -> Int? in if case .message(let m) = row { m.count } else { nil } }
        #expect(counts == [5])
    }

}
