import QuickPayCore

/// The two frames of a steady payment, by hand, both ways: a payment of coins only (no voucher
/// attached, no order) and a payment reply without receipt roots. SwiftProtobuf's generic visitors cost a
/// merchant more than half of its CPU per payment on these two small messages (`bench actors`
/// profile, docs/PERFORMANCE.md); these functions read and write exactly the canonical protobuf
/// bytes of the schema, and every other frame takes SwiftProtobuf's path.
///
/// - `payment` takes a frame only if it is byte for byte the canonical encoding of a coins-only
///   payment (fields in order, lengths and varints minimal, nothing else) and every rule the
///   general decoder applies holds; otherwise nil, and the caller decodes it the general way,
///   which then gives the same refusal it always gave. So the frame is its own canonical bytes.
/// - The writers write what SwiftProtobuf would write; the reply's reader is the payment's.
///
/// `HotPathTests` holds both to SwiftProtobuf: random messages byte for byte, and mutated frames
/// (a frame taken here is one the general decoder takes, with the same envelope).
enum HotPath {
    // Tags: field number << 3 | wire type (0 varint, 2 length-delimited).
    static let versionTag: UInt8 = 0x08, requestIDTag: UInt8 = 0x12, paymentTag: UInt8 = 0x1A, paymentReplyTag: UInt8 = 0x22
    static let firstTag: UInt8 = 0x0A, secondVarintTag: UInt8 = 0x10, thirdTag: UInt8 = 0x1A, fourthVarintTag: UInt8 = 0x20
    static let secondTag: UInt8 = 0x12, verifyCoinsTag: UInt8 = 0x3A, verifyCoinsReplyTag: UInt8 = 0x42, firstVarintTag: UInt8 = 0x08
    /// Fields 90 and 91 (batch, batch reply): two-byte tags, the second byte 0x05.
    static let batchTag: UInt8 = 0xD2, batchReplyTag: UInt8 = 0xDA, batchTagEnd: UInt8 = 0x05

    /// The envelope of a coins-only payment, if `frame` is exactly its canonical encoding.
    static func payment(_ frame: [UInt8]) -> Envelope? {
        frame.withUnsafeBufferPointer { buffer -> Envelope? in
            var reader = Reader(buffer[...])
            guard let id = reader.envelope(body: paymentTag) else { return nil }
            var coins: [Coin] = []
            while !reader.atEnd {
                guard coins.count < Payment.maximumCoins, reader.byte() == firstTag, let (voucher, index, value) = reader.entry(field: "coin index") else { return nil }
                coins.append(Coin(voucherID: voucher, index: index, value: value))
            }
            guard !coins.isEmpty, let payment = try? Payment(coins: coins, vouchers: [], order: "") else { return nil }
            return Envelope(requestID: RequestID(id), body: .payment(payment), canonicalBytes: frame)
        }
    }

    /// The frame of a coins-only payment (nil for one with vouchers or an order): the wallet's
    /// and the load generator's side.
    static func payment(_ requestID: RequestID, _ payment: Payment) -> [UInt8]? {
        guard payment.vouchers.isEmpty, payment.order.isEmpty else { return nil }
        var body: [UInt8] = []
        body.reserveCapacity(payment.coins.count * 58)
        for coin in payment.coins {
            appendEntry(voucher: coin.voucherID, index: coin.index, value: coin.value, to: &body)
        }
        return envelope(requestID, tag: paymentTag, body: body)
    }

