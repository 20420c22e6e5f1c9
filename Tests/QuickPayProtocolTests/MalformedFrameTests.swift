import Foundation
import QuickPayCore
import Testing
@testable import QuickPayProtocol

/// The decoder answers every broken frame with MALFORMED, and never lets an invalid value through.
struct MalformedFrameTests {
    let codec = WireCodec()

    func code(of frame: [UInt8], codec: WireCodec? = nil) -> ErrorCode? {
        do {
            _ = try (codec ?? self.codec).decode(frame)
            return nil
        } catch {
            return error.code
        }
    }

    /// A valid envelope as proto, to break one field at a time.
    func validWire(_ body: Body) -> Quickpay_V1_Envelope {
        var wire = Quickpay_V1_Envelope()
        wire.version = 1
        wire.requestID = Data(repeating: 7, count: 16)
        wire.body = body.wire
        return wire
    }

    func code(of wire: Quickpay_V1_Envelope) throws -> ErrorCode? {
        code(of: try wire.serializedBytes() as [UInt8])
    }

    @Test func everyTruncationOfEveryMessageIsMalformed() throws {
        var fixtures = MessageFixtures()
        var generator = SeededGenerator(seed: 4)
        for body in try fixtures.allBodies() {
            let frame = codec.encode(Envelope(requestID: .random(using: &generator), body: body))
            for length in 0..<frame.count {
                #expect(code(of: Array(frame.prefix(length))) == .malformed, "\(body.typeName) cut to \(length) of \(frame.count) bytes")
            }
        }
    }

    @Test func oversizedFramesAreRefusedBeforeParsing() throws {
        #expect(code(of: [UInt8](repeating: 0, count: ProtocolLimits.defaultMaximumFrameBytes + 1)) == .malformed)
        var fixtures = MessageFixtures()
        let frame = codec.encode(Envelope(requestID: RequestID(Bytes16(high: 1, low: 2)), body: try fixtures.allBodies()[0]))
        let small = WireCodec(maximumFrameBytes: frame.count - 1)
        #expect(code(of: frame, codec: small) == .malformed)
        #expect(code(of: frame, codec: WireCodec(maximumFrameBytes: frame.count)) == nil)
    }

    @Test func wrongVersionIsMalformed() throws {
        for version: UInt32 in [0, 2, 255] {
            var wire = validWire(.ack)
            wire.version = version
            #expect(try code(of: wire) == .malformed)
        }
        #expect(try code(of: validWire(.ack)) == nil)
    }

    @Test func wrongLengthRequestIDIsMalformed() throws {
        for length in [0, 15, 17, 32] {
            var wire = validWire(.ack)
            wire.requestID = Data(repeating: 1, count: length)
            #expect(try code(of: wire) == .malformed)
        }
    }

    @Test func unknownOrMissingMessageTypeIsMalformed() throws {
        var frame: [UInt8] = [0x08, 0x01, 0x12, 0x10] + [UInt8](repeating: 3, count: 16)
        #expect(code(of: frame) == .malformed)
        // Field 99, length-delimited and empty: a body type this version does not know.
        frame += [0x9a, 0x06, 0x00]
        #expect(code(of: frame) == .malformed)
    }

    @Test func wrongLengthFieldsInsideABodyAreMalformed() throws {
        var fixtures = MessageFixtures()
        let payment = fixtures.coin(2)
        var base = Quickpay_V1_Payment()
        base.coins = [payment.wire]

        let breakages: [(String, (inout Quickpay_V1_Payment) -> Void)] = [
            ("coin value 31 bytes", { $0.coins[0].value = Data(repeating: 1, count: 31) }),
            ("coin value 33 bytes", { $0.coins[0].value = Data(repeating: 1, count: 33) }),
            ("voucher id 15 bytes", { $0.coins[0].voucherID = Data(repeating: 1, count: 15) }),
            ("coin index 0", { $0.coins[0].index = 0 }),
            ("coin index 1001", { $0.coins[0].index = 1001 }),
            ("no coins", { $0.coins = [] }),
            ("17 coins", { p in p.coins = (0..<17).map { n in var c = p.coins[0]; c.voucherID = Data(repeating: UInt8(n), count: 16); return c } }),
            ("two coins of one voucher", { $0.coins.append($0.coins[0]) }),
            ("order of 257 bytes", { $0.order = String(repeating: "o", count: 257) }),
        ]
        for (name, breakage) in breakages {
            var broken = base
            breakage(&broken)
            var wire = validWire(.ack)
            wire.body = .payment(broken)
            #expect(try code(of: wire) == .malformed, "\(name)")
        }
    }

    @Test func brokenVoucherFieldsAreMalformed() throws {
        let fixtures = MessageFixtures()
        let breakages: [(String, (inout Quickpay_V1_Voucher) -> Void)] = [
            ("version 2", { $0.version = 2 }),
            ("scheme unspecified", { $0.scheme = .unspecified }),
            ("scheme 2 (not yet defined)", { $0.scheme = .UNRECOGNIZED(2) }),
            ("root 31 bytes", { $0.root = Data(repeating: 1, count: 31) }),
            ("signature 63 bytes", { $0.signature = Data(repeating: 1, count: 63) }),
            ("owner key 31 bytes", { $0.ownerKey = Data(repeating: 1, count: 31) }),
            ("key id 7 bytes", { $0.keyID = Data(repeating: 1, count: 7) }),
            ("denomination 2", { $0.denomination = .UNRECOGNIZED(2) }),
            ("length 0", { $0.length = 0 }),
            ("length 1001", { $0.length = 1001 }),
            ("receiver id with a space", { $0.receiverID = "merchant a" }),
        ]
        for (name, breakage) in breakages {
            var voucher = fixtures.voucher.wire
            breakage(&voucher)
            var notice = Quickpay_V1_VoucherNotice()
            notice.voucher = voucher
            var wire = validWire(.ack)
            wire.body = .voucherNotice(notice)
            #expect(try code(of: wire) == .malformed, "\(name)")
        }
    }

