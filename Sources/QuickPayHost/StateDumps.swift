import Foundation
import QuickPayActors
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol

/// What each actor shows the control socket's `state` action: the evidence checkers read.
/// No secret (seed, code, token, password hash) ever appears here.
public enum StateDump {
    public static func bank(_ store: any BankStore, blindKeys: [BlindKey] = []) throws -> JSONObject {
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
            var out: JSONObject = [
                "id": row.commitment.voucherID.raw.hex, "receiver": row.commitment.receiverID.value,
                "denomination": row.commitment.denomination.rupees, "length": row.commitment.length.value,
                "redeemed_index": row.redeemed.index, "state": state, "refunded_paise": refunded, "root": row.commitment.root.hex,
            ]
            // A blind voucher has no account until an unload names one.
            if let account = row.account { out["account"] = account.value }
            if row.commitment.scheme == .blindRSA { out["blind_key"] = row.commitment.keyID.description }
            return out
        }
        let journal: [[Any]] = try store.journal().map { [$0.from.name, $0.to.name, Int($0.amount.paise)] }
        let receivers: [JSONObject] = try store.allReceivers().map { ["id": $0.id.value, "account": $0.account.value, "mode": $0.mode.rawValue] }
        // Facts only: the checkers compute every invariant themselves (the bank vouches for nothing).
        return [
            "ok": true, "ledger": balances, "vouchers": rows, "journal": journal, "accounts": try store.allAccounts().map(\.value),
            "receivers": receivers,
            "blind_keys": Dictionary(uniqueKeysWithValues: blindKeys.map { ($0.keyID.description, ["denomination": $0.denomination.rupees, "length": $0.length.value] as JSONObject) }),
            "phones": Dictionary(uniqueKeysWithValues: try store.allAccounts().compactMap { account in try store.owner(of: account)?.phone.map { (account.value, $0.value) } }),
        ]
    }

    public static func merchant(_ store: any MerchantStore) throws -> JSONObject {
        let vouchers = try store.allVouchers()
        let accepted = try Amount.sum(vouchers.map { try $0.voucher.commitment.denomination.value(ofCoins: $0.last.index) })
        let unredeemed = try Amount.sum(vouchers.map(\.unredeemedValue))
        let rows: [JSONObject] = vouchers.sorted { $0.id.raw.hex < $1.id.raw.hex }.map {
            ["id": $0.id.raw.hex, "denomination": $0.voucher.commitment.denomination.rupees, "last_index": $0.last.index,
             "last_value": $0.last.value.hex, "length": $0.voucher.commitment.length.value, "redeemed_index": $0.redeemedIndex, "closed": $0.closed,
             "blind": $0.voucher.commitment.scheme == .blindRSA]
        }
        return ["ok": true, "vouchers": rows, "accepted_paise": accepted.paise, "unredeemed_paise": unredeemed.paise]
    }

    public static func appServer(_ store: any AppServerStore) throws -> JSONObject {
        let users: [JSONObject] = try store.allUsers().sorted { $0.username < $1.username }.map {
            ["username": $0.username.value, "role": $0.role == .merchant ? "merchant" : "customer", "account": $0.account.value,
             "phone": $0.phone.value, "failed_attempts": $0.failedAttempts, "locked_until": $0.lockedUntil?.secondsSinceEpoch ?? 0]
        }
        // Who holds a session and a challenge, never a token or a code's hash.
        let sessions: [JSONObject] = try store.allSessions().sorted { ($0.username, $0.expiresAt) < ($1.username, $1.expiresAt) }.map {
            ["username": $0.username.value, "expires_at": $0.expiresAt.secondsSinceEpoch]
        }
        let challenges: [JSONObject] = try store.allChallenges().sorted { ($0.username, $0.sentAt) < ($1.username, $1.sentAt) }.map {
            ["username": $0.username.value, "tries": $0.tries, "used": $0.used, "registration": $0.registration != nil]
        }
        return ["ok": true, "users": users, "sessions": sessions, "challenges": challenges]
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
