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
        case "attack":
            return try client.attack(try CustomerActions.string(request, "kind"), at: try ReceiverID(try CustomerActions.string(request, "merchant")), options: request)
        case "raw":
            return try client.raw(endpoint: try CustomerActions.string(request, "endpoint"), hex: try CustomerActions.string(request, "hex"))
        case "flood":
            return try client.flood(endpoint: try CustomerActions.string(request, "endpoint"), count: request["count"] as? Int ?? 1000)
        case "last-coin":
            // For scenarios where a merchant tries to redeem a coin it should not hold.
            guard let coin = client.lastPayment?.coins.first else { throw QuickPayError(.malformed, "no payment yet") }
            return ["ok": true, "voucher": coin.voucherID.raw.hex, "index": coin.index, "value": coin.value.hex]
        default:
            return try CustomerActions.perform(action, request, client)
        }
    }
}
