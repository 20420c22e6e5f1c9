import Foundation
import QuickPayCore
import SwiftProtobuf
import Testing
@testable import QuickPayProtocol

/// The hand-written payment frames (`HotPath`) against SwiftProtobuf, the reference: the same
/// bytes out, and never a frame taken that the general decoder would read otherwise.
struct HotPathTests {
    var generator = SplitMix64(seed: 2026)

    mutating func coins(_ count: Int) -> [Coin] {
        (0..<count).map { _ in
            Coin(voucherID: .random(using: &generator), index: Int.random(in: 1...ChainLength.maximum, using: &generator), value: .random(using: &generator))
        }
    }

    /// SwiftProtobuf's bytes for an envelope (the path every other message takes).
    func reference(_ envelope: Envelope) -> [UInt8] {
        var wire = Quickpay_V1_Envelope()
        wire.version = ProtocolLimits.version
        wire.requestID = Data(envelope.requestID.raw)
        wire.body = envelope.body.wire
        return try! wire.serializedBytes()
    }

    /// The general decoder alone (parse, rules, the canonical check).
    func general(_ frame: [UInt8]) -> Envelope? {
        guard let wire = try? Quickpay_V1_Envelope(serializedBytes: frame), wire.version == ProtocolLimits.version,
            let id = Bytes16(wire.requestID), let body = wire.body, let decoded = try? Body(wire: body),
            let canonical = try? wire.serializedBytes() as [UInt8], canonical.count == frame.count
        else { return nil }
        return Envelope(requestID: RequestID(id), body: decoded)
    }

