import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The merchant's SQLite store: per voucher the voucher itself, the last coin, the redeemed
/// index, the receipt-chain seed and whether it was settled; the answers kept by request id;
/// the mode the bank holds for this merchant, as last learned.
public final class SQLiteMerchantStore: MerchantStore {
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
        migrator.registerMigration("v2-replies-in-row-order") { db in try ReplyCache.migrateToRowOrder(db) }
        migrator.registerMigration("v3-answers") { db in try AnswerTable.migrate(fromReplies: db, hasCreatedAt: true) }
        migrator.registerMigration("v4-voucher-scheme") { db in
            // The scheme in plain sight, for the auditor: a blind voucher is unknown to the bank
            // until it is redeemed.
            try db.execute(sql: "ALTER TABLE vouchers ADD COLUMN scheme INTEGER NOT NULL DEFAULT 1")
        }
        return migrator
    }

    /// Decoded rows of recently used vouchers, as committed: a payment then costs no SQL read and
    /// no decoding, and a known voucher's row is updated without rewriting the voucher. Bounded.
    var rows: [VoucherID: MerchantVoucher] = [:]
    static let rowCacheLimit = 8192
    /// Rows written by the steps of the open group, moved into `rows` once the group commits.
    var groupRows: [VoucherID: MerchantVoucher] = [:]
    /// Stored vouchers whose positions the open group changed: written once each at the end of
    /// the group, whatever the number of payments on them (a streaming customer pays the same
    /// voucher many times a second: one UPDATE per voucher per group, not per payment).
    var dirty: Set<VoucherID> = []
    /// Position UPDATEs run since the store opened (what coalescing saves, for tests and benches).
    public private(set) var positionWrites = 0

    public init(path: String) throws { database = try GroupedDatabase(path: path, migrator: Self.migrator) }

    public func voucher(_ id: VoucherID) throws -> MerchantVoucher? {
        if let row = groupRows[id] ?? rows[id] { return row }
        let row = try database.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM vouchers WHERE id = ?"), arguments: [id.raw.data]).map(Self.voucher)
        }
        if let row { remember([row]) }
        return row
    }

    func remember(_ written: [MerchantVoucher]) {
        if rows.count + written.count > Self.rowCacheLimit { rows.removeAll(keepingCapacity: true) }
        for row in written { rows[row.id] = row }
    }

    public func isClosedUnseen(_ id: VoucherID) throws -> Bool {
        try database.read { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM closed_unseen WHERE id = ?"), arguments: [id.raw.data]) != nil }
    }

    public func stage(_ batch: MerchantBatch) throws {
        try database.staged { db in
            for row in batch.vouchers {
                let before = try groupRows[row.id] ?? rows[row.id]
                    ?? Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM vouchers WHERE id = ?"), arguments: [row.id.raw.data]).map(Self.voucher)
                try MerchantBatchRules.check(row, before: before)
                if before != nil {
                    // A voucher already stored: only its positions change, written at the group's end.
                    dirty.insert(row.id)
                    continue
                }
                try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO vouchers (id, voucher, last_index, last_value, redeemed_index, receipt_seed, closed, scheme)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """
                ).execute(
                    arguments: [
                        row.id.raw.data, Data(row.voucher.serializedBytes()), row.last.index, row.last.value.data, row.redeemedIndex, row.receiptSeed.data, row.closed,
                        Int(row.voucher.commitment.scheme.rawValue),
                    ])
            }
            for id in batch.closedUnseen { try db.cachedStatement(sql: "INSERT OR IGNORE INTO closed_unseen (id) VALUES (?)").execute(arguments: [id.raw.data]) }
        }
        // Remembered once the group commits (see `inGroup`).
        for row in batch.vouchers { groupRows[row.id] = row }
    }

    public func stageAnswer(_ record: AnswerRecord) throws { try database.staged { db in try AnswerTable.store(db, record) } }
    public func answer(for key: AnswerKey) throws -> AnswerRecord? { try database.read { db in try AnswerTable.fetch(db, key) } }
    public func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { try database.staged { db in try AnswerTable.prune(db, before: before, limit: limit) } }
    public func answerCount() throws -> Int { try database.read { db in try AnswerTable.count(db) } }

    /// The mode the bank held for this merchant when last asked (nil: never asked).
    public func learnedMode() throws -> MerchantMode? {
        try database.read { db in
            switch try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'mode'") {
            case 1?: .offline
            case 2?: .online
            default: nil
            }
        }
    }

    /// Keeps the mode the bank holds for this merchant (outside any group: at start-up).
    public func rememberMode(_ mode: MerchantMode) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('mode', ?)", arguments: [mode == .offline ? 1 : 2])
        }
    }

    public func unredeemed(limit: Int) throws -> [MerchantVoucher] {
        // Inside a group, the positions it changed are written first: SQL sees them.
        if database.inOpenGroup { try writePositions() }
        return try database.read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM vouchers WHERE last_index > redeemed_index ORDER BY id LIMIT ?"), arguments: [limit]).map(Self.voucher)
        }
    }

    public func allVouchers() throws -> [MerchantVoucher] {
        if database.inOpenGroup { try writePositions() }
        return try database.read { db in try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM vouchers")).map(Self.voucher) }
    }

    /// Group commit: the steps `body` runs commit together, durably, once it returns; only then
    /// do their rows enter the row cache.
    public func inGroup(_ body: () throws -> Void) throws {
        defer {
            groupRows.removeAll(keepingCapacity: true)
            dirty.removeAll(keepingCapacity: true)
        }
        try database.inGroup {
            try body()
            try writePositions()
        }
        remember(Array(groupRows.values))
    }

    /// The group's changed positions, one UPDATE per voucher (through the C API: every payment
    /// group runs it), inside the group's transaction.
    func writePositions() throws {
        guard !dirty.isEmpty else { return }
        try database.staged { db in
            for id in dirty {
                guard let row = groupRows[id] else { continue }
                let statement = try RawStatement(db, "UPDATE vouchers SET last_index = ?, last_value = ?, redeemed_index = ?, closed = ? WHERE id = ?")
                defer { statement.reset() }
                try statement.bind(1, Int64(row.last.index))
                try statement.bind(2, row.last.value.bytes)
                try statement.bind(3, Int64(row.redeemedIndex))
                try statement.bind(4, row.closed ? 1 : 0)
                try statement.bind(5, row.id.raw)
                while try statement.step() {}
                guard db.changesCount == 1 else { throw StoreError("voucher \(row.id) was not stored") }
                positionWrites += 1
            }
        }
        dirty.removeAll(keepingCapacity: true)
    }

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
    /// v2 of the table: rows in insertion order (appended, so a group commit dirties few pages)
    /// and a unique index on the random request id (small entries, many to a page). v1 kept
    /// whole rows keyed by the random id, and every insert dirtied a page of its own.
    static func migrateToRowOrder(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE replies_v2 (
              request_id BLOB NOT NULL, digest BLOB NOT NULL, reply BLOB NOT NULL, created_at INTEGER NOT NULL DEFAULT (unixepoch()));
            INSERT INTO replies_v2 (request_id, digest, reply) SELECT request_id, digest, reply FROM replies;
            DROP TABLE replies;
            ALTER TABLE replies_v2 RENAME TO replies;
            CREATE UNIQUE INDEX replies_request_id ON replies(request_id);
            """)
    }
}
