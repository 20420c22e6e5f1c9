import QuickPayCore
import QuickPayProtocol

/// The mobile network: it takes SMS from the app server and delivers each to the device that
/// attached for the phone number (a device attaches by sending DeviceAttach from its socket).
/// An SMS for a phone with no device attached waits in a bounded queue until one attaches.
/// A fault a scenario sets for the next SMS the network provider takes.
public enum SmsFault: Sendable, Equatable {
    case drop
    case hold
    case duplicate
    /// Deliver it to the device of another phone.
    case misroute(PhoneNumber)
}

public struct NetworkProviderActor: ServerActor {
    public static let maximumQueuedPerPhone = 32
    /// The report keeps the most recent SMS and faults only.
    public static let maximumLog = 10_000
    var devices: [PhoneNumber: ClientID] = [:]
    var queued: [PhoneNumber: [SmsDelivery]] = [:]
    var random: any RandomNumberGenerator
    /// Every SMS handled, for the state dump: (sms id, phone, delivered to a device?).
    public private(set) var log: [(smsID: Bytes16, phone: PhoneNumber, delivered: Bool)] = []
    /// Applied to the next SMS, then cleared.
    public var nextFault: SmsFault?
    /// SMS held by a fault until released; and what the faults did, for the report.
    public private(set) var held: [SmsDelivery] = []
    public private(set) var faults: [(smsID: Bytes16, phone: PhoneNumber, fault: String)] = []

    public init(random: any RandomNumberGenerator) { self.random = random }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> [Output] {
        switch envelope.body {
        case .deviceAttach(let phone):
            devices[phone] = client
            var outputs: [Output] = [.reply(to: client, envelope.reply(.ack))]
            for sms in queued.removeValue(forKey: phone) ?? [] {
                outputs.append(.push(to: client, Envelope(requestID: .random(using: &random), body: .smsDelivery(sms))))
                markDelivered(sms.smsID)
            }
            return outputs
        case .smsSubmit(let submit):
            trimLog()
            let sms = SmsDelivery(smsID: .random(using: &random), phone: submit.phone, text: submit.text)
            var outputs: [Output] = [.reply(to: client, envelope.reply(.smsAccepted(smsID: sms.smsID)))]
            let fault = nextFault
            nextFault = nil
            switch fault {
            case .drop?:
                faults.append((sms.smsID, sms.phone, "dropped"))
                log.append((sms.smsID, sms.phone, false))
                return outputs
            case .hold?:
                faults.append((sms.smsID, sms.phone, "held"))
                held.append(sms)
                log.append((sms.smsID, sms.phone, false))
                return outputs
            case .misroute(let other)?:
                faults.append((sms.smsID, sms.phone, "misrouted to \(other)"))
                log.append((sms.smsID, sms.phone, false))
                if let device = devices[other] {
                    outputs.append(.push(to: device, Envelope(requestID: .random(using: &random), body: .smsDelivery(sms))))
                }
                return outputs
            case .duplicate?:
                faults.append((sms.smsID, sms.phone, "duplicated"))
                outputs += deliver(sms)
                outputs += deliver(sms)
                return outputs
            case nil:
                guard !isQueueFull(sms.phone) else {
                    return [.reply(to: client, envelope.fail(QuickPayError(.overloaded, "too many undelivered SMS for this phone")))]
                }
                return outputs + deliver(sms)
            }
        case .ack:
            return []
        default:
            return [.reply(to: client, envelope.fail(QuickPayError(.malformed, "the network provider does not take \(envelope.body.typeName)")))]
        }
    }

    func isQueueFull(_ phone: PhoneNumber) -> Bool {
        devices[phone] == nil && (queued[phone]?.count ?? 0) >= Self.maximumQueuedPerPhone
    }

    /// Pushes an SMS to the phone's device, or queues it until one attaches.
    mutating func deliver(_ sms: SmsDelivery) -> [Output] {
        if let device = devices[sms.phone] {
            log.append((sms.smsID, sms.phone, true))
            return [.push(to: device, Envelope(requestID: .random(using: &random), body: .smsDelivery(sms)))]
        }
        queued[sms.phone, default: []].append(sms)
        log.append((sms.smsID, sms.phone, false))
        return []
    }

    /// Delivers every held SMS now.
    public mutating func releaseHeld() -> [Output] {
        let release = held
        held = []
        var outputs: [Output] = []
        for sms in release {
            if let index = log.firstIndex(where: { $0.smsID == sms.smsID }) { log.remove(at: index) }
            outputs += deliver(sms)
        }
        return outputs
    }

    mutating func trimLog() {
        if log.count > Self.maximumLog { log.removeFirst(log.count - Self.maximumLog) }
        if faults.count > Self.maximumLog { faults.removeFirst(faults.count - Self.maximumLog) }
    }

    mutating func markDelivered(_ id: Bytes16) {
        if let index = log.firstIndex(where: { $0.smsID == id }) { log[index].delivered = true }
    }
}
