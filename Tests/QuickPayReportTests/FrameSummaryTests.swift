import QuickPayCore
import QuickPayProtocol
import Testing

/// The wire scan that traces and metrics use agrees with the codec on every body it names.
struct FrameSummaryTests {
    let codec = WireCodec()
    let requestID = RequestID(Bytes16(high: 42, low: 7))

    @Test func typeRequestIDAndCode() {
        for body: Body in [.ack, .error(QuickPayError(.replayedCoin, "x")), .modeQuery(try! ReceiverID("chai")), .logout(SessionRequest(session: SessionToken(Bytes16(high: 1, low: 2))))] {
            let frame = codec.encode(Envelope(requestID: requestID, body: body))
            let summary = FrameSummary(frame)
            #expect(summary.type == body.typeName)
            #expect(summary.requestID == requestID.raw.bytes)
            #expect(summary.bytes == frame.count)
            if case .error(let error) = body { #expect(summary.code == error.code.name) } else { #expect(summary.code == nil) }
        }
    }

    @Test func garbageIsUnreadableNotACrash() {
        #expect(FrameSummary([0xFF, 0xFF, 0xFF]).type == "unreadable")
        #expect(FrameSummary([]).type == "unreadable")
        let frame = codec.encode(Envelope(requestID: requestID, body: .ack))
        for cut in 0..<frame.count { _ = FrameSummary(Array(frame.prefix(cut))) }
    }
}