    /// The envelope of a payment reply without receipt roots, if `frame` is exactly its
    /// canonical encoding and every rule holds (the client's side).
    static func paymentReply(_ frame: [UInt8]) -> Envelope? {
        frame.withUnsafeBufferPointer { buffer -> Envelope? in
            var reader = Reader(buffer[...])
            guard let id = reader.envelope(body: paymentReplyTag) else { return nil }
            var receipts: [Receipt] = []
            var service: [UInt8] = []
            var paise: Int64 = 0
            // Fields in order: receipts (1), no receipt roots (2), service (3), amount (4).
            var next = reader.byte()
            while next == firstTag {
                guard receipts.count < Payment.maximumCoins, let (voucher, index, value) = reader.entry(field: "receipt index") else { return nil }
                receipts.append(Receipt(voucherID: voucher, index: index, value: value))
                next = reader.byte()
            }
            guard !receipts.isEmpty else { return nil }
            if next == thirdTag {
                guard let count = reader.varint(), count >= 1, count <= UInt64(PaymentReply.maximumServiceBytes), let bytes = reader.take(Int(count)) else { return nil }
                service = Array(bytes)
                next = reader.byte()
            }
            if next == fourthVarintTag {
                guard let value = reader.varint(), value != 0, let amount = try? WireField.amount(Int64(bitPattern: value), "amount_paise") else { return nil }
                paise = amount.paise
                next = reader.byte()
            }
            guard next == nil else { return nil }
            return Envelope(
                requestID: RequestID(id), body: .paymentReply(PaymentReply(receipts: receipts, receiptRoots: [], service: service, amount: Amount(paise: paise))),
                canonicalBytes: frame)
        }
    }

    /// The frame of a payment reply without receipt roots (nil for one with them).
    static func paymentReply(_ requestID: RequestID, _ reply: PaymentReply) -> [UInt8]? {
        guard reply.receiptRoots.isEmpty else { return nil }
        var body: [UInt8] = []
        body.reserveCapacity(reply.receipts.count * 56 + reply.service.count + 16)
        for receipt in reply.receipts {
            appendEntry(voucher: receipt.voucherID, index: receipt.index, value: receipt.value, to: &body)
        }
        if !reply.service.isEmpty {
            body.append(thirdTag)
            appendVarint(UInt64(reply.service.count), to: &body)
            body.append(contentsOf: reply.service)
        }
        if reply.amount.paise != 0 {
            body.append(fourthVarintTag)
            appendVarint(UInt64(bitPattern: reply.amount.paise), to: &body)
        }
        return envelope(requestID, tag: paymentReplyTag, body: body)
    }

    /// An online merchant's verification of coins only (no voucher attached), if `frame` is
    /// exactly its canonical encoding and every rule holds: the bank's side, one per payment.
    static func verifyCoins(_ frame: [UInt8]) -> Envelope? {
        frame.withUnsafeBufferPointer { buffer -> Envelope? in
            var reader = Reader(buffer[...])
            guard let id = reader.envelope(body: verifyCoinsTag) else { return nil }
            // Fields in order: receiver id (1), coins (2), no vouchers (3), mode (4).
            guard reader.byte() == firstTag, let length = reader.varint(), length >= 1, length <= UInt64(reader.remaining),
                let text = reader.take(Int(length)), let name = String(validating: text, as: UTF8.self),
                let receiverID = try? WireField.receiverID(name)
            else { return nil }
            var coins: [Coin] = []
            var next = reader.byte()
            while next == secondTag {
                guard coins.count < Payment.maximumCoins, let (voucher, index, value) = reader.entry(field: "coin index") else { return nil }
                coins.append(Coin(voucherID: voucher, index: index, value: value))
                next = reader.byte()
            }
            guard next == fourthVarintTag, let wireMode = reader.varint(), reader.atEnd,
                let mode = Quickpay_V1_MerchantMode(rawValue: Int(truncatingIfNeeded: wireMode)).flatMap({ try? WireField.mode($0) }),
                !coins.isEmpty, let payment = try? Payment(coins: coins, vouchers: [], order: "")
            else { return nil }
            return Envelope(
                requestID: RequestID(id), body: .verifyCoins(VerifyCoins(receiverID: receiverID, coins: payment.coins, vouchers: [], mode: mode)),
                canonicalBytes: frame)
        }
    }

