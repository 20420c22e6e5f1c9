import QuickPayCore
import QuickPayProtocol

/// The mobile network: it takes SMS from the app server and delivers each to the device that
/// attached for the phone number (a device attaches by sending DeviceAttach from its socket).
/// An SMS for a phone with no device attached waits in a bounded queue until one attaches.
public struct NetworkProviderActor: ServerActor {
    public static let maximumQueuedPerPhone = 32
    var devices: [PhoneNumber: ClientID] = [:]
    var queued: [PhoneNumber: [SmsDelivery]] = [:]
    var random: any RandomNumberGenerator
    /// Every SMS handled, for the state dump: (sms id, phone, delivered to a device?).
    public private(set) var log: [(smsID: Bytes16, phone: PhoneNumber, delivered: Bool)] = []

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
            let sms = SmsDelivery(smsID: .random(using: &random), phone: submit.phone, text: submit.text)
            var outputs: [Output] = [.reply(to: client, envelope.reply(.smsAccepted(smsID: sms.smsID)))]
            if let device = devices[submit.phone] {
                outputs.append(.push(to: device, Envelope(requestID: .random(using: &random), body: .smsDelivery(sms))))
                log.append((sms.smsID, sms.phone, true))
            } else {
                var waiting = queued[submit.phone] ?? []
                guard waiting.count < Self.maximumQueuedPerPhone else {
                    return [.reply(to: client, envelope.fail(QuickPayError(.overloaded, "too many undelivered SMS for this phone")))]
                }
                waiting.append(sms)
                queued[submit.phone] = waiting
                log.append((sms.smsID, sms.phone, false))
            }
            return outputs
        case .ack:
            return []
        default:
            return [.reply(to: client, envelope.fail(QuickPayError(.malformed, "the network provider does not take \(envelope.body.typeName)")))]
        }
    }

    mutating func markDelivered(_ id: Bytes16) {
        if let index = log.firstIndex(where: { $0.smsID == id }) { log[index].delivered = true }
    }
}
