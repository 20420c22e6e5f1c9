import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The customer's wallet file: every voucher with its chain seed and owner key seed (secrets:
/// the file is created 0600), how far it is spent, and the merchant's receipts.
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
        return migrator
    }

    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        pool = try SQLite.open(path: path, migrator: Self.migrator)
    }

    public func load() throws -> Wallet {
        try pool.read { db in
            Wallet(vouchers: try Row.fetchAll(db, sql: "SELECT * FROM vouchers").map { row in
                let voucher: Data = row["voucher"]
                let root: Data? = row["receipt_root"]
                return WalletVoucher(
                    voucher: try valid { try SignedVoucher(serializedBytes: Array(voucher)) }, seed: try Bytes32(data: row["seed"]),
                    ownerSeed: try Bytes32(data: row["owner_seed"]), spent: row["spent"],
                    receiptRoot: try root.map { data in try valid { try SignedReceiptCommitment(serializedBytes: Array(data)) } },
                    lastReceipt: row["last_receipt"], unloaded: row["unloaded"])
            })
        }
    }

    /// Saves the given vouchers in one transaction.
    public func save(_ entries: [WalletVoucher]) throws {
        try pool.write { db in
            for e in entries {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO vouchers (id, voucher, seed, owner_seed, spent, receipt_root, last_receipt, unloaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [e.id.raw.data, Data(e.voucher.serializedBytes()), e.seed.data, e.ownerSeed.data, e.spent, e.receiptRoot.map { Data($0.serializedBytes()) }, e.lastReceipt, e.unloaded])
            }
        }
    }

    public func setting(_ key: String) throws -> [UInt8]? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]).map { Array($0) } }
    }

    public func setSetting(_ key: String, _ value: [UInt8]) throws {
        try pool.write { db in try db.execute(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", arguments: [key, Data(value)]) }
    }
}
