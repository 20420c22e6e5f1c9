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
/// proved it holds the phone's SIM. A device attaches in two steps: DeviceAttach names the phone
/// and gets a one-time challenge for this connection; DeviceAttachProof answers it with the SIM
/// (`SimCard.answer`). The SIM secrets come from the deployment's key ceremony (the provider's
/// key file, never its database); a SIM swap is an operator action, logged.
/// Every SMS waits in a bounded, durable queue, sealed to the phone's SIM, until the phone's
/// device acknowledges it (an Ack under the SMS's id); a device that attaches gets every SMS
/// still queued for its phone. SmsAccepted goes back only after the SMS is committed.
public struct NetworkProviderActor: ServerActor {
    public typealias Batch = NetworkProviderBatch
    public static let role = ActorRole.networkProvider
    public static let maximumQueuedPerPhone = 32
    /// The report shows the most recent SMS only.
    public static let reportLimit = 1000
    /// How long a device has to answer its attach challenge, and how many may be open at once.
    public static let attachLifetimeSeconds: Int64 = 60
    public static let maximumAttaching = 10_000
    let store: any NetworkProviderStore
    /// The SIM of every phone this provider serves, by phone number.
    public private(set) var sims: [PhoneNumber: SimCard]
    var devices: [PhoneNumber: ClientID] = [:]
    /// Open attach challenges, by the connection they were given to (each answered at most once).
    var attaching: [ClientID: Attaching] = [:]
    var random: any RandomNumberGenerator
    /// Applied to the next SMS, then cleared.
    public var nextFault: SmsFault?
    /// SMS held by a fault until released, or until a delay is over (a fault's state: not kept
    /// across a restart).
    public private(set) var held: [(sms: SmsDelivery, due: Timestamp?)] = []
    /// Who may submit SMS (the app server); any device may attach. nil (a plaintext
    /// `--insecure` deployment): submitters are not authenticated.
    let callers: CallerPolicy?

    struct Attaching {
        let phone: PhoneNumber
        let nonce: Bytes32
        let expiresAt: Timestamp
    }

    public init(store: any NetworkProviderStore, sims: [SimCard], random: any RandomNumberGenerator, callers: CallerPolicy? = nil) {
        self.store = store
        self.sims = Dictionary(sims.map { ($0.phone, $0) }, uniquingKeysWith: { _, last in last })
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
                // A challenge whether or not the phone has a SIM here: the answer tells nothing.
                if attaching.count >= Self.maximumAttaching { attaching = attaching.filter { now < $0.value.expiresAt } }
                guard attaching.count < Self.maximumAttaching else { throw QuickPayError(.overloaded, "too many devices attaching at once; try again shortly") }
                let challenge = AttachChallenge(nonce: .random(using: &random), expiresAt: now.adding(seconds: Self.attachLifetimeSeconds))
                attaching[client] = Attaching(phone: phone, nonce: challenge.nonce, expiresAt: challenge.expiresAt)
                return .reply(to: client, envelope.reply(.attachChallenge(challenge)))
            case .deviceAttachProof(let proof):
                // One answer per challenge, right or wrong: a replayed or guessed answer finds none.
                let waiting = attaching.removeValue(forKey: client)
                guard let waiting, waiting.phone == proof.phone, waiting.nonce == proof.nonce, now < waiting.expiresAt,
                    let sim = sims[proof.phone], sim.answer(proof.nonce) == proof.response
                else { throw QuickPayError(.authenticationFailed, "this device did not prove it holds the SIM of \(proof.phone)") }
                devices[proof.phone] = client
                // Every SMS not yet acknowledged goes (again) to the device that attached.
                var outputs: [Output] = [.reply(to: client, envelope.reply(.ack))]
                for sms in try store.queued(for: proof.phone) {
                    if let push = push(sms, to: client) { outputs.append(push) }
                }
                return Step(outputs: outputs)
            case .smsSubmit(let submit):
                try callers?.requireAppServer(client, for: envelope.body.typeName)
                guard sims[submit.phone] != nil else { throw QuickPayError(.unknownAccount, "no SIM is provisioned for \(submit.phone)") }
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
                    outputs += outputs
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

    /// An SMS to a device, under its SMS id (the device's acknowledgement names it), opened
    /// with the phone's SIM. nil if the SIM that sealed it was replaced since: the new SIM's
    /// holder does not get the old SIM's codes.
    func push(_ sms: QueuedSms, to device: ClientID) -> Output? {
        guard let text = sims[sms.phone]?.open(sms.sealed, smsID: sms.smsID) else { return nil }
        return push(SmsDelivery(smsID: sms.smsID, phone: sms.phone, text: text), to: device)
    }

    /// An SMS in hand (just submitted or released): pushed as it is, no need to open its seal.
    func push(_ sms: SmsDelivery, to device: ClientID) -> Output {
        .push(to: device, Envelope(requestID: RequestID(sms.smsID), body: .smsDelivery(sms)))
    }

    /// The SMS sealed to its phone's SIM, as the queue keeps it.
    func sealed(_ sms: SmsDelivery) throws -> QueuedSms {
        guard let sim = sims[sms.phone] else { throw QuickPayError(.unknownAccount, "no SIM is provisioned for \(sms.phone)") }
        do {
            return QueuedSms(smsID: sms.smsID, phone: sms.phone, sealed: try sim.seal(sms.text, smsID: sms.smsID))
        } catch {
            throw QuickPayError(.internal, "cannot seal an SMS: \(error)")
        }
    }

    /// Queues an SMS until its phone's device acknowledges it, and pushes it to the device if
    /// one is attached. A push is sent only once the queue entry is durable, and the entry
    /// leaves the queue only on the device's acknowledgement: a crash between the two, or a
    /// device that went away, loses no code (the phone gets it again when it attaches).
    mutating func deliver(_ sms: SmsDelivery, into batch: inout NetworkProviderBatch, fault: String?) throws -> [Output] {
        let queued = try sealed(sms)
        batch.enqueue.append(queued)
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

    /// Delivers delayed SMS whose time has come; forgets attach challenges nobody answered.
    public mutating func tick(now: Timestamp) -> Step<NetworkProviderBatch> {
        attaching = attaching.filter { now < $0.value.expiresAt }
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
            guard let queued = try? sealed(sms) else { continue }
            batch.enqueue.append(queued)
            if let device = devices[sms.phone] { outputs.append(push(sms, to: device)) }
        }
        return Step(commit: batch, outputs: outputs, label: "sms_release")
    }

    /// The operator's command (control endpoint only): a new SIM for `phone`, its first or a
    /// swap. The old SIM stops working at once: its device is detached, and SMS still queued
    /// for the phone (sealed to the old SIM) are dropped. The event is logged and kept; the
    /// secret is not (the shell writes it to the provider's key file, and hands the card out).
    public mutating func issueSim(for phone: PhoneNumber, now: Timestamp) throws -> (SimCard, Step<NetworkProviderBatch>) {
        let card = SimCard.random(for: phone, using: &random)
        var batch = NetworkProviderBatch()
        batch.simEvents = [SimEvent(phone: phone, kind: sims[phone] == nil ? "provisioned" : "swapped", at: now)]
        batch.discarded = try store.queued(for: phone).map(\.smsID)
        sims[phone] = card
        devices[phone] = nil
        attaching = attaching.filter { $0.value.phone != phone }
        held.removeAll { $0.sms.phone == phone }  // held by a testing fault: the old SIM's too
        return (card, Step(commit: batch, label: "sim_\(batch.simEvents[0].kind)"))
    }
}
