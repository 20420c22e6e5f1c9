import Foundation
import QuickPayCore
import SwiftProtobuf

/// One QuickPay message: the request id that makes it idempotent (a reply echoes it) and a body.
public struct Envelope: Hashable, Sendable {
    public var requestID: RequestID {
        didSet { canonicalBytes = nil }
    }
    public var body: Body {
        didSet { canonicalBytes = nil }
    }
    /// The frame this envelope was decoded from, which the codec checked is its canonical
    /// encoding: kept so that digesting a request does not encode it again. Not part of equality.
    public private(set) var canonicalBytes: [UInt8]?

    public init(requestID: RequestID, body: Body) {
        self.requestID = requestID
        self.body = body
    }

    init(requestID: RequestID, body: Body, canonicalBytes: [UInt8]) {
        self.requestID = requestID
        self.body = body
        self.canonicalBytes = canonicalBytes
    }

    public static func == (a: Envelope, b: Envelope) -> Bool { a.requestID == b.requestID && a.body == b.body }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(requestID)
        hasher.combine(body)
    }
}

/// Frames <-> envelopes, strictly: a frame over the size limit, one that does not parse, one of
/// another version, one without a known body, or one with any field out of its rule is answered
/// with MALFORMED and never reaches an actor.
public struct WireCodec: Sendable {
    public let maximumFrameBytes: Int

    public init(maximumFrameBytes: Int = ProtocolLimits.defaultMaximumFrameBytes) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    public func encode(_ envelope: Envelope) -> [UInt8] {
        // A steady payment, its answer, an online merchant's verification and its answer, and
        // the batches that carry them, by hand (the same bytes).
        switch envelope.body {
        case .paymentReply(let reply): if let frame = HotPath.paymentReply(envelope.requestID, reply) { return frame }
        case .payment(let payment): if let frame = HotPath.payment(envelope.requestID, payment) { return frame }
        case .verifyCoins(let verify): if let frame = HotPath.verifyCoins(envelope.requestID, verify) { return frame }
        case .verifyCoinsReply(let credited): return HotPath.verifyCoinsReply(envelope.requestID, credited: credited)
        case .batch(let frames): return HotPath.batch(envelope.requestID, frames, reply: false)
        case .batchReply(let frames): return HotPath.batch(envelope.requestID, frames, reply: true)
        default: break
        }
        var wire = Quickpay_V1_Envelope()
        wire.version = ProtocolLimits.version
        wire.requestID = Data(envelope.requestID.raw)
        wire.body = envelope.body.wire
        // Serialising a message built from validated values cannot fail.
        return try! wire.serializedBytes()
    }

    public func decode(_ frame: some Collection<UInt8>) throws(QuickPayError) -> Envelope {
        // A steady payment (coins only), its answer, a verification of coins only and its
        // answer, a batch, by hand, when the frame is exactly their canonical bytes.
        let bytes = Array(frame)
        if bytes.count <= maximumFrameBytes,
            let envelope = HotPath.payment(bytes) ?? HotPath.paymentReply(bytes) ?? HotPath.verifyCoins(bytes) ?? HotPath.verifyCoinsReply(bytes)
                ?? HotPath.batch(bytes)
        {
            return envelope
        }
        let wire = try parse(bytes)
        guard wire.version == ProtocolLimits.version else {
            throw QuickPayError(.malformed, "envelope version \(wire.version) is not \(ProtocolLimits.version)")
        }
        let requestID = RequestID(try WireField.bytes16(wire.requestID, "request_id"))
        guard let body = wire.body else {
            throw QuickPayError(.malformed, "envelope carries no known message type")
        }
        // Protobuf keeps the last of repeated fields silently (two bodies, two request ids).
        // A frame whose canonical re-encoding is shorter carried such duplicates or padded
        // varints: refuse it rather than guess which part the sender meant.
        guard let canonical = try? wire.serializedBytes() as [UInt8], canonical.count == bytes.count else {
            throw QuickPayError(.malformed, "frame is not canonical (a duplicated field or padded encoding)")
        }
        // Fields in another order are fine; the envelope then keeps the canonical bytes.
        return Envelope(requestID: requestID, body: try Body(wire: body), canonicalBytes: canonical)
    }

    /// The request id of a frame whose body may be broken, so a MALFORMED reply can echo it.
    public func requestID(of frame: some Collection<UInt8>) -> RequestID? {
        guard let wire = try? parse(frame), let raw = Bytes16(wire.requestID) else { return nil }
        return RequestID(raw)
    }

    private func parse(_ frame: some Collection<UInt8>) throws(QuickPayError) -> Quickpay_V1_Envelope {
        guard frame.count <= maximumFrameBytes else {
            throw QuickPayError(.malformed, "frame of \(frame.count) bytes is over the \(maximumFrameBytes)-byte limit")
        }
        do {
            return try Quickpay_V1_Envelope(serializedBytes: Array(frame))
        } catch {
            throw QuickPayError(.malformed, "frame is not a QuickPay envelope (\(error))")
        }
    }
}