    /// The frame of a verification of coins only (nil with vouchers): the merchant's side.
    static func verifyCoins(_ requestID: RequestID, _ verify: VerifyCoins) -> [UInt8]? {
        guard verify.vouchers.isEmpty else { return nil }
        let name = Array(verify.receiverID.value.utf8)
        var body: [UInt8] = [firstTag]
        body.reserveCapacity(name.count + verify.coins.count * 58 + 8)
        appendVarint(UInt64(name.count), to: &body)
        body.append(contentsOf: name)
        for coin in verify.coins {
            appendEntry(tag: secondTag, voucher: coin.voucherID, index: coin.index, value: coin.value, to: &body)
        }
        body.append(fourthVarintTag)
        appendVarint(UInt64(verify.mode.wire.rawValue), to: &body)
        return envelope(requestID, tag: verifyCoinsTag, body: body)
    }

    /// The bank's answer to a verification, if `frame` is exactly its canonical encoding.
    static func verifyCoinsReply(_ frame: [UInt8]) -> Envelope? {
        frame.withUnsafeBufferPointer { buffer -> Envelope? in
            var reader = Reader(buffer[...])
            guard let id = reader.envelope(body: verifyCoinsReplyTag) else { return nil }
            var paise: Int64 = 0
            if !reader.atEnd {
                // Zero is not written; a negative amount is refused there too.
                guard reader.byte() == firstVarintTag, let value = reader.varint(), value != 0, reader.atEnd,
                    let amount = try? WireField.amount(Int64(bitPattern: value), "credited_paise")
                else { return nil }
                paise = amount.paise
            }
            return Envelope(requestID: RequestID(id), body: .verifyCoinsReply(credited: Amount(paise: paise)), canonicalBytes: frame)
        }
    }

    /// The frame of the bank's answer to a verification.
    static func verifyCoinsReply(_ requestID: RequestID, credited: Amount) -> [UInt8] {
        var body: [UInt8] = []
        if credited.paise != 0 {
            body.append(firstVarintTag)
            appendVarint(UInt64(bitPattern: credited.paise), to: &body)
        }
        return envelope(requestID, tag: verifyCoinsReplyTag, body: body)
    }

    /// A batch or a batch reply (its frames as they came, each read later on its own), if
    /// `frame` is exactly its canonical encoding and holds 1 to 256 frames, none empty.
    static func batch(_ frame: [UInt8]) -> Envelope? {
        frame.withUnsafeBufferPointer { buffer -> Envelope? in
            for reply in [false, true] {
                var reader = Reader(buffer[...])
                guard let id = reader.envelope(body: reply ? batchReplyTag : batchTag, then: batchTagEnd) else { continue }
                guard let frames = reader.batchFrames() else { return nil }
                return Envelope(requestID: RequestID(id), body: reply ? .batchReply(frames) : .batch(frames), canonicalBytes: frame)
            }
            return nil
        }
    }