    @Test mutating func aReplyIsWrittenByteForByteAsSwiftProtobufWritesIt() throws {
        for round in 0..<2000 {
            let receipts = coins(Int.random(in: 1...Payment.maximumCoins, using: &generator)).map { Receipt(voucherID: $0.voucherID, index: $0.index, value: $0.value) }
            let serviceLength = [0, 1, 127, 128, 300, PaymentReply.maximumServiceBytes][round % 6]
            let service = (0..<serviceLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let paise = [0, 1, 127, 128, 100_000, Int64.max / 3][round % 6] + Int64(round % 3)
            let reply = PaymentReply(receipts: receipts, receiptRoots: [], service: service, amount: Amount(paise: paise))
            let envelope = Envelope(requestID: .random(using: &generator), body: .paymentReply(reply))
            let frame = try #require(HotPath.paymentReply(envelope.requestID, reply))
            #expect(frame == reference(envelope), "round \(round)")
            #expect(try WireCodec().decode(frame) == envelope)
            let read = try #require(HotPath.paymentReply(frame), "round \(round)")
            #expect(read == envelope)
            #expect(read.canonicalBytes == frame)
        }
        // With receipt roots it is not its work.
        let root = SignedReceiptCommitment.sign(
            ReceiptCommitment(voucherID: .random(using: &generator), receiverID: try ReceiverID("shop"), length: try ChainLength(10), root: .random(using: &generator)),
            with: .random(using: &generator))
        let withRoot = PaymentReply(receipts: [Receipt(voucherID: root.commitment.voucherID, index: 1, value: .zero)], receiptRoots: [root], service: [], amount: .zero)
        #expect(HotPath.paymentReply(.random(using: &generator), withRoot) == nil)
    }

    @Test mutating func aCoinsOnlyPaymentIsReadAsTheGeneralDecoderReadsIt() throws {
        for _ in 0..<2000 {
            let payment = try Payment(coins: coins(Int.random(in: 1...Payment.maximumCoins, using: &generator)))
            let envelope = Envelope(requestID: .random(using: &generator), body: .payment(payment))
            let frame = reference(envelope)
            #expect(HotPath.payment(envelope.requestID, payment) == frame)
            let fast = try #require(HotPath.payment(frame))
            #expect(fast == envelope)
            #expect(fast.canonicalBytes == frame)
            #expect(try WireCodec().decode(frame).canonicalBytes == frame)
        }
        // A voucher attached, an order, or anything else: the general path's.
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(3))
        let signer = BankSigner(privateKey: .random(using: &generator))
        let voucher = signer.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try ReceiverID("shop"), denomination: .rs1, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 2_000_000_000), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: signer.keyID))
        let coin = Coin(voucherID: voucher.id, index: 1, value: chain.element(at: 1))
        for body in [Body.payment(try Payment(coins: [coin], vouchers: [voucher])), .payment(try Payment(coins: [coin], order: "tea")), .ack] {
            #expect(HotPath.payment(reference(Envelope(requestID: .random(using: &generator), body: body))) == nil)
            #expect(HotPath.paymentReply(reference(Envelope(requestID: .random(using: &generator), body: body))) == nil)
            if case .payment(let payment) = body { #expect(HotPath.payment(.random(using: &generator), payment) == nil) }
        }
    }

    mutating func receiverID() throws -> ReceiverID {
        let allowed = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return try ReceiverID(String((0..<Int.random(in: 1...ReceiverID.maximumLength, using: &generator)).map { _ in allowed.randomElement(using: &generator)! }))
    }

    /// An online merchant's verification and the bank's answer: SwiftProtobuf's bytes out, and
    /// read back as the general decoder reads them.
    @Test mutating func aVerificationAndItsAnswerAreWrittenAndReadAsSwiftProtobufDoes() throws {
        for round in 0..<2000 {
            let payment = try Payment(coins: coins(Int.random(in: 1...Payment.maximumCoins, using: &generator)))
            let verify = VerifyCoins(receiverID: try receiverID(), coins: payment.coins, vouchers: [], mode: round % 3 == 0 ? .offline : .online)
            let envelope = Envelope(requestID: .random(using: &generator), body: .verifyCoins(verify))
            let frame = reference(envelope)
            #expect(HotPath.verifyCoins(envelope.requestID, verify) == frame, "round \(round)")
            let read = try #require(HotPath.verifyCoins(frame), "round \(round)")
            #expect(read == envelope && read.canonicalBytes == frame)
            #expect(general(frame) == envelope)

            let paise = [0, 1, 127, 128, 100_000, Int64.max / 3][round % 6] + Int64(round % 3)
            let answer = Envelope(requestID: .random(using: &generator), body: .verifyCoinsReply(credited: Amount(paise: paise)))
            let answerFrame = reference(answer)
            #expect(HotPath.verifyCoinsReply(answer.requestID, credited: Amount(paise: paise)) == answerFrame, "round \(round)")
            let readAnswer = try #require(HotPath.verifyCoinsReply(answerFrame), "round \(round)")
            #expect(readAnswer == answer && readAnswer.canonicalBytes == answerFrame)
            #expect(try WireCodec().decode(answerFrame) == answer)
            #expect(WireCodec().encode(answer) == answerFrame && WireCodec().encode(envelope) == frame)
        }
        // A voucher attached: the general path's.
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(3))
        let signer = BankSigner(privateKey: .random(using: &generator))
        let voucher = signer.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try ReceiverID("shop"), denomination: .rs1, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 2_000_000_000), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: signer.keyID))
        let withVoucher = VerifyCoins(receiverID: try ReceiverID("shop"), coins: [Coin(voucherID: voucher.id, index: 1, value: chain.element(at: 1))], vouchers: [voucher])
        #expect(HotPath.verifyCoins(.random(using: &generator), withVoucher) == nil)
        let frame = reference(Envelope(requestID: .random(using: &generator), body: .verifyCoins(withVoucher)))
        #expect(HotPath.verifyCoins(frame) == nil)
        #expect(try WireCodec().decode(frame).body == .verifyCoins(withVoucher))
    }

    mutating func frames(_ count: Int) -> [[UInt8]] {
        (0..<count).map { _ in
            (0..<[1, 2, 127, 128, 129, 300, 4000][Int.random(in: 0...6, using: &generator)]).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
    }

    /// Batches and batch replies (1 to 256 frames of any length): SwiftProtobuf's bytes out, and
    /// read back as the general decoder reads them.
    @Test mutating func aBatchIsWrittenAndReadAsSwiftProtobufDoes() throws {
        for round in 0..<300 {
            let items = frames([1, 2, 3, 20, 255, 256][round % 6])
            let envelope = Envelope(requestID: .random(using: &generator), body: round % 2 == 0 ? .batch(items) : .batchReply(items))
            let frame = reference(envelope)
            #expect(HotPath.batch(envelope.requestID, items, reply: round % 2 == 1) == frame, "round \(round)")
            #expect(WireCodec().encode(envelope) == frame)
            let read = try #require(HotPath.batch(frame), "round \(round)")
            #expect(read == envelope && read.canonicalBytes == frame)
            #expect(general(frame) == envelope)
        }
        // 257 frames, an empty frame, no frame: refused here as there.
        var too = reference(Envelope(requestID: .random(using: &generator), body: .batch(frames(256))))
        #expect(HotPath.batch(too) != nil)
        var wire = try Quickpay_V1_Envelope(serializedBytes: too)
        wire.batch.frames.append(Data([1]))
        too = try wire.serializedBytes()
        #expect(HotPath.batch(too) == nil && general(too) == nil)
        wire.batch.frames = [Data([1]), Data()]
        let empty: [UInt8] = try wire.serializedBytes()
        #expect(HotPath.batch(empty) == nil && general(empty) == nil)
        wire.batch.frames = []
        let none: [UInt8] = try wire.serializedBytes()
        #expect(HotPath.batch(none) == nil && general(none) == nil)
    }

    /// Mutated frames (a byte changed, dropped, added; cut short; two coins of one voucher; a
    /// padded varint): whatever the hand path takes, the general decoder takes the same way.
    @Test mutating func aMutatedFrameIsNeverReadOtherwiseThanTheGeneralDecoderReadsIt() throws {
        var taken = 0
        var refused = 0
        for round in 0..<100_000 {
            let entries = coins(Int.random(in: 1...3, using: &generator))
            let body: Body
            switch round % 5 {
            case 0: body = .payment(try Payment(coins: entries))
            case 1:
                body = .paymentReply(PaymentReply(
                    receipts: entries.map { Receipt(voucherID: $0.voucherID, index: $0.index, value: $0.value) }, receiptRoots: [],
                    service: Array("shop delivered Rs 1".utf8.prefix(round % 20)), amount: Amount(paise: Int64(round % 7) * 100)))
            case 2: body = .verifyCoins(VerifyCoins(receiverID: try receiverID(), coins: entries, vouchers: [], mode: round % 8 == 2 ? .offline : .online))
            case 3: body = .verifyCoinsReply(credited: Amount(paise: Int64(round % 300) * 100))
            default:
                let items = (0..<Int.random(in: 1...4, using: &generator)).map { _ in Array(coins(1)[0].value.bytes.prefix(Int.random(in: 1...32, using: &generator))) }
                body = round % 10 == 4 ? .batch(items) : .batchReply(items)
            }
            var frame = reference(Envelope(requestID: .random(using: &generator), body: body))
            let position = Int.random(in: 0..<frame.count, using: &generator)
            switch round / 5 % 5 {
            case 0: frame[position] = UInt8.random(in: 0...255, using: &generator)
            case 1: frame.remove(at: position)
            case 2: frame.insert(UInt8.random(in: 0...255, using: &generator), at: position)
            case 3: frame = Array(frame.prefix(position))
            default: frame[position] ^= 1 << UInt8.random(in: 0...7, using: &generator)
            }
            guard let fast = HotPath.payment(frame) ?? HotPath.paymentReply(frame) ?? HotPath.verifyCoins(frame) ?? HotPath.verifyCoinsReply(frame) ?? HotPath.batch(frame) else {
                refused += 1
                continue
            }
            taken += 1
            let reference = try #require(general(frame), "the hand path took a frame the general decoder refuses (round \(round))")
            #expect(fast == reference)
            #expect(fast.canonicalBytes == frame)
        }
        #expect(taken > 5000 && refused > 5000, "both outcomes exercised: \(taken) taken, \(refused) refused")
        // Two coins of one voucher, and an index of 0 or past N: refused here as there.
        let twice = Envelope(requestID: .random(using: &generator), body: .payment(try Payment(coins: [Coin(voucherID: .random(using: &generator), index: 1, value: .zero)])))
        var frame = reference(twice)
        #expect(HotPath.payment(frame) != nil)
        // The same coin bytes twice in the payment: the general path refuses (one coin per voucher).
        let coinBytes = Array(frame[(frame.count - 56)...])
        frame += coinBytes
        frame[frame.count - 56 * 2 - 1] = 112  // the payment's length
        #expect(HotPath.payment(frame) == nil)
        #expect(general(frame) == nil)
        // A padded varint (index 1 written as 0x81 0x00): not canonical anywhere.
        var padded = reference(twice)
        let indexAt = padded.count - 35
        #expect(padded[indexAt - 1] == 0x10 && padded[indexAt] == 1)
        padded[indexAt] = 0x81
        padded.insert(0x00, at: indexAt + 1)
        padded[padded.count - 58] += 1  // the coin's length
        padded[padded.count - 60] += 1  // the payment's length
        #expect(HotPath.payment(padded) == nil)
        #expect(general(padded) == nil)
        // An answer that writes a credit of zero (which is never written): not canonical.
        var zero = reference(Envelope(requestID: .random(using: &generator), body: .verifyCoinsReply(credited: .zero)))
        #expect(zero.last == 0 && HotPath.verifyCoinsReply(zero) != nil)
        zero[zero.count - 1] = 2
        zero += [HotPath.firstVarintTag, 0]
        #expect(HotPath.verifyCoinsReply(zero) == nil)
        #expect(general(zero) == nil)
        // A verification whose mode is left out (unspecified): refused here as there.
        let verify = reference(Envelope(
            requestID: .random(using: &generator), body: .verifyCoins(VerifyCoins(receiverID: try ReceiverID("shop"), coins: coins(1), vouchers: []))))
        #expect(verify[20] == HotPath.verifyCoinsTag && verify[21] < 0x80 && Int(verify[21]) == verify.count - 22)
        var modeless = Array(verify.dropLast(2))
        modeless[21] -= 2  // the body's length, after the version, the request id and the body's tag
        #expect(HotPath.verifyCoins(modeless) == nil)
        #expect(general(modeless) == nil)
    }
}
