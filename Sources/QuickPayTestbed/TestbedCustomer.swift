import Foundation
import QuickPayActors
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol

/// The customer a scenario drives: the production wallet (`CustomerClient`, `CustomerActions`)
/// plus the attacker's actions, which only the testbed links (`quickpay customer serve`).
public enum TestbedCustomerActions {
    public static func perform(_ action: String, _ request: JSONObject, _ client: CustomerClient) throws -> JSONObject {
        switch action {
        case "health":
            return ["ok": true, "actor": "customer", "pid": Int(getpid()), "testing": true]
        case "clock":
            // The wallet's own time (expiry, which blind key is current), moved for a scenario.
            guard let seconds = (request["advance_seconds"] as? NSNumber)?.int64Value else { throw QuickPayError(.malformed, "clock needs advance_seconds") }
            client.clock.advance(seconds: seconds)
            return ["ok": true, "now": client.clock.now.secondsSinceEpoch]
        case "crash":
            // The wallet's crash point: the next load's answer arrives, and the process dies
            // before it unblinds (the pending load is on disk; a restarted wallet resumes it).
            guard request["point"] as? String == "before-unblind" else { throw QuickPayError(.malformed, "a customer's crash point is before-unblind") }
            client.crashBeforeUnblinding = true
            return ["ok": true, "armed": ["before-unblind"]]
        case "attack":
            return try client.attack(try CustomerActions.string(request, "kind"), at: try ReceiverID(try CustomerActions.string(request, "merchant")), options: request)
        case "raw":
            return try client.raw(endpoint: try CustomerActions.string(request, "endpoint"), hex: try CustomerActions.string(request, "hex"))
        case "flood":
            return try client.flood(endpoint: try CustomerActions.string(request, "endpoint"), count: request["count"] as? Int ?? 1000)
        case "login-flood":
            return try LoginFlood.current.start(
                client, endpoint: try CustomerActions.string(request, "endpoint"), username: try CustomerActions.string(request, "username"),
                count: request["count"] as? Int ?? 200)
        case "flood-report":
            return LoginFlood.current.report()
        case "latency":
            return try HonestLatency.measure(client, receiver: try ReceiverID(try CustomerActions.string(request, "receiver")), count: request["count"] as? Int ?? 40)
        case "attach-as":
            // A second device for another phone: with a wrong SIM, no SIM, or an answer captured
            // from the victim's device (`captured`, from its `last-attach`). The provider must refuse.
            guard let device = client.device else { throw QuickPayError(.malformed, "this customer has no device") }
            let phone = try PhoneNumber(try CustomerActions.string(request, "phone"))
            let how = request["sim"] as? String ?? "wrong"
            var generator = SystemRandomNumberGenerator()
            let answer: Body
            switch how {
            case "wrong":
                let card = SimCard.random(for: phone, using: &generator)
                answer = try device.attach(as: phone) { DeviceAttachProof(phone: phone, nonce: $0.nonce, response: card.answer($0.nonce)) }
            case "none":
                answer = try device.attach(as: phone) { DeviceAttachProof(phone: phone, nonce: $0.nonce, response: .zero) }
            case "replay":
                let captured = request["captured"] as? JSONObject ?? [:]
                guard let nonce = Bytes32(hex: captured["nonce"] as? String ?? ""), let response = Bytes32(hex: captured["response"] as? String ?? "") else {
                    throw QuickPayError(.malformed, "replay needs captured {nonce, response} (from the victim's last-attach)")
                }
                answer = try device.attach(as: phone) { _ in DeviceAttachProof(phone: phone, nonce: nonce, response: response) }
            default:
                throw QuickPayError(.malformed, "sim is wrong, none or replay")
            }
            if case .error(let error) = answer { throw error }
            return ["ok": true, "answer": answer.typeName]
        case "last-attach":
            // The eavesdropper's view: the last attach answer this device sent over the air.
            guard let proof = client.device?.lastProof else { throw QuickPayError(.malformed, "this device has not attached yet") }
            return ["ok": true, "phone": proof.phone.value, "nonce": proof.nonce.hex, "response": proof.response.hex]
        case "last-coin":
            // For scenarios where a merchant tries to redeem a coin it should not hold.
            guard let coin = client.lastPayment?.coins.first else { throw QuickPayError(.malformed, "no payment yet") }
            var answer: JSONObject = ["ok": true, "voucher": coin.voucherID.raw.hex, "index": coin.index, "value": coin.value.hex]
            if let voucher = client.wallet.vouchers[coin.voucherID]?.voucher, voucher.commitment.scheme == .blindRSA {
                answer["voucher_wire"] = HexCoding.encode(voucher.serializedBytes())
            }
            return answer
        default:
            return try CustomerActions.perform(action, request, client)
        }
    }
}
