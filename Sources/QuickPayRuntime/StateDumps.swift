import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// What each actor shows the control socket's `state` action: the evidence checkers read.
/// No secret (seed, code, token, password hash) ever appears here.
public enum StateDump {
    public static func bank(_ store: any BankStore) throws -> JSONObject {
        let ledger = try store.ledger()
        var balances: JSONObject = [:]
        for (account, amount) in ledger { balances[account.name] = amount.paise }
        let vouchers = try store.allVouchers()
        let rows: [JSONObject] = vouchers.sorted { $0.commitment.voucherID.raw.hex < $1.commitment.voucherID.raw.hex }.map { row in
            var state = "open"
            var refunded: Int64 = 0
            switch row.state {
            case .open: break
            case .closing: state = "closing"
            case .closed(let amount):
                state = "closed"
                refunded = amount.paise
            }
            return [
                "id": row.commitment.voucherID.raw.hex, "account": row.account.value, "receiver": row.commitment.receiverID.value,
                "denomination": row.commitment.denomination.rupees, "length": row.commitment.length.value,
                "redeemed_index": row.redeemed.index, "state": state, "refunded_paise": refunded,
            ]
        }
        let sum = ledger.values.reduce(Int64(0)) { $0 + $1.paise }
        let deposited = -((ledger[.deposits]?.paise ?? 0) + (ledger[.prepaidSales]?.paise ?? 0))
        let outstanding = vouchers.reduce(Int64(0)) { total, row in
            if case .closed = row.state { return total }
            return total + row.unredeemedValue.paise
        }
        let float = ledger[.voucherFloat]?.paise ?? 0
        let negative = ledger.filter { !$0.key.isExternal && $0.value < .zero }.map(\.key.name)
        return [
            "ok": true, "ledger": balances, "vouchers": rows, "deposited_paise": deposited,
            "float_paise": float, "outstanding_voucher_paise": outstanding,
            "invariants": [
                "double_entry_sum_zero": sum == 0, "float_equals_outstanding": float == outstanding, "no_negative_balance": negative.isEmpty,
            ],
        ]
    }

    public static func merchant(_ store: any MerchantStore) throws -> JSONObject {
        let vouchers = try store.allVouchers()
        let accepted = try Amount.sum(vouchers.map { try $0.voucher.commitment.denomination.value(ofCoins: $0.last.index) })
        let unredeemed = try Amount.sum(vouchers.map(\.unredeemedValue))
        let rows: [JSONObject] = vouchers.sorted { $0.id.raw.hex < $1.id.raw.hex }.map {
            ["id": $0.id.raw.hex, "denomination": $0.voucher.commitment.denomination.rupees, "last_index": $0.last.index,
             "redeemed_index": $0.redeemedIndex, "closed": $0.closed]
        }
        return ["ok": true, "vouchers": rows, "accepted_paise": accepted.paise, "unredeemed_paise": unredeemed.paise]
    }

    public static func appServer(_ store: any AppServerStore) throws -> JSONObject {
        let users: [JSONObject] = try store.allUsers().sorted { $0.username < $1.username }.map {
            ["username": $0.username.value, "role": $0.role == .merchant ? "merchant" : "customer", "account": $0.account.value,
             "locked_until": $0.lockedUntil?.secondsSinceEpoch ?? 0]
        }
        return ["ok": true, "users": users]
    }

    public static func networkProvider(_ actor: NetworkProviderActor) throws -> JSONObject {
        let records = try actor.report()
        let sms: [JSONObject] = records.map { ["sms_id": $0.smsID.hex, "phone": $0.phone.value, "delivered": $0.delivered] }
        let faults: [JSONObject] = records.compactMap { record in
            record.fault.map { ["sms_id": record.smsID.hex, "phone": record.phone.value, "fault": $0] }
        }
        return ["ok": true, "sms": sms, "faults": faults, "held": actor.held.count]
    }
}

/// The merchant as an attacker toward the bank, on a scenario's command: crafted redemptions
/// sent synchronously, the bank's answer returned.
public enum MerchantAttacks {
    public static func perform(_ kind: String, request: JSONObject, store: any MerchantStore, receiver: ReceiverID, bank: Requester) throws -> JSONObject {
        var generator = SystemRandomNumberGenerator()
        let coins: [Coin]
        var claimed = receiver
        switch kind {
        case "double-redeem":
            // The last coins again, under a new request id, after the bank already credited them.
            coins = try store.allVouchers().filter { $0.last.index > 0 }.map { Coin(voucherID: $0.id, index: $0.last.index, value: $0.last.value) }
        case "redeem-beyond-n":
            guard let row = try store.allVouchers().first else { throw QuickPayError(.unknownVoucher, "no voucher held") }
            coins = [Coin(voucherID: row.id, index: row.voucher.commitment.length.value + 1, value: .random(using: &generator))]
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
        default:
            throw QuickPayError(.malformed, "unknown merchant attack \(kind)")
        }
        guard !coins.isEmpty else { throw QuickPayError(.malformed, "nothing to redeem") }
        let answer = try bank.request(.redeem(Redeem(receiverID: claimed, coins: coins)))
        switch answer {
        case .redeemReply(let reply):
            return ["ok": true, "credited_paise": reply.totalCredited.paise, "codes": reply.results.map { $0.error?.code.name ?? "OK" }]
        case .error(let error):
            return ["ok": true, "credited_paise": 0, "codes": [error.code.name]]
        default:
            throw QuickPayError(.internal, "the bank answered \(answer.typeName)")
        }
    }
}
