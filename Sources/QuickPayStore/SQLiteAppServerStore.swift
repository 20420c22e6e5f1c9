import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The app server's SQLite store: users (salted PBKDF2 hashes), OTP challenges (keyed hashes
/// only), sessions (token hashes only), prepaid codes (code hashes only), the reply cache.
public final class SQLiteAppServerStore: AppServerStore {
    let database: GroupedDatabase
    var pool: DatabasePool { database.pool }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                  username TEXT PRIMARY KEY NOT NULL, rounds INTEGER NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
                  phone TEXT NOT NULL, account TEXT NOT NULL, role INTEGER NOT NULL,
                  failed_attempts INTEGER NOT NULL, locked_until INTEGER);
                CREATE TABLE challenges (
                  id BLOB PRIMARY KEY NOT NULL, username TEXT NOT NULL, code_mac BLOB NOT NULL, expires_at INTEGER NOT NULL,
                  tries INTEGER NOT NULL, used INTEGER NOT NULL, sent_at INTEGER NOT NULL, resends INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE sessions (token_hash BLOB PRIMARY KEY NOT NULL, username TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE prepaid_codes (code_hash BLOB PRIMARY KEY NOT NULL, amount INTEGER NOT NULL, redeemed_by TEXT) WITHOUT ROWID;
                CREATE TABLE replies (request_id BLOB PRIMARY KEY NOT NULL, digest BLOB NOT NULL, reply BLOB NOT NULL) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-answers") { db in try AnswerTable.migrate(fromReplies: db, hasCreatedAt: false) }
        migrator.registerMigration("v3-challenge-used-by") { db in try db.execute(sql: "ALTER TABLE challenges ADD COLUMN used_by BLOB") }
        migrator.registerMigration("v4-owners") { db in
            // One user per phone and per bank account; a registration waits for its code.
            try db.execute(sql: """
                CREATE UNIQUE INDEX users_phone ON users(phone);
                CREATE UNIQUE INDEX users_account ON users(account);
                ALTER TABLE challenges ADD COLUMN reg_rounds INTEGER;
                ALTER TABLE challenges ADD COLUMN reg_salt BLOB;
                ALTER TABLE challenges ADD COLUMN reg_hash BLOB;
                ALTER TABLE challenges ADD COLUMN reg_phone TEXT;
                ALTER TABLE challenges ADD COLUMN reg_account TEXT;
                ALTER TABLE challenges ADD COLUMN reg_role INTEGER;
                """)
        }
        migrator.registerMigration("v5-login-locks") { db in
            // Wrong passwords per (client key, username) and their lockouts survive a restart.
            try db.execute(sql: """
                CREATE TABLE login_locks (key_hash BLOB NOT NULL, username TEXT NOT NULL, failures INTEGER NOT NULL,
                    lockouts INTEGER NOT NULL, until INTEGER, last_failure INTEGER NOT NULL, PRIMARY KEY (key_hash, username)) WITHOUT ROWID;
                CREATE INDEX login_locks_last_failure ON login_locks(last_failure);
                """)
        }
        migrator.registerMigration("v6-expiry-indexes") { db in
            // Expired sessions and challenges are deleted a thousand at a time: found by index.
            try db.execute(sql: """
                CREATE INDEX sessions_expires_at ON sessions(expires_at);
                CREATE INDEX challenges_expires_at ON challenges(expires_at);
                """)
        }
        return migrator
    }

    public init(path: String) throws { database = try GroupedDatabase(path: path, migrator: Self.migrator) }

    public func user(_ username: Username) throws -> UserRecord? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE username = ?", arguments: [username.value]).map(Self.user) }
    }

    public func user(phone: PhoneNumber) throws -> UserRecord? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE phone = ?", arguments: [phone.value]).map(Self.user) }
    }

    public func user(account: AccountID) throws -> UserRecord? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE account = ?", arguments: [account.value]).map(Self.user) }
    }

    public func loginLock(keyHash: Bytes32, username: String) throws -> LoginLockRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM login_locks WHERE key_hash = ? AND username = ?", arguments: [keyHash.data, username]).map {
                LoginLockRecord(
                    keyHash: keyHash, username: username, failures: $0["failures"], lockouts: $0["lockouts"],
                    until: ($0["until"] as Int64?).map(Timestamp.init(secondsSinceEpoch:)),
                    lastFailure: Timestamp(secondsSinceEpoch: $0["last_failure"]))
            }
        }
    }

    public func challenge(_ id: ChallengeID) throws -> ChallengeRecord? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM challenges WHERE id = ?", arguments: [id.raw.data]).map(Self.challenge) }
    }

    static func challenge(_ row: Row) throws -> ChallengeRecord {
        var draft: RegistrationDraft?
        if let rounds = row["reg_rounds"] as Int? {
            guard let role = Role(rawValue: UInt8(row["reg_role"] as Int)) else { throw DatabaseCorruption("reg_role") }
            draft = RegistrationDraft(
                passwordHash: PasswordHash(rounds: rounds, salt: try Bytes16(data: row["reg_salt"]), hash: try Bytes32(data: row["reg_hash"])),
                phone: try valid { try PhoneNumber(row["reg_phone"]) }, account: try valid { try AccountID(row["reg_account"]) }, role: role)
        }
        return ChallengeRecord(
            id: ChallengeID(try Bytes16(data: row["id"])), username: try valid { try Username(row["username"]) }, codeMAC: try Bytes32(data: row["code_mac"]),
            expiresAt: Timestamp(secondsSinceEpoch: row["expires_at"]), tries: row["tries"], used: row["used"],
            sentAt: Timestamp(secondsSinceEpoch: row["sent_at"]), resends: row["resends"],
            usedBy: try (row["used_by"] as Data?).map { RequestID(try Bytes16(data: $0)) }, registration: draft)
    }

    public func session(_ tokenHash: Bytes32) throws -> SessionRecord? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE token_hash = ?", arguments: [tokenHash.data]) else { return nil }
            return SessionRecord(tokenHash: tokenHash, username: try valid { try Username(row["username"]) }, expiresAt: Timestamp(secondsSinceEpoch: row["expires_at"]))
        }
    }

    public func prepaidCode(_ codeHash: Bytes32) throws -> PrepaidCodeRecord? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM prepaid_codes WHERE code_hash = ?", arguments: [codeHash.data]) else { return nil }
            let redeemedBy: String? = row["redeemed_by"]
            return PrepaidCodeRecord(codeHash: codeHash, amount: Amount(paise: row["amount"]), redeemedBy: try redeemedBy.map { name in try valid { try Username(name) } })
        }
    }

    public func inGroup(_ body: () throws -> Void) throws { try database.inGroup(body) }
    public func stageAnswer(_ record: AnswerRecord) throws { try database.staged { db in try AnswerTable.store(db, record) } }
    public func answer(for key: AnswerKey) throws -> AnswerRecord? { try database.read { db in try AnswerTable.fetch(db, key) } }
    public func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { try database.staged { db in try AnswerTable.prune(db, before: before, limit: limit) } }

    public func stage(_ batch: AppServerBatch) throws {
        try database.staged { db in
            for user in batch.users {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO users (username, rounds, salt, hash, phone, account, role, failed_attempts, locked_until)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        user.username.value, user.passwordHash.rounds, user.passwordHash.salt.data, user.passwordHash.hash.data,
                        user.phone.value, user.account.value, Int(user.role.rawValue), user.failedAttempts, user.lockedUntil?.secondsSinceEpoch,
                    ])
            }
            for c in batch.challenges {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO challenges (id, username, code_mac, expires_at, tries, used, sent_at, resends, used_by,
                          reg_rounds, reg_salt, reg_hash, reg_phone, reg_account, reg_role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        c.id.raw.data, c.username.value, c.codeMAC.data, c.expiresAt.secondsSinceEpoch, c.tries, c.used, c.sentAt.secondsSinceEpoch, c.resends, c.usedBy?.raw.data,
                        c.registration?.passwordHash.rounds, c.registration?.passwordHash.salt.data, c.registration?.passwordHash.hash.data,
                        c.registration?.phone.value, c.registration?.account.value, c.registration.map { Int($0.role.rawValue) },
                    ])
            }
            for s in batch.sessions {
                try db.execute(sql: "INSERT OR REPLACE INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)", arguments: [s.tokenHash.data, s.username.value, s.expiresAt.secondsSinceEpoch])
            }
            for ended in batch.endedSessions { try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [ended.data]) }
            for user in batch.endedSessionsOf { try db.execute(sql: "DELETE FROM sessions WHERE username = ?", arguments: [user.value]) }
            for lock in batch.loginLocks {
                if lock.isEmpty {
                    try db.execute(sql: "DELETE FROM login_locks WHERE key_hash = ? AND username = ?", arguments: [lock.keyHash.data, lock.username])
                } else {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO login_locks (key_hash, username, failures, lockouts, until, last_failure) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [lock.keyHash.data, lock.username, lock.failures, lock.lockouts, lock.until?.secondsSinceEpoch, lock.lastFailure.secondsSinceEpoch])
                }
            }
            if let before = batch.forgetLoginLocksBefore {
                try db.execute(
                    sql: """
                        DELETE FROM login_locks WHERE (key_hash, username) IN (SELECT key_hash, username FROM login_locks
                            WHERE last_failure < ? AND (until IS NULL OR until <= ?) LIMIT 1000)
                        """,
                    arguments: [before.secondsSinceEpoch, before.secondsSinceEpoch])
            }
            if let expired = batch.forgetExpired {
                try db.execute(
                    sql: "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions WHERE expires_at < ? ORDER BY expires_at LIMIT 1000)",
                    arguments: [expired.sessionsBefore.secondsSinceEpoch])
                try db.execute(
                    sql: "DELETE FROM challenges WHERE id IN (SELECT id FROM challenges WHERE expires_at < ? ORDER BY expires_at LIMIT 1000)",
                    arguments: [expired.challengesBefore.secondsSinceEpoch])
            }
            for code in batch.codes {
                try db.execute(sql: "INSERT OR REPLACE INTO prepaid_codes (code_hash, amount, redeemed_by) VALUES (?, ?, ?)", arguments: [code.codeHash.data, code.amount.paise, code.redeemedBy?.value])
            }
        }
    }

    public func allSessions() throws -> [SessionRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sessions").map { row in
                SessionRecord(tokenHash: try Bytes32(data: row["token_hash"]), username: try valid { try Username(row["username"]) }, expiresAt: Timestamp(secondsSinceEpoch: row["expires_at"]))
            }
        }
    }

    public func allChallenges() throws -> [ChallengeRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM challenges").map(Self.challenge)
        }
    }

    public func allUsers() throws -> [UserRecord] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM users").map(Self.user) }
    }

    static func user(_ row: Row) throws -> UserRecord {
        let locked: Int64? = row["locked_until"]
        guard let role = Role(rawValue: UInt8(row["role"] as Int)) else { throw DatabaseCorruption("role") }
        return UserRecord(
            username: try valid { try Username(row["username"]) },
            passwordHash: PasswordHash(rounds: row["rounds"], salt: try Bytes16(data: row["salt"]), hash: try Bytes32(data: row["hash"])),
            phone: try valid { try PhoneNumber(row["phone"]) }, account: try valid { try AccountID(row["account"]) }, role: role,
            failedAttempts: row["failed_attempts"], lockedUntil: locked.map { Timestamp(secondsSinceEpoch: $0) })
    }
}
