import Foundation
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// A client's blocking request/reply over a DEALER (the zguide's Lazy Pirate): the request is
/// sent again under the same request id every `retryMilliseconds` until an answer arrives or
/// the deadline passes. Every call ends answered or `UNAVAILABLE` ("outcome unknown").
public final class Requester {
    public let socket: Socket
    public let codec = WireCodec()
    public let endpoint: String
    public var retryMilliseconds = 500
    public var deadlineMilliseconds = 5000
    /// Messages that arrived unasked on this socket (voucher notices), oldest first.
    public private(set) var pushes: [Envelope] = []
    /// Send and receive events for run reports (`QUICKPAY_TRACE_MESSAGES=1`), nil when off.
    public var trace = MessageTrace.shared

    public init(context: Context, endpoint: String, security: ClientSecurity) throws {
        self.endpoint = endpoint
        socket = try context.socket(.dealer)
        try socket.setMaximumMessageSize(bytes: transportMessageLimit(frameBytes: ProtocolLimits.defaultMaximumFrameBytes, curve: !security.isPlaintext))
        try security.secure(socket, for: endpoint)
        try socket.connect(endpoint)
    }

    public func request(_ body: Body, requestID: RequestID? = nil) throws -> Body {
        var generator = SystemRandomNumberGenerator()
        let envelope = Envelope(requestID: requestID ?? .random(using: &generator), body: body)
        return try request(envelope)
    }

    public func request(_ envelope: Envelope) throws -> Body {
        let frame = codec.encode(envelope)
        let deadline = monotonicMilliseconds() + Int64(deadlineMilliseconds)
        // Whatever is queued now answers an earlier send (a server answers every copy of a
        // retried request): it must not be taken for the answer to this one.
        try discardQueued()
        try send(frame)
        var nextRetry = monotonicMilliseconds() + Int64(retryMilliseconds)
        while true {
            let now = monotonicMilliseconds()
            if now >= deadline {
                throw QuickPayError(.unavailable, "no answer from \(endpoint) within \(deadlineMilliseconds) ms: the outcome is unknown; retry with the same request id")
            }
            if now >= nextRetry {
                try send(frame)
                nextRetry = now + Int64(retryMilliseconds)
            }
            var poller = Poller()
            poller.register(socket)
            let events = try poller.poll(timeoutMilliseconds: Int(min(deadline, nextRetry) - now))
            guard events[0].contains(.readable) else { continue }
            while let frames = try socket.receive(flags: .dontWait, maximumFrames: 1) {
                trace?.record(.recv, frames[0], peer: endpoint)
                guard let answer = try? codec.decode(frames[0]) else { continue }
                if answer.requestID == envelope.requestID { return answer.body }
                if case .voucherNotice = answer.body {
                    pushes.append(answer)
                    if pushes.count > 100 { pushes.removeFirst(pushes.count - 100) }  // keep the latest only
                }
            }
        }
    }

    func discardQueued() throws {
        while let frames = try receive() {
            if let answer = try? codec.decode(frames[0]), case .voucherNotice = answer.body {
                pushes.append(answer)
                if pushes.count > 100 { pushes.removeFirst(pushes.count - 100) }
            }
        }
    }

    /// Sends without waiting for an answer (an acknowledgement of a push).
    public func post(_ envelope: Envelope) throws { try send(codec.encode(envelope), flags: .dontWait) }

    /// Sends one frame (traced).
    public func send(_ frame: [UInt8], flags: Socket.Flags = []) throws {
        _ = try socket.send(frame, flags: flags)
        trace?.record(.send, frame, peer: endpoint)
    }

    /// Takes one waiting frame without blocking (traced), or nil.
    public func receive() throws -> [[UInt8]]? {
        guard let frames = try socket.receive(flags: .dontWait, maximumFrames: 1) else { return nil }
        trace?.record(.recv, frames[0], peer: endpoint)
        return frames
    }
}

/// A phone on the network provider: it attaches for its number with its SIM, and receives SMS.
public final class Device {
    let requester: Requester
    public let sim: SimCard
    public var phone: PhoneNumber { sim.phone }
    var inbox: [SmsDelivery] = []
    var generator = SystemRandomNumberGenerator()
    /// SMS ids already taken: a provider may send an SMS again until it hears the acknowledgement.
    var seen: Set<Bytes16> = []

