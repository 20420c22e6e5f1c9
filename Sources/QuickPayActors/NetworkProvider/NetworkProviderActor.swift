import QuickPayCore
import QuickPayProtocol

/// A fault a scenario sets for the next SMS the network provider takes.
public enum SmsFault: Sendable, Equatable {
    case drop
    case hold
    case duplicate
    /// Deliver it to the device of another phone.
    case misroute(PhoneNumber)
    /// Deliver it this many seconds late.
    case delay(seconds: Int64)
}

/// The mobile network: it takes SMS from the app server and delivers each to the device that
/// attached for the phone number (a device attaches by sending DeviceAttach from its socket).
/// Every SMS waits in a bounded, durable queue until the phone's device acknowledges it (an
/// Ack under the SMS's id); a device that attaches gets every SMS still queued for its phone.
/// SmsAccepted goes back only after the SMS is committed.
public struct NetworkProviderActor: ServerActor {
    public typealias Batch = NetworkProviderBatch
    public static let role = ActorRole.networkProvider
    public static let maximumQueuedPerPhone = 32
    /// The report shows the most recent SMS only.
    public static let reportLimit = 1000
    let store: any NetworkProviderStore
    var devices: [PhoneNumber: ClientID] = [:]
    var random: any RandomNumberGenerator
    /// Applied to the next SMS, then cleared.
    public var nextFault: SmsFault?
    /// SMS held by a fault until released, or until a delay is over (a fault's state: not kept
    /// across a restart).
    public private(set) var held: [(sms: SmsDelivery, due: Timestamp?)] = []
    /// Who may submit SMS (the app server); any device may attach. nil (a plaintext
    /// `--insecure` deployment): submitters are not authenticated.
    let callers: CallerPolicy?

    public init(store: any NetworkProviderStore, random: any RandomNumberGenerator, callers: CallerPolicy? = nil) {
        self.store = store
        self.random = random
        self.callers = callers
    }

    public func report() throws -> [SmsRecord] { try store.report(limit: Self.reportLimit) }

    /// A retried SmsSubmit (the app server's, same id) gets the first answer and sends no second SMS.
    public func idempotency(of body: Body) -> IdempotencyPolicy? {
        if case .smsSubmit = body { return .retried(.caller) }
        return nil
    }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<NetworkProviderBatch> {
        answering(envelope, to: client) {
            switch envelope.body {
            case .deviceAttach(let phone):
                devices[phone] = client
                // Every SMS not yet acknowledged goes (again) to the device that attached.
                var outputs: [Output] = [.reply(to: client, envelope.reply(.ack))]
                for sms in try store.queued(for: phone) { outputs.append(push(sms, to: client)) }
                return Step(outputs: outputs)
            case .smsSubmit(let submit):
                try callers?.requireAppServer(client, for: envelope.body.typeName)
                let sms = SmsDelivery(smsID: .random(using: &random), phone: submit.phone, text: submit.text)
                let fault = nextFault
                nextFault = nil
                var batch = NetworkProviderBatch()
                var outputs: [Output] = []
                switch fault {
                case .drop?:
                    batch.records = [SmsRecord(smsID: sms.smsID, phone: sms.phone, delivered: false, fault: "dropped")]
                case .hold?:
                    held.append((sms, nil))
                    batch.records = [SmsRecord(smsID: sms.smsID, phone: sms.phone, delivered: false, fault: "held")]
                case .delay(let seconds)?:
                    held.append((sms, now.adding(seconds: seconds)))
                    batch.records = [SmsRecord(smsID: sms.smsID, phone: sms.phone, delivered: false, fault: "delayed \(seconds) s")]
                case .misroute(let other)?:
                    batch.records = [SmsRecord(smsID: sms.smsID, phone: sms.phone, delivered: false, fault: "misrouted to \(other)")]
                    if let device = devices[other] { outputs.append(push(sms, to: device)) }
                case .duplicate?:
                    outputs = try deliver(sms, into: &batch, fault: "duplicated")
                    if let device = devices[sms.phone] { outputs.append(push(sms, to: device)) }
                case nil:
                    guard try store.queued(for: sms.phone).count < Self.maximumQueuedPerPhone else {
                        throw QuickPayError(.overloaded, "too many undelivered SMS for this phone")
                    }
                    outputs = try deliver(sms, into: &batch, fault: nil)
                }
                return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(.smsAccepted(smsID: sms.smsID)))] + outputs)
            case .ack:
                // A device acknowledges an SMS (the push's request id is the SMS id): delivered.
                let smsID = envelope.requestID.raw
                guard let phone = devices.first(where: { $0.value == client })?.key,
                    try store.queued(for: phone).contains(where: { $0.smsID == smsID })
                else { return .none }
                var batch = NetworkProviderBatch()
                batch.delivered = [smsID]
                return Step(commit: batch, label: "sms_delivered")
            default:
                throw QuickPayError(.malformed, "the network provider does not take \(envelope.body.typeName)")
            }
        }
    }

    /// An SMS to a device, under its SMS id: the device's acknowledgement names it.
    func push(_ sms: SmsDelivery, to device: ClientID) -> Output {
        .push(to: device, Envelope(requestID: RequestID(sms.smsID), body: .smsDelivery(sms)))
    }

    /// Queues an SMS until its phone's device acknowledges it, and pushes it to the device if
    /// one is attached. A push is sent only once the queue entry is durable, and the entry
    /// leaves the queue only on the device's acknowledgement: a crash between the two, or a
    /// device that went away, loses no code (the phone gets it again when it attaches).
    mutating func deliver(_ sms: SmsDelivery, into batch: inout NetworkProviderBatch, fault: String?) throws -> [Output] {
        batch.enqueue.append(sms)
        batch.records.append(SmsRecord(smsID: sms.smsID, phone: sms.phone, delivered: false, fault: fault))
        guard let device = devices[sms.phone] else { return [] }
        return [push(sms, to: device)]
    }

    /// Delivers every held SMS now (or queues it for its phone).
    public mutating func releaseHeld() -> Step<NetworkProviderBatch> {
        let waiting = held.map(\.sms)
        held = []
        return release(waiting)
    }

    /// Delivers delayed SMS whose time has come.
    public mutating func tick(now: Timestamp) -> Step<NetworkProviderBatch> {
        let due = held.filter { $0.due.map { $0 <= now } ?? false }.map(\.sms)
        guard !due.isEmpty else { return .none }
        held.removeAll { $0.due.map { $0 <= now } ?? false }
        return release(due)
    }

    mutating func release(_ messages: [SmsDelivery]) -> Step<NetworkProviderBatch> {
        var batch = NetworkProviderBatch()
        var outputs: [Output] = []
        for sms in messages {
            // Queued like any SMS (until the device acknowledges it), pushed if a device is there.
            batch.enqueue.append(sms)
            if let device = devices[sms.phone] { outputs.append(push(sms, to: device)) }
        }
        return Step(commit: batch, outputs: outputs, label: "sms_release")
    }
}