    @Test func negativeAmountsAndUnknownEnumsAreMalformed() throws {
        var withdraw = Quickpay_V1_BankWithdrawRequest()
        withdraw.accountID = "ACC-1"
        withdraw.amountPaise = -100
        var wire = validWire(.ack)
        wire.body = .bankWithdraw(withdraw)
        #expect(try code(of: wire) == .malformed)

        var error = Quickpay_V1_Error()
        error.code = .UNRECOGNIZED(999)
        wire.body = .error(error)
        #expect(try code(of: wire) == .malformed)
        error.code = .unspecified
        wire.body = .error(error)
        #expect(try code(of: wire) == .malformed)

        var register = (try MessageFixtures().bodies(named: "register")).wire
        if case .register(var request) = register {
            request.role = .unspecified
            register = .register(request)
        }
        wire.body = register
        #expect(try code(of: wire) == .malformed)
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SeededGenerator(seed: 77)
        var accepted = 0
        for _ in 0..<5000 {
            let length = Int.random(in: 0...200, using: &generator)
            let frame = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if code(of: frame) == nil { accepted += 1 }
        }
        // Random bytes essentially never form a valid envelope with a valid body.
        #expect(accepted == 0)
    }

    @Test func malformedReplyCanStillEchoTheRequestID() throws {
        var wire = validWire(.ack)
        wire.version = 9
        let frame: [UInt8] = try wire.serializedBytes()
        #expect(codec.requestID(of: frame) == RequestID(Bytes16(Array(repeating: 7, count: 16))!))
        #expect(codec.requestID(of: [0xff, 0xff]) == nil)
    }
}

extension MessageFixtures {
    func bodies(named name: String) throws -> Body {
        var copy = self
        return try #require(try copy.allBodies().first { $0.typeName == name })
    }
}

/// Rules added after review: canonical frames only, VerifyCoins shaped like a payment, bounded
/// redemption batches.
struct StrictnessTests {
    let codec = WireCodec()

    @Test func aFrameWithTwoBodiesIsMalformed() throws {
        let ack = codec.encode(Envelope(requestID: RequestID(Bytes16(high: 1, low: 1)), body: .ack))
        let logout = codec.encode(Envelope(requestID: RequestID(Bytes16(high: 1, low: 1)), body: .logout(SessionRequest(session: SessionToken(Bytes16(high: 2, low: 2))))))
        // Append the body field of the second frame (after version and request id) to the first.
        let secondBody = Array(logout.dropFirst(2 + 18))
        #expect(throws: QuickPayError(.malformed, "frame is not canonical (a duplicated field or padded encoding)")) {
            _ = try codec.decode(ack + secondBody)
        }
        // A padded varint (version written as 0x81 0x00) is refused too.
        var padded = ack
        padded.replaceSubrange(1..<2, with: [0x81, 0x00])
        #expect(throws: QuickPayError.self) { _ = try codec.decode(padded) }
        #expect(try codec.decode(ack).body == .ack)
    }

    @Test func verifyCoinsMayNotCarryVouchersNoCoinSpends() throws {
        var fixtures = MessageFixtures()
        var request = Quickpay_V1_VerifyCoins()
        request.receiverID = "merchant-a"
        request.mode = .online
        request.coins = [fixtures.coin(1).wire]
        var stray = fixtures.voucher.wire
        stray.voucherID = Data(repeating: 9, count: 16)
        request.vouchers = [fixtures.voucher.wire, stray]
        var wire = Quickpay_V1_Envelope()
        wire.version = 1
        wire.requestID = Data(repeating: 1, count: 16)
        wire.body = .verifyCoins(request)
        #expect(throws: QuickPayError.self) { _ = try codec.decode(try wire.serializedBytes() as [UInt8]) }
        request.vouchers = [fixtures.voucher.wire]
        wire.body = .verifyCoins(request)
        #expect(try codec.decode(try wire.serializedBytes() as [UInt8]).body.typeName == "verify_coins")
    }

    @Test func redemptionBatchesAreBounded() throws {
        var generator = SeededGenerator(seed: 12)
        func redeem(_ count: Int) -> [UInt8] {
            let coins = (0..<count).map { _ in Coin(voucherID: .random(using: &generator), index: 5, value: .random(using: &generator)) }
            return codec.encode(Envelope(requestID: .random(using: &generator), body: .redeem(Redeem(receiverID: try! ReceiverID("m"), coins: coins))))
        }
        #expect(try codec.decode(redeem(Redeem.maximumCoins)).body.typeName == "redeem")
        #expect(throws: QuickPayError.self) { _ = try codec.decode(redeem(Redeem.maximumCoins + 1)) }
        // The largest reply the bank can owe a full batch still fits one frame.
        let rejected = (0..<Redeem.maximumCoins).map { _ in
            RedeemResult(voucherID: .random(using: &generator), credited: .zero, error: QuickPayError(.badChain, String(repeating: "x", count: 120)))
        }
        let reply = codec.encode(Envelope(requestID: .random(using: &generator), body: .redeemReply(RedeemReply(results: rejected, totalCredited: .zero))))
        #expect(reply.count < ProtocolLimits.defaultMaximumFrameBytes)
    }
}