    public init(context: Context, endpoint: String, sim: SimCard, security: ClientSecurity) throws {
        requester = try Requester(context: context, endpoint: endpoint, security: security)
        self.sim = sim
        try attach()
    }

    /// Proves to the network provider (again) that this connection holds the phone's SIM: it
    /// keeps the attachment in memory, so a device attaches before every login, in case it
    /// restarted.
    public func attach() throws {
        let challenge = try requester.request(.deviceAttach(phone: phone))
        guard case .attachChallenge(let open) = challenge else {
            throw QuickPayError(.unavailable, "the network provider did not challenge the device: \(challenge)")
        }
        let answer = try requester.request(.deviceAttachProof(proof(open)))
        if case .error(let error) = answer { throw error }
        guard answer == .ack else { throw QuickPayError(.unavailable, "the network provider did not take the device: \(answer)") }
    }

    /// The SIM's answer to an attach challenge (kept: the testbed's eavesdropper reads it).
    func proof(_ challenge: AttachChallenge) -> DeviceAttachProof {
        let proof = DeviceAttachProof(phone: phone, nonce: challenge.nonce, response: sim.answer(challenge.nonce))
        lastProof = proof
        return proof
    }

    /// The last answer this device sent: what someone on the radio path could have captured.
    public internal(set) var lastProof: DeviceAttachProof?

    /// Asks to attach for `phone` and answers with `proof` (made from the challenge by the
    /// caller): the attacker's attach, with a wrong SIM, none, or a captured answer.
    public func attach(as phone: PhoneNumber, proof: (AttachChallenge) -> DeviceAttachProof) throws -> Body {
        let challenge = try requester.request(.deviceAttach(phone: phone))
        guard case .attachChallenge(let open) = challenge else { return challenge }
        return try requester.request(.deviceAttachProof(proof(open)))
    }

    /// Forgets SMS that arrived before now (a login then reads only its own code).
    public func discardInbox() throws {
        inbox = []
        while let frames = try requester.receive() {
            if let envelope = try? requester.codec.decode(frames[0]), case .smsDelivery = envelope.body { try requester.post(envelope.reply(.ack)) }
        }
    }

    /// Waits up to `milliseconds` for the next SMS. The device attaches again every second
    /// meanwhile: a network provider that restarted forgot which connection holds the phone, and
    /// keeps the SMS queued until the device is back.
    public func nextSMS(milliseconds: Int, reference: String? = nil) throws -> SmsDelivery? {
        // An SMS of another login (a late one, say) is not this login's code.
        func wanted(_ sms: SmsDelivery) -> Bool { reference.map { sms.text.contains("for login \($0)") } ?? true }
        inbox.removeAll { !wanted($0) }
        if !inbox.isEmpty { return inbox.removeFirst() }
        let deadline = monotonicMilliseconds() + Int64(milliseconds)
        var nextAttach = monotonicMilliseconds() + 1000
        while monotonicMilliseconds() < deadline {
            if monotonicMilliseconds() >= nextAttach {
                try requester.post(Envelope(requestID: .random(using: &generator), body: .deviceAttach(phone: phone)))
                nextAttach = monotonicMilliseconds() + 1000
            }
            var poller = Poller()
            poller.register(requester.socket)
            let events = try poller.poll(timeoutMilliseconds: Int(max(0, min(deadline, nextAttach) - monotonicMilliseconds())))
            guard events[0].contains(.readable) else { continue }
            while let frames = try requester.receive() {
                guard let envelope = try? requester.codec.decode(frames[0]) else { continue }
                if case .attachChallenge(let challenge) = envelope.body {
                    try requester.post(Envelope(requestID: .random(using: &generator), body: .deviceAttachProof(proof(challenge))))
                    continue
                }
                guard case .smsDelivery(let sms) = envelope.body else { continue }
                try requester.post(envelope.reply(.ack))
                if seen.insert(sms.smsID).inserted && wanted(sms) { inbox.append(sms) }
            }
            if !inbox.isEmpty { return inbox.removeFirst() }
        }
        return nil
    }

    /// The 6-digit code in an SMS from the app server ("QuickPay code 123456. ...").
    public static func code(in sms: SmsDelivery) throws -> OneTimeCode {
        let digits = sms.text.split(whereSeparator: { !$0.isNumber }).first.map(String.init) ?? ""
        return try OneTimeCode(digits)
    }
}
