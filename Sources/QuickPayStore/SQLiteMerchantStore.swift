import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The merchant's SQLite store: per voucher the voucher itself, the last coin, the redeemed
/// index, the receipt-chain seed and whether it was settled; and the reply cache.
public final class SQLiteMerchantStore: MerchantStore, GroupCommitting {
    let database: GroupedDatabase

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE vouchers (
                  id BLOB PRIMARY KEY NOT NULL, voucher BLOB NOT NULL, last_index INTEGER NOT NULL, last_value BLOB NOT NULL,
                  redeemed_index INTEGER NOT NULL, receipt_seed BLOB NOT NULL, closed INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX vouchers_unredeemed ON vouchers(id) WHERE last_index > redeemed_index;
                CREATE TABLE replies (request_id BLOB PRIMARY KEY NOT NULL, digest BLOB NOT NULL, reply BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE closed_unseen (id BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    public init(path: String) throws { database = try GroupedDatabase(path: path, migrator: Self.migrator) }

    public func voucher(_ id: VoucherID) throws -> MerchantVoucher? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM vouchers WHERE id = ?", arguments: [id.raw.data]).map(Self.voucher) }
    }

    public func isClosedUnseen(_ id: VoucherID) throws -> Bool {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT 1 FROM closed_unseen WHERE id = ?", arguments: [id.raw.data]) != nil }
    }

    public func cachedReply(_ key: RequestID) throws -> CachedReply? {
        try database.read { db in try ReplyCache.fetch(db, key) }
    }

    public func commit(_ batch: MerchantBatch) throws {
        try database.write { db in
            for row in batch.vouchers {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO vouchers (id, voucher, last_index, last_value, redeemed_index, receipt_seed, closed)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [row.id.raw.data, Data(row.voucher.serializedBytes()), row.last.index, row.last.value.data, row.redeemedIndex, row.receiptSeed.data, row.closed])
            }
            for id in batch.closedUnseen { try db.execute(sql: "INSERT OR IGNORE INTO closed_unseen (id) VALUES (?)", arguments: [id.raw.data]) }
            if let (key, cached) = batch.reply { try ReplyCache.store(db, key, cached) }
        }
    }

    public func unredeemed(limit: Int) throws -> [MerchantVoucher] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM vouchers WHERE last_index > redeemed_index ORDER BY id LIMIT ?", arguments: [limit]).map(Self.voucher)
        }
    }

    public func allVouchers() throws -> [MerchantVoucher] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM vouchers").map(Self.voucher) }
    }

    /// Group commit: the steps `body` runs commit together, durably, once it returns.
    public func inGroup(_ body: () throws -> Void) throws { try database.inGroup(body) }

    static func voucher(_ row: Row) throws -> MerchantVoucher {
        let bytes: Data = row["voucher"]
        return MerchantVoucher(
            voucher: try valid { try SignedVoucher(serializedBytes: Array(bytes)) },
            last: ChainPosition(index: row["last_index"], value: try Bytes32(data: row["last_value"])),
            redeemedIndex: row["redeemed_index"], receiptSeed: try Bytes32(data: row["receipt_seed"]), closed: row["closed"])
    }
}

/// The reply cache table (request id, request digest, answer) of the bank, merchant and app server stores.
enum ReplyCache {
    static func fetch(_ db: Database, _ key: RequestID) throws -> CachedReply? {
        guard let row = try Row.fetchOne(db, sql: "SELECT digest, reply FROM replies WHERE request_id = ?", arguments: [key.raw.data]) else { return nil }
        let reply: Data = row["reply"]
        return CachedReply(requestDigest: try Bytes32(data: row["digest"]), reply: try valid { try Body(serializedBytes: Array(reply)) })
    }

    static func store(_ db: Database, _ key: RequestID, _ cached: CachedReply) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO replies (request_id, digest, reply) VALUES (?, ?, ?)",
            arguments: [key.raw.data, cached.requestDigest.data, Data(cached.reply.serializedBytes())])
    }

}
