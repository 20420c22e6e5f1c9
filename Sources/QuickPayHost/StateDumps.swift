import Foundation
import QuickPayActors
import QuickPayConfig
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
            case .closed(let amount, _):
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
             "last_value": $0.last.value.hex, "length": $0.voucher.commitment.length.value, "redeemed_index": $0.redeemedIndex, "closed": $0.closed]
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
