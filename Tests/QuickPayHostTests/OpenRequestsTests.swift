import QuickPayCore
@testable import QuickPayHost
import QuickPayProtocol
import Testing

/// The request metrics' bookkeeping: every request it opens is closed by its answer, a batch's
/// included, however the answers leave.
@Suite struct OpenRequestsTests {
    let client: [UInt8] = [0, 1, 2, 3, 4]
    let chai = try! ReceiverID("chai-stall")

    func query(_ n: UInt64) -> [UInt8] { frame(.modeQuery(chai), id: rid(n)) }
    func reply(_ n: UInt64) -> [UInt8] { frame(.modeReply(ModeReply(receiverID: chai, mode: .online)), id: rid(n)) }
    func refusal(_ n: UInt64) -> [UInt8] { frame(.error(QuickPayError(.unavailable, "busy")), id: rid(n)) }

    @Test func aBatchWhoseItemsAreAnsweredAloneClosesWithTheLastOfThem() {
        var open = OpenRequests()
        open.received(frame(.batch([query(1), query(2)]), id: rid(100)), from: client, at: 1_000)
        #expect(open.count == 3)
        #expect(open.answered(reply(1), to: client, at: 2_000) == [.init(type: "mode_query", outcome: "OK", nanoseconds: 1_000)])
        #expect(open.count == 2)
        #expect(
            open.answered(refusal(2), to: client, at: 5_000) == [
                .init(type: "mode_query", outcome: "UNAVAILABLE", nanoseconds: 4_000), .init(type: "batch", outcome: "OK", nanoseconds: 4_000),
            ])
        #expect(open.count == 0 && open.itemsOpen.isEmpty)
    }

    @Test func aBatchReplyClosesTheItemsItCarriesAndTheBatchTheRestLater() {
        var open = OpenRequests()
        open.received(frame(.batch([query(1), query(2), query(3)]), id: rid(100)), from: client, at: 0)
        let closed = open.answered(frame(.batchReply([reply(1), reply(2)]), id: rid(100)), to: client, at: 10)
        #expect(closed.map(\.type).sorted() == ["batch", "mode_query", "mode_query"])
        #expect(open.count == 1)
        #expect(open.answered(reply(3), to: client, at: 30) == [.init(type: "mode_query", outcome: "OK", nanoseconds: 30)])
        #expect(open.count == 0 && open.itemsOpen.isEmpty)
    }

    @Test func aBatchRefusedWholeClosesItsItems() {
        var open = OpenRequests()
        open.received(frame(.batch([query(1), query(2)]), id: rid(100)), from: client, at: 0)
        #expect(open.answered(refusal(100), to: client, at: 7) == [.init(type: "batch", outcome: "UNAVAILABLE", nanoseconds: 7)])
        #expect(open.count == 0 && open.itemsOpen.isEmpty)
    }

    @Test func anAnswerToAnotherClientOrNoRequestClosesNothing() {
        var open = OpenRequests()
        open.received(query(1), from: client, at: 0)
        #expect(open.answered(reply(1), to: [9], at: 5).isEmpty)
        #expect(open.answered(reply(2), to: client, at: 5).isEmpty)
        #expect(open.count == 1)
    }

    @Test func requestsNeverAnsweredAreSweptPastTheLimit() {
        var open = OpenRequests(limit: 4)
        for n: UInt64 in 1...4 { open.received(query(n), from: client, at: 0) }
        // Past the limit and over a minute old: the old ones go, the new one stays.
        open.received(query(5), from: client, at: OpenRequests.maximumAgeNanoseconds + 1)
        #expect(open.count == 1)
        #expect(open.answered(reply(5), to: client, at: OpenRequests.maximumAgeNanoseconds + 2).count == 1)
    }
}
