import Foundation
import QuickPayActors
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol

/// The merchant as an attacker toward the bank, on a scenario's command: the testbed sends
/// crafted redemptions with the merchant's own key (it made the deployment's keys), from the
/// coins the merchant's state dump shows it holds, and returns the bank's answer. The merchant
/// executable itself has no attack code.
public enum MerchantAttacks {
    /// A voucher's last coin as the merchant holds it.
    public struct Held {
        public let voucherID: VoucherID
        public let last: ChainPosition
        public let length: Int
    }

    /// The coins in a merchant's `state` dump.
    public static func held(inState state: JSONObject) -> [Held] {
        (state["vouchers"] as? [[String: Any]] ?? []).compactMap { row in
            guard let id = (row["id"] as? String).flatMap(Bytes16.init(hex:)), let index = row["last_index"] as? Int,
                let value = (row["last_value"] as? String).flatMap(Bytes32.init(hex:)), let length = row["length"] as? Int
            else { return nil }
            return Held(voucherID: VoucherID(id), last: ChainPosition(index: index, value: value), length: length)
        }
    }

    public static func perform(_ kind: String, request: JSONObject, held: [Held], receiver: ReceiverID, mode: MerchantMode, bank: Requester) throws -> JSONObject {
        var generator = SystemRandomNumberGenerator()
        let coins: [Coin]
        var vouchers: [SignedVoucher] = []
        var claimed = receiver
        switch kind {
        case "double-redeem":
            // The last coins again, under a new request id, after the bank already credited them.
            coins = held.filter { $0.last.index > 0 }.map { Coin(voucherID: $0.voucherID, index: $0.last.index, value: $0.last.value) }
        case "redeem-beyond-n":
            guard let row = held.first else { throw QuickPayError(.unknownVoucher, "no voucher held") }
            coins = [Coin(voucherID: row.voucherID, index: row.length + 1, value: .random(using: &generator))]
        case "redeem-unknown":
            // A voucher id the bank never issued.
            coins = [Coin(voucherID: .random(using: &generator), index: 1, value: .random(using: &generator))]
        case "redeem-coin":
            // A coin handed over by the scenario (say, of a voucher naming another merchant).
            guard let voucher = (request["voucher"] as? String).flatMap(Bytes16.init(hex:)), let index = request["index"] as? Int,
                let value = (request["value"] as? String).flatMap(Bytes32.init(hex:))
            else { throw QuickPayError(.malformed, "redeem-coin needs voucher, index, value") }
            coins = [Coin(voucherID: VoucherID(voucher), index: index, value: value)]
            if let name = request["as_receiver"] as? String { claimed = try ReceiverID(name) }
            // A blind voucher is unknown to the bank until redeemed: the attacker sends it along,
            // so what refuses the coin is the bank's receiver check, not its ignorance.
            if let wire = (request["voucher_wire"] as? String).flatMap(HexCoding.decode) { vouchers = [try SignedVoucher(serializedBytes: wire)] }
        default:
            throw QuickPayError(.malformed, "unknown merchant attack \(kind)")
        }
        guard !coins.isEmpty else { throw QuickPayError(.malformed, "nothing to redeem") }
        let answer = try bank.request(.redeem(Redeem(receiverID: claimed, coins: coins, mode: mode, vouchers: vouchers)))
        switch answer {
        case .redeemReply(let reply):
            return ["ok": true, "credited_paise": Int(reply.totalCredited.paise), "codes": reply.results.map { $0.error?.code.name ?? "OK" }]
        case .error(let error):
            return ["ok": true, "credited_paise": 0, "codes": [error.code.name]]
        default:
            throw QuickPayError(.internal, "the bank answered \(answer.typeName)")
        }
    }
}