    /// The frame of a batch or a batch reply.
    static func batch(_ requestID: RequestID, _ frames: [[UInt8]], reply: Bool) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(frames.reduce(0) { $0 + $1.count + 3 })
        for frame in frames {
            body.append(firstTag)
            appendVarint(UInt64(frame.count), to: &body)
            body.append(contentsOf: frame)
        }
        return envelope(requestID, tag: reply ? batchReplyTag : batchTag, then: batchTagEnd, body: body)
    }

    /// A coin or a receipt (the same shape: voucher id 1, index 2, value 3) as field `tag` of
    /// its message (field 1 unless told).
    static func appendEntry(tag: UInt8 = firstTag, voucher: VoucherID, index: Int, value: Bytes32, to body: inout [UInt8]) {
        let index = UInt64(index)
        body.append(tag)
        appendVarint(UInt64(2 + 16 + (index == 0 ? 0 : 1 + varintSize(index)) + 2 + 32), to: &body)
        body.append(firstTag)
        body.append(16)
        append(voucher.raw, to: &body)
        if index != 0 {
            body.append(secondVarintTag)
            appendVarint(index, to: &body)
        }
        body.append(thirdTag)
        body.append(32)
        body.append(contentsOf: value.bytes)
    }

    static func envelope(_ requestID: RequestID, tag: UInt8, then second: UInt8? = nil, body: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [versionTag, UInt8(ProtocolLimits.version), requestIDTag, 16]
        frame.reserveCapacity(body.count + 26)
        append(requestID.raw, to: &frame)
        frame.append(tag)
        if let second { frame.append(second) }
        appendVarint(UInt64(body.count), to: &frame)
        frame.append(contentsOf: body)
        return frame
    }

    static func append(_ value: Bytes16, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value.high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value.low >> UInt64(shift))) }
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var rest = value >> 7
        while rest != 0 {
            size += 1
            rest >>= 7
        }
        return size
    }

    /// Reads a canonical encoding: every varint minimal (no padding a re-encoding would drop).
    struct Reader {
        var rest: Slice<UnsafeBufferPointer<UInt8>>
        init(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) { rest = bytes }

        var atEnd: Bool { rest.isEmpty }
        var remaining: Int { rest.count }

        mutating func byte() -> UInt8? { rest.popFirst() }

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = rest.popFirst() {
                guard shift < 64 else { return nil }
                if shift == 63 && byte > 1 { return nil }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 {
                    // A last byte of zero after others is padding: not canonical.
                    guard byte != 0 || shift == 0 else { return nil }
                    return value
                }
                shift += 7
            }
            return nil
        }

        /// The envelope's version and request id, and the header of its body field `tag`, which
        /// must run to the end of the frame: the request id.
        mutating func envelope(body tag: UInt8, then second: UInt8? = nil) -> Bytes16? {
            guard byte() == HotPath.versionTag, varint() == UInt64(ProtocolLimits.version),
                byte() == HotPath.requestIDTag, varint() == 16, let id = bytes16(),
                byte() == tag, second == nil || byte() == second, let length = varint(), length == UInt64(remaining)
            else { return nil }
            return id
        }

        /// The rest of a batch's body: 1 to 256 frames, none empty.
        mutating func batchFrames() -> [[UInt8]]? {
            var frames: [[UInt8]] = []
            while !atEnd {
                guard frames.count < Batch.maximumFrames, byte() == HotPath.firstTag, let count = varint(), count >= 1, count <= UInt64(remaining),
                    let bytes = take(Int(count))
                else { return nil }
                frames.append(Array(bytes))
            }
            return frames.isEmpty ? nil : frames
        }

        /// A coin or a receipt after its tag (the same shape: voucher id 1, index 2, value 3,
        /// each present), its index within the rule the general decoder applies.
        mutating func entry(field: String) -> (VoucherID, Int, Bytes32)? {
            guard let length = varint(), var entry = sub(length),
                entry.byte() == HotPath.firstTag, entry.varint() == 16, let voucher = entry.bytes16(),
                entry.byte() == HotPath.secondVarintTag, let index = entry.varint(), index <= UInt64(UInt32.max),
                entry.byte() == HotPath.thirdTag, entry.varint() == 32, let value = entry.bytes32(), entry.atEnd,
                let checked = try? WireField.index(UInt32(index), field)
            else { return nil }
            return (VoucherID(voucher), checked, value)
        }

        mutating func take(_ count: Int) -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard rest.count >= count else { return nil }
            let taken = rest.prefix(count)
            rest = rest.dropFirst(count)
            return taken
        }

        mutating func sub(_ length: UInt64) -> Reader? {
            guard length <= UInt64(rest.count), let taken = take(Int(length)) else { return nil }
            return Reader(taken)
        }

        mutating func bytes16() -> Bytes16? {
            guard let taken = take(16) else { return nil }
            var high: UInt64 = 0, low: UInt64 = 0
            for (position, byte) in taken.enumerated() {
                if position < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
            return Bytes16(high: high, low: low)
        }

        mutating func bytes32() -> Bytes32? {
            guard let taken = take(32) else { return nil }
            return Bytes32(taken)
        }
    }
}
