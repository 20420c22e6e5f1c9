import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The customer's wallet file: every voucher with its chain seed and owner key seed (secrets:
/// the file is created 0600), how far it is spent, the merchant's receipts, and every operation
/// still pending (a load's chains, a payment's coins, an unload): saved before it leaves.
public final class SQLiteWalletStore {
    let pool: DatabasePool

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE vouchers (
                  id BLOB PRIMARY KEY NOT NULL, voucher BLOB NOT NULL, seed BLOB NOT NULL, owner_seed BLOB NOT NULL,
                  spent INTEGER NOT NULL, receipt_root BLOB, last_receipt INTEGER NOT NULL, unloaded INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                """)
        }
        migrator.registerMigration("v2-pending") { db in
            try db.execute(sql: """
                CREATE TABLE pending (kind TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
                DELETE FROM settings WHERE key = 'pending-load' OR key LIKE 'pending-payment:%';
                """)
        }
        migrator.registerMigration("v3-last-receipt-value") { db in
            // The last receipt's value: the next is checked from it (NULL: from the signed root).
            try db.execute(sql: "ALTER TABLE vouchers ADD COLUMN last_receipt_value BLOB")
        }
        return migrator
    }

    public init(path: String) throws {
        pool = try SQLite.open(path: path, migrator: Self.migrator)
    }

    public func load() throws -> Wallet {
        try pool.read { db in
            var wallet = Wallet(vouchers: try Row.fetchAll(db, sql: "SELECT * FROM vouchers").map { row in
                let voucher: Data = row["voucher"]
                let root: Data? = row["receipt_root"]
                return WalletVoucher(
                    voucher: try valid { try SignedVoucher(serializedBytes: Array(voucher)) }, seed: try Bytes32(data: row["seed"]),
                    ownerSeed: try Bytes32(data: row["owner_seed"]), spent: row["spent"],
                    receiptRoot: try root.map { data in try valid { try SignedReceiptCommitment(serializedBytes: Array(data)) } },
                    lastReceipt: row["last_receipt"], lastReceiptValue: try (row["last_receipt_value"] as Data?).map { try Bytes32(data: $0) },
                    unloaded: row["unloaded"])
            })
            for row in try Row.fetchAll(db, sql: "SELECT kind, value FROM pending") {
                let kind: String = row["kind"]
                let value: Data = row["value"]
                guard let object = (try? JSONSerialization.jsonObject(with: value)) as? [String: Any] else { throw DatabaseCorruption("pending \(kind)") }
                switch kind {
                case "load": wallet.pendingLoad = try PendingCoding.load(object)
                case "payment":
                    let payment = try PendingCoding.payment(object)
                    wallet.pendingPayments[payment.receiver] = payment
                case "unload":
                    let unload = try PendingCoding.unload(object)
                    wallet.pendingUnloads[unload.voucherID] = unload
                case "refresh": wallet.pendingRefresh = try PendingCoding.refresh(object)
                case "held":
                    guard let voucher = (object["voucher"] as? String).flatMap(Bytes16.init(hex:)), let paise = object["amount_paise"] as? Int else {
                        throw DatabaseCorruption("held refund")
                    }
                    wallet.heldRefunds[VoucherID(voucher)] = Amount(paise: Int64(paise))
                default: throw DatabaseCorruption("pending kind \(kind)")
                }
            }
            return wallet
        }
    }

    /// Saves the whole wallet in one transaction: every voucher, and exactly its pending operations.
    public func save(_ wallet: Wallet) throws {
        try pool.write { db in
            try Self.write(db, Array(wallet.vouchers.values))
            try db.execute(sql: "DELETE FROM pending")
            var rows: [(String, Data, [String: Any])] = []
            if let load = wallet.pendingLoad { rows.append(("load", load.requestID.raw.data, PendingCoding.json(load))) }
            for payment in wallet.pendingPayments.values { rows.append(("payment", Data(payment.receiver.value.utf8), PendingCoding.json(payment))) }
            for unload in wallet.pendingUnloads.values { rows.append(("unload", unload.voucherID.raw.data, PendingCoding.json(unload))) }
            if let refresh = wallet.pendingRefresh { rows.append(("refresh", refresh.voucherID.raw.data, PendingCoding.json(refresh))) }
            for (voucher, amount) in wallet.heldRefunds {
                rows.append(("held", voucher.raw.data, ["voucher": voucher.raw.hex, "amount_paise": Int(amount.paise)]))
            }
            for (kind, key, object) in rows {
                try db.execute(
                    sql: "INSERT INTO pending (kind, key, value) VALUES (?, ?, ?)",
                    arguments: [kind, key, try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])])
            }
        }
    }

    /// Saves the given vouchers in one transaction.
    public func save(_ entries: [WalletVoucher]) throws {
        try pool.write { db in try Self.write(db, entries) }
    }

    static func write(_ db: Database, _ entries: [WalletVoucher]) throws {
            for e in entries {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO vouchers (id, voucher, seed, owner_seed, spent, receipt_root, last_receipt, last_receipt_value, unloaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        e.id.raw.data, Data(e.voucher.serializedBytes()), e.seed.data, e.ownerSeed.data, e.spent, e.receiptRoot.map { Data($0.serializedBytes()) },
                        e.lastReceipt, e.lastReceiptValue?.data, e.unloaded,
                    ])
            }
    }

    public func setting(_ key: String) throws -> [UInt8]? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]).map { Array($0) } }
    }

    public func setSetting(_ key: String, _ value: [UInt8]) throws {
        try pool.write { db in try db.execute(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", arguments: [key, Data(value)]) }
    }
}

/// The wallet's pending operations as JSON objects (hex for bytes, the payment as its wire frame).
enum PendingCoding {
    static func json(_ load: PendingLoad) -> [String: Any] {
        [
            "request_id": load.requestID.raw.hex, "receiver": load.receiver.value, "state": load.state.rawValue,
            "chains": load.chains.map { chain in
                var object: [String: Any] = [
                    "seed": chain.seed.hex, "owner": chain.ownerSeed.hex, "denomination": Int(chain.request.denomination.rupees), "length": chain.request.length.value,
                ]
                if let blind = chain.blind {
                    // The whole key as the bank's list gave it, so a resumed load needs no list.
                    object["blind_secret"] = blind.secret.hex
                    object["blind_key"] = HexCoding.encode(BlindKeyCoding.bytes(blind.key))
                }
                return object
            },
        ]
    }

    static func load(_ object: [String: Any]) throws -> PendingLoad {
        guard let id = (object["request_id"] as? String).flatMap(Bytes16.init(hex:)), let receiver = object["receiver"] as? String,
            let state = (object["state"] as? String).flatMap(AttemptState.init(rawValue:)), let chains = object["chains"] as? [[String: Any]]
        else { throw DatabaseCorruption("pending load") }
        let prepared = try chains.map { chain -> PreparedChain in
            guard let seed = (chain["seed"] as? String).flatMap(Bytes32.init(hex:)), let owner = (chain["owner"] as? String).flatMap(Bytes32.init(hex:)),
                let rupees = chain["denomination"] as? Int, let denomination = Denomination(rupees: Int64(rupees)), let length = chain["length"] as? Int
            else { throw DatabaseCorruption("pending load chain") }
            var blind: PreparedChain.BlindPart?
            if let secretHex = chain["blind_secret"] as? String {
                guard let secret = Bytes32(hex: secretHex), let keyBytes = (chain["blind_key"] as? String).flatMap(HexCoding.decode),
                    let key = BlindKeyCoding.key(keyBytes)
                else { throw DatabaseCorruption("pending blind load chain") }
                blind = PreparedChain.BlindPart(key: key, secret: secret)
            }
            return PreparedChain(seed: seed, ownerSeed: owner, denomination: denomination, length: try valid { try ChainLength(length) }, blind: blind)
        }
        return PendingLoad(requestID: RequestID(id), receiver: try valid { try ReceiverID(receiver) }, chains: prepared, state: state)
    }

    /// A refresh: the old voucher, the signed refresh id, and the new chains as a load's.
    static func json(_ refresh: PendingRefresh) -> [String: Any] {
        var object = json(refresh.load)
        object["voucher"] = refresh.voucherID.raw.hex
        object["refresh_id"] = refresh.refreshID.raw.hex
        return object
    }

    static func refresh(_ object: [String: Any]) throws -> PendingRefresh {
        guard let voucher = (object["voucher"] as? String).flatMap(Bytes16.init(hex:)), let id = (object["refresh_id"] as? String).flatMap(Bytes16.init(hex:)) else {
            throw DatabaseCorruption("pending refresh")
        }
        return PendingRefresh(voucherID: VoucherID(voucher), refreshID: RequestID(id), load: try load(object))
    }

    static func json(_ payment: PendingPayment) -> [String: Any] {
        [
            "frame": HexCoding.encode(WireCodec().encode(payment.envelope)), "receiver": payment.receiver.value, "state": payment.state.rawValue,
            "amount_paise": Int(payment.plan.amount.paise), "previous": Dictionary(uniqueKeysWithValues: payment.plan.previous.map { ($0.key.raw.hex, $0.value) }),
        ]
    }

    static func payment(_ object: [String: Any]) throws -> PendingPayment {
        guard let frame = (object["frame"] as? String).flatMap(HexCoding.decode), let envelope = try? WireCodec().decode(frame),
            case .payment(let payment) = envelope.body, let receiver = object["receiver"] as? String,
            let state = (object["state"] as? String).flatMap(AttemptState.init(rawValue:)), let paise = object["amount_paise"] as? Int,
            let previousHex = object["previous"] as? [String: Int]
        else { throw DatabaseCorruption("pending payment") }
        var previous: [VoucherID: Int] = [:]
        for (hex, index) in previousHex {
            guard let raw = Bytes16(hex: hex) else { throw DatabaseCorruption("pending payment voucher") }
            previous[VoucherID(raw)] = index
        }
        return PendingPayment(
            requestID: envelope.requestID, receiver: try valid { try ReceiverID(receiver) },
            plan: PaymentPlan(payment: payment, amount: Amount(paise: Int64(paise)), previous: previous), state: state)
    }

    static func json(_ unload: PendingUnload) -> [String: Any] {
        var object: [String: Any] = [
            "voucher": unload.voucherID.raw.hex, "unload_id": unload.unloadID.raw.hex, "destination": Int(unload.destination.rawValue), "state": unload.state.rawValue,
        ]
        if let until = unload.pendingUntil { object["pending_until"] = until.secondsSinceEpoch }
        return object
    }

    static func unload(_ object: [String: Any]) throws -> PendingUnload {
        guard let voucher = (object["voucher"] as? String).flatMap(Bytes16.init(hex:)), let id = (object["unload_id"] as? String).flatMap(Bytes16.init(hex:)),
            let destination = (object["destination"] as? Int).flatMap({ UnloadDestination(rawValue: UInt8(clamping: $0)) }),
            let state = (object["state"] as? String).flatMap(AttemptState.init(rawValue:))
        else { throw DatabaseCorruption("pending unload") }
        let until = (object["pending_until"] as? NSNumber).map { Timestamp(secondsSinceEpoch: $0.int64Value) }
        return PendingUnload(voucherID: VoucherID(voucher), unloadID: RequestID(id), destination: destination, state: state, pendingUntil: until)
    }
}
