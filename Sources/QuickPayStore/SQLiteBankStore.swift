import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The bank's SQLite store: a double-entry ledger (balances plus every entry), one row per
/// voucher (at most ~170 bytes whatever its length, one per chain root), the answers kept by
/// request id, and the prepaid codes already credited. The host stages each step's batch in its
/// group's transaction.
public final class SQLiteBankStore: BankStore {
    let database: GroupedDatabase

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (id TEXT PRIMARY KEY NOT NULL);
                CREATE TABLE receivers (id TEXT PRIMARY KEY NOT NULL, account TEXT NOT NULL REFERENCES accounts(id), mode TEXT NOT NULL);
                CREATE TABLE ledger_balances (account TEXT PRIMARY KEY NOT NULL, balance INTEGER NOT NULL);
                CREATE TABLE ledger_entries (
                  id INTEGER PRIMARY KEY, request_id BLOB, debit TEXT NOT NULL, credit TEXT NOT NULL,
                  amount INTEGER NOT NULL CHECK (amount >= 0));
                CREATE TABLE vouchers (
                  id BLOB PRIMARY KEY NOT NULL, account TEXT NOT NULL, receiver TEXT NOT NULL, denomination INTEGER NOT NULL,
                  length INTEGER NOT NULL, root BLOB NOT NULL, expiry INTEGER NOT NULL, owner_key BLOB NOT NULL, key_id BLOB NOT NULL,
                  redeemed_index INTEGER NOT NULL, redeemed_value BLOB NOT NULL,
                  state INTEGER NOT NULL, refund_at INTEGER, destination INTEGER, unload_id BLOB, refunded INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX vouchers_closing ON vouchers(refund_at) WHERE state = 1;
                CREATE TABLE replies (request_id BLOB PRIMARY KEY NOT NULL, digest BLOB NOT NULL, reply BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE credited_codes (code_hash BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-replies-in-row-order") { db in try ReplyCache.migrateToRowOrder(db) }
        migrator.registerMigration("v3-answers-unique-roots") { db in
            // A chain is loaded once: two vouchers on one root would let one be spent and the
            // other refunded. Request ids live on as compact permanent records (`answers`).
            try db.execute(sql: "CREATE UNIQUE INDEX vouchers_root ON vouchers(root)")
            try AnswerTable.migrate(fromReplies: db, hasCreatedAt: true)
        }
        migrator.registerMigration("v4-phone-of-record") { db in
            // The phone a registration code for the account goes to: one account per phone.
            try db.execute(sql: """
                ALTER TABLE accounts ADD COLUMN phone TEXT;
                CREATE UNIQUE INDEX accounts_phone ON accounts(phone) WHERE phone IS NOT NULL;
                CREATE INDEX receivers_account ON receivers(account);
                """)
        }
        migrator.registerMigration("v5-blind-vouchers") { db in
            // A blind voucher's row has no account until an unload names one, and says its
            // scheme; the blind keys the bank signs with are listed for the auditor (the value of
            // each key's float: issued x d x N).
            try db.execute(sql: """
                CREATE TABLE vouchers_v5 (
                  id BLOB PRIMARY KEY NOT NULL, account TEXT, scheme INTEGER NOT NULL DEFAULT 1, receiver TEXT NOT NULL,
                  denomination INTEGER NOT NULL, length INTEGER NOT NULL, root BLOB NOT NULL, expiry INTEGER NOT NULL,
                  owner_key BLOB NOT NULL, key_id BLOB NOT NULL, redeemed_index INTEGER NOT NULL, redeemed_value BLOB NOT NULL,
                  state INTEGER NOT NULL, refund_at INTEGER, destination INTEGER, unload_id BLOB, refunded INTEGER
                ) WITHOUT ROWID;
                INSERT INTO vouchers_v5 (id, account, receiver, denomination, length, root, expiry, owner_key, key_id,
                  redeemed_index, redeemed_value, state, refund_at, destination, unload_id, refunded)
                  SELECT id, account, receiver, denomination, length, root, expiry, owner_key, key_id,
                  redeemed_index, redeemed_value, state, refund_at, destination, unload_id, refunded FROM vouchers;
                DROP TABLE vouchers;
                ALTER TABLE vouchers_v5 RENAME TO vouchers;
                CREATE INDEX vouchers_closing ON vouchers(refund_at) WHERE state = 1;
                CREATE UNIQUE INDEX vouchers_root ON vouchers(root);
                CREATE TABLE blind_keys (
                  key_id BLOB PRIMARY KEY NOT NULL, denomination INTEGER NOT NULL, length INTEGER NOT NULL,
                  valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL, expiry INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6-blind-roots-may-repeat") { db in
            // A chain is loaded once as an Ed25519 voucher; blind vouchers may share a root (each
            // was paid for, and a root held unique would let whoever learned it strand a voucher).
            try db.execute(sql: """
                DROP INDEX vouchers_root;
                CREATE UNIQUE INDEX vouchers_root ON vouchers(root) WHERE scheme = 1;
                """)
        }
        return migrator
    }

    /// Records the blind keys the bank signs with (kept for good: the auditor values each key's
    /// float by them).
    public func registerBlindKeys(_ keys: [BlindKey]) throws {
        try database.write { db in
            for key in keys {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO blind_keys (key_id, denomination, length, valid_from, valid_until, expiry) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        Data(key.keyID.bytes), key.denomination.rupees, key.length.value, key.validFrom.secondsSinceEpoch, key.validUntil.secondsSinceEpoch,
                        key.expiry.secondsSinceEpoch,
                    ])
            }
        }
    }

    public init(path: String) throws {
        database = try GroupedDatabase(path: path, migrator: Self.migrator)
    }

    /// Seeds an account (its phone of record, and its receiver id) with an opening deposit,
    /// once: seeding the same account again changes nothing but a missing phone of record, and
    /// a seed that gives an existing receiver another mode, or an account another phone, is
    /// refused (those change only by an explicit operator action, not by seeding).
    public func seed(_ account: AccountID, deposit: Amount, receiver: (ReceiverID, MerchantMode)?, phone: PhoneNumber? = nil) throws {
        try database.write { db in
            if let phone {
                let holder = try String.fetchOne(db, sql: "SELECT id FROM accounts WHERE phone = ?", arguments: [phone.value])
                if let holder, holder != account.value {
                    throw SeedConflict(description: "the seed gives \(account) the phone \(phone), which is \(holder)'s phone of record")
                }
                if let stored = try String.fetchOne(db, sql: "SELECT phone FROM accounts WHERE id = ?", arguments: [account.value]), stored != phone.value {
                    throw SeedConflict(description: "the seed gives \(account) the phone \(phone); the bank holds \(stored) for it")
                }
                try db.execute(sql: "UPDATE accounts SET phone = ? WHERE id = ? AND phone IS NULL", arguments: [phone.value, account.value])
            }
            if let (id, mode) = receiver,
                let stored = try String.fetchOne(try db.cachedStatement(sql: "SELECT mode FROM receivers WHERE id = ?"), arguments: [id.value]),
                stored != mode.rawValue
            {
                throw SeedConflict(
                    description: "the seed says receiver \(id) is \(mode.rawValue), the bank holds it as \(stored): change a mode explicitly (control action set-mode), not by seeding")
            }
            guard try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM accounts WHERE id = ?"), arguments: [account.value]) == nil else { return }
            try db.cachedStatement(sql: "INSERT INTO accounts (id, phone) VALUES (?, ?)").execute(arguments: [account.value, phone?.value])
            if let (id, mode) = receiver {
                try db.cachedStatement(sql: "INSERT INTO receivers (id, account, mode) VALUES (?, ?, ?)").execute(arguments: [id.value, account.value, mode.rawValue])
            }
            if deposit > .zero { try Self.post(db, Posting(from: .deposits, to: .bank(account), amount: deposit), requestID: nil) }
        }
    }

    public func accountExists(_ id: AccountID) throws -> Bool {
        try database.read { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM accounts WHERE id = ?"), arguments: [id.value]) != nil }
    }

    public func owner(of id: AccountID) throws -> AccountOwnerRecord? {
        try database.read { db -> AccountOwnerRecord? in
            guard let row = try Row.fetchOne(db, sql: "SELECT phone FROM accounts WHERE id = ?", arguments: [id.value]) else { return nil }
            let phone: String? = row["phone"]
            let receiver = try String.fetchOne(db, sql: "SELECT id FROM receivers WHERE account = ?", arguments: [id.value])
            return AccountOwnerRecord(
                phone: try phone.map { text in try valid { try PhoneNumber(text) } }, receiver: try receiver.map { text in try valid { try ReceiverID(text) } })
        }
    }

    public func receiver(_ id: ReceiverID) throws -> ReceiverRecord? {
        // Through the C API: every coin an online merchant has verified reads its receiver.
        try database.read { db in
            let statement = try RawStatement(db, "SELECT account, mode FROM receivers WHERE id = ?")
            defer { statement.reset() }
            try statement.bind(1, id.value)
            guard try statement.step() else { return nil }
            let account = statement.text(0)
            let mode = statement.text(1)
            return ReceiverRecord(id: id, account: try valid { try AccountID(account) }, mode: try Self.mode(mode))
        }
    }

    public func balance(_ account: LedgerAccount) throws -> Amount {
        try database.read { db in Amount(paise: try Int64.fetchOne(try db.cachedStatement(sql: "SELECT balance FROM ledger_balances WHERE account = ?"), arguments: [account.name]) ?? 0) }
    }

    public func voucher(_ id: VoucherID) throws -> BankVoucher? {
        try database.read { db in try Self.voucher(db, id) }
    }

    /// A voucher's row by id (every coin the bank verifies or redeems reads one): through the C API.
    static func voucher(_ db: Database, _ id: VoucherID) throws -> BankVoucher? {
        let statement = try RawStatement(db, "SELECT \(Self.voucherColumns) FROM vouchers WHERE id = ?")
        defer { statement.reset() }
        try statement.bind(1, id.raw)
        guard try statement.step() else { return nil }
        return try voucher(statement)
    }

    public func voucher(root: Bytes32) throws -> BankVoucher? {
        try database.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(Self.voucherColumns) FROM vouchers WHERE root = ? AND scheme = 1"), arguments: [root.data]).map(Self.voucher)
        }
    }

    public func hasLiveVouchers(for receiver: ReceiverID) throws -> Bool {
        try database.read { db in
            try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM vouchers WHERE receiver = ? AND state != 2 LIMIT 1"), arguments: [receiver.value]) != nil
        }
    }

    public func isCodeCredited(_ codeHash: Bytes32) throws -> Bool {
        try database.read { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM credited_codes WHERE code_hash = ?"), arguments: [codeHash.data]) != nil }
    }

    public func closingVouchers(limit: Int) throws -> [BankVoucher] {
        try database.read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.voucherColumns) FROM vouchers WHERE state = 1 ORDER BY refund_at, id LIMIT ?"), arguments: [limit]).map(Self.voucher)
        }
    }

    // MARK: Journal

    public func inGroup(_ body: () throws -> Void) throws { try database.inGroup(body) }

    public func stage(_ batch: BankBatch) throws {
        try database.staged { db in
            try BankBatchRules.checkPostings(batch.postings)
            for posting in batch.postings { try Self.post(db, posting, requestID: nil) }
            for row in batch.vouchers {
                let before = try Self.voucher(db, row.commitment.voucherID)
                try BankBatchRules.checkVoucher(row, before: before)
                try Self.save(db, row)
            }
            for code in batch.creditedCodes {
                try db.cachedStatement(sql: "INSERT INTO credited_codes (code_hash) VALUES (?)").execute(arguments: [code.data])
            }
            for (id, mode) in batch.modes {
                try db.cachedStatement(sql: "UPDATE receivers SET mode = ? WHERE id = ?").execute(arguments: [mode.rawValue, id.value])
                guard db.changesCount == 1 else { throw StoreError("no receiver \(id)") }
            }
        }
    }

    public func stageAnswer(_ record: AnswerRecord) throws { try database.staged { db in try AnswerTable.store(db, record) } }
    public func answer(for key: AnswerKey) throws -> AnswerRecord? { try database.read { db in try AnswerTable.fetch(db, key) } }
    public func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { try database.staged { db in try AnswerTable.prune(db, before: before, limit: limit) } }

    /// How many answers are kept (permanent records included).
    public func answerCount() throws -> Int { try database.read { db in try AnswerTable.count(db) } }

    public func ledger() throws -> [LedgerAccount: Amount] {
        try database.read { db in
            var out: [LedgerAccount: Amount] = [:]
            for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT account, balance FROM ledger_balances")) {
                let name: String = row["account"]
                guard let account = LedgerAccount(name: name) else { throw DatabaseCorruption("ledger account \(name)") }
                out[account] = Amount(paise: row["balance"])
            }
            return out
        }
    }

    public func journal() throws -> [Posting] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT debit, credit, amount FROM ledger_entries ORDER BY id").map { row in
                let debit: String = row["debit"]
                let credit: String = row["credit"]
                guard let from = LedgerAccount(name: debit), let to = LedgerAccount(name: credit) else { throw DatabaseCorruption("journal entry \(debit) -> \(credit)") }
                return Posting(from: from, to: to, amount: Amount(paise: row["amount"]))
            }
        }
    }

    public func allAccounts() throws -> [AccountID] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT id FROM accounts ORDER BY id").map { id in try valid { try AccountID(id) } } }
    }

    /// A receiver's stored mode; anything but offline or online is a corrupt file.
    static func mode(_ stored: String) throws -> MerchantMode {
        guard let mode = MerchantMode(rawValue: stored) else { throw DatabaseCorruption("receiver mode \(stored)") }
        return mode
    }

    public func allReceivers() throws -> [ReceiverRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, account, mode FROM receivers ORDER BY id").map { row in
                ReceiverRecord(
                    id: try valid { try ReceiverID(row["id"]) }, account: try valid { try AccountID(row["account"]) },
                    mode: try Self.mode(row["mode"]))
            }
        }
    }

    public func allVouchers() throws -> [BankVoucher] {
        try database.read { db in try Row.fetchAll(try db.cachedStatement(sql: "SELECT \(Self.voucherColumns) FROM vouchers")).map(Self.voucher) }
    }

    /// One posting: an entry row and both balances, refusing to take a non-external account
    /// below zero (the transaction then rolls back whole).
    static func post(_ db: Database, _ posting: Posting, requestID: Data?) throws {
        guard posting.amount > .zero else { return }
        precondition(posting.from != posting.to, "a posting moves money between two accounts")
        // Through the C API: every credit of a verification or a redemption posts.
        let entry = try RawStatement(db, "INSERT INTO ledger_entries (request_id, debit, credit, amount) VALUES (?, ?, ?, ?)")
        defer { entry.reset() }
        try entry.bind(1, requestID.map { Array($0) })
        try entry.bind(2, posting.from.name)
        try entry.bind(3, posting.to.name)
        try entry.bind(4, posting.amount.paise)
        while try entry.step() {}
        for (account, delta) in [(posting.from, -posting.amount.paise), (posting.to, posting.amount.paise)] {
            let read = try RawStatement(db, "SELECT balance FROM ledger_balances WHERE account = ?")
            try read.bind(1, account.name)
            let current = try read.step() ? read.int64(0) : 0
            read.reset()
            let (next, overflow) = current.addingReportingOverflow(delta)
            guard !overflow else { throw StoreError("\(account) overflows") }
            guard next >= 0 || account.isExternal else { throw StoreError("\(account) would go negative (\(Amount(paise: next)))") }
            let write = try RawStatement(db, "INSERT OR REPLACE INTO ledger_balances (account, balance) VALUES (?, ?)")
            defer { write.reset() }
            try write.bind(1, account.name)
            try write.bind(2, next)
            while try write.step() {}
        }
    }

    static func save(_ db: Database, _ row: BankVoucher) throws {
        let c = row.commitment
        var state = 0
        var refundAt: Int64?
        var destination: Int?
        var unloadID: Data?
        var refunded: Int64?
        switch row.state {
        case .open: state = 0
        case .closing(let at, let to, let id):
            state = 1
            refundAt = at.secondsSinceEpoch
            destination = Int(to.rawValue)
            unloadID = id.raw.data
        case .closed(let amount, let id):
            state = 2
            refunded = amount.paise
            unloadID = id?.raw.data
        }
        let statement = try RawStatement(db, """
            INSERT INTO vouchers (id, account, scheme, receiver, denomination, length, root, expiry, owner_key, key_id,
              redeemed_index, redeemed_value, state, refund_at, destination, unload_id, refunded)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET account = excluded.account, redeemed_index = excluded.redeemed_index, redeemed_value = excluded.redeemed_value,
              state = excluded.state, refund_at = excluded.refund_at, destination = excluded.destination, unload_id = excluded.unload_id,
              refunded = excluded.refunded
            """)
        defer { statement.reset() }
        try statement.bind(1, c.voucherID.raw)
        try statement.bind(2, row.account?.value)
        try statement.bind(3, Int64(c.scheme.rawValue))
        try statement.bind(4, c.receiverID.value)
        try statement.bind(5, c.denomination.rupees)
        try statement.bind(6, Int64(c.length.value))
        try statement.bind(7, c.root.bytes)
        try statement.bind(8, c.expiry.secondsSinceEpoch)
        try statement.bind(9, c.ownerKey.raw.bytes)
        try statement.bind(10, c.keyID.bytes)
        try statement.bind(11, Int64(row.redeemed.index))
        try statement.bind(12, row.redeemed.value.bytes)
        try statement.bind(13, Int64(state))
        try statement.bind(14, refundAt)
        try statement.bind(15, destination.map { Int64($0) })
        try statement.bind(16, unloadID.map { Array($0) })
        try statement.bind(17, refunded)
        while try statement.step() {}
    }

    /// The columns `voucher(_:)` reads, by position (a lookup by name lowercases the name each
    /// time: 1.5% of the bank's time under online payments).
    static let voucherColumns = """
        id, account, scheme, receiver, denomination, length, root, expiry, owner_key, key_id, redeemed_index, redeemed_value, state, refund_at, \
        destination, unload_id, refunded
        """

    static func voucher(_ row: some ColumnReader) throws -> BankVoucher {
        let denomination = row.int64(4)
        let keyID = row.bytes(9)
        let ownerKey = row.bytes(8)
        let schemeNumber = row.int64(2)
        guard let denomination = Denomination(rupees: denomination), let keyID = KeyID(keyID), let owner = SigningPublicKey(ownerKey),
            let scheme = SignatureScheme(rawValue: UInt8(clamping: schemeNumber))
        else {
            throw DatabaseCorruption("voucher row")
        }
        let account: String? = row.isNull(1) ? nil : row.text(1)
        func bytes16(_ column: Int32) throws -> Bytes16 {
            guard let value = Bytes16(row.bytes(column)) else { throw DatabaseCorruption("column \(column) of a voucher row is not 16 bytes") }
            return value
        }
        func bytes32(_ column: Int32) throws -> Bytes32 {
            guard let value = Bytes32(row.bytes(column)) else { throw DatabaseCorruption("column \(column) of a voucher row is not 32 bytes") }
            return value
        }
        let commitment = VoucherCommitment(
            scheme: scheme, voucherID: VoucherID(try bytes16(0)), receiverID: try valid { try ReceiverID(row.text(3)) },
            denomination: denomination, length: try valid { try ChainLength(Int(row.int64(5))) }, root: try bytes32(6),
            expiry: Timestamp(secondsSinceEpoch: row.int64(7)), ownerKey: owner, keyID: keyID)
        let state: BankVoucherState
        switch row.int64(12) {
        case 0: state = .open
        case 1:
            guard let destination = UnloadDestination(rawValue: UInt8(clamping: row.int64(14))) else { throw DatabaseCorruption("destination") }
            state = .closing(refundAt: Timestamp(secondsSinceEpoch: row.int64(13)), destination: destination, unloadID: RequestID(try bytes16(15)))
        default:
            state = .closed(refunded: Amount(paise: row.int64(16)), unloadID: row.isNull(15) ? nil : RequestID(try bytes16(15)))
        }
        return BankVoucher(
            commitment: commitment, account: try account.map { text in try valid { try AccountID(text) } },
            redeemed: ChainPosition(index: Int(row.int64(10)), value: try bytes32(11)), state: state)
    }

    /// Live bytes per table and index (SQLite's dbstat), for storage figures.
    public func tableBytes() throws -> [String: Int] {
        try database.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, SUM(pgsize - unused) AS bytes FROM dbstat GROUP BY name") {
                out[row["name"]] = row["bytes"]
            }
            return out
        }
    }

    /// Folds the write-ahead log into the database file (for measuring its size). The background
    /// checkpointer may hold the log for a moment: ask again until it lets go.
    public func checkpoint() throws {
        for attempt in 1...100 {
            do {
                return try database.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 100 {
                usleep(10_000)
            }
        }
    }
}

/// A bank seed that contradicts what the bank holds.
public struct SeedConflict: Error, CustomStringConvertible {
    public let description: String
}
