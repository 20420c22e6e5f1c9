import CSQLiteConfig
import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// Opens an actor's SQLite file in WAL mode (GRDB's DatabasePool) and runs its migrations.
/// Every store commits one transaction per actor step; `synchronous = FULL` so that a commit is
/// on disk before the step's reply leaves.
enum SQLite {
    /// SQLite's process-wide set-up, once, before the first connection: no memory statistics
    /// (with them, every allocation SQLite makes takes a global mutex: 6% of the bank's thread
    /// under the online load). False if SQLite was already in use (a connection opened
    /// elsewhere first): it then keeps counting, which is only slower.
    static let processSetUp: Bool = quickpay_sqlite_no_memstatus() == SQLITE_OK

    /// Whether SQLite counts the memory it uses (it does unless `processSetUp` took).
    static var countsMemory: Bool { sqlite3_memory_used() > 0 }

    /// `autoCheckpoint` false: the caller checkpoints the WAL itself (see `Checkpointer`).
    static func open(path: String, migrator: DatabaseMigrator, autoCheckpoint: Bool = true) throws -> DatabasePool {
        _ = processSetUp
        var configuration = Configuration()
        // Another connection (the checkpointer) may hold a lock for a moment: wait, do not fail.
        configuration.busyMode = SQLite.pollingBusyMode(seconds: 5)
        configuration.prepareDatabase { db in
            // 8 MiB of page cache per connection (a bound: memory stays flat as the file grows).
            try db.execute(sql: "PRAGMA cache_size = -8192")
            // The checkpointer restarts the log without truncating it; after a burst, a restart
            // cuts the file back to 64 MiB.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            if !autoCheckpoint { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        }
        try DataFiles.preparePrivate(path)
        let pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB turns WAL on after `prepareDatabase` has run, and sets `synchronous = NORMAL` on
        // its writer as it does (a commit then survives a crash of the process, not of the
        // machine): FULL again here, on the one connection that writes, and checked.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else { throw StoreError("\(path): synchronous = FULL did not take") }
        }
        try migrator.migrate(pool)
        return pool
    }

    /// Waits for a lock by trying again every 100 µs, up to `seconds`. SQLite's own busy
    /// timeout sleeps 1, 2, 5, 10, 15, 20 ms... between tries: a writer that met the
    /// checkpointer's lock slept 53 ms although the lock was free after a few, once a second
    /// (the merchant's whole p99 at 8,000 payments/s).
    static func pollingBusyMode(seconds: Double) -> Database.BusyMode {
        let tries = Int(seconds * 10_000)
        return .callback { numberOfTries in
            guard numberOfTries < tries else { return false }
            usleep(100)
            return true
        }
    }
}

/// An actor's data is its owner's alone: a folder made for it 0700, its database file 0600
/// (created so, or put back so if it was not; SQLite gives the -wal and -shm files the
/// database's mode). The actors' own data folders are checked at start-up (`ActorOptions`).
public enum DataFiles {
    public static func preparePrivate(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError("cannot create \(path)")
            }
        }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }
}

/// An actor's database with group commit: `inGroup` runs the host's group (every step of a
/// drain) inside one write transaction and commits once at the end: one fsync for the whole
/// group; if anything in it throws, all of it rolls back. Reads inside a group see the group's
/// writes. Outside a group (seeding, start-up), every `write` is its own durable transaction.
final class GroupedDatabase {
    let pool: DatabasePool
    /// The open write transaction of the current group (only while `inGroup` runs, on its thread).
    private var group: Database?

    let checkpointer: Checkpointer

    init(path: String, migrator: DatabaseMigrator) throws {
        pool = try SQLite.open(path: path, migrator: migrator, autoCheckpoint: false)
        checkpointer = try Checkpointer(path: path)
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        if let group { return try body(group) }
        return try pool.read(body)
    }

    /// Inside a group: part of the group's transaction (a failure fails the group). Outside:
    /// a transaction of its own.
    func write(_ body: (Database) throws -> Void) throws {
        if let group {
            try body(group)
        } else {
            try pool.write(body)
        }
    }

    /// A write that belongs to the host's group: refused outside one.
    func staged<T>(_ body: (Database) throws -> T) throws -> T {
        guard let group else { throw StoreError("a batch is staged only inside the host's group commit") }
        return try body(group)
    }

    var inOpenGroup: Bool { group != nil }

    func inGroup(_ body: () throws -> Void) throws {
        precondition(group == nil, "groups do not nest")
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                group = db
                defer { group = nil }
                try body()
                return .commit
            }
        }
    }
}

/// Copies the write-ahead log into the database file from a thread and connection of its own.
/// SQLite's automatic checkpoint runs inside the commit that crosses 1,000 pages, on the
/// actor's thread: a stall of several milliseconds every few hundred commits, which was most of
/// the merchant's p99 under load. Here a passive checkpoint (it never blocks the writer or
/// readers) copies the pages every 50 ms, and every 100 ms a restarting one follows it at once:
/// it holds the writer back only for the frames written in between, and lets the writer start
/// the log from its beginning (under steady writes a passive checkpoint alone never does, and
/// the log grew to 589 MB in 25 s). `journal_size_limit` cuts the file back after a burst.
final class Checkpointer: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let lock = NSLock()
    private var stopping = false

    init(path: String, intervalMilliseconds: UInt32 = 50, restartEvery: Int = 2) throws {
        var configuration = Configuration()
        configuration.busyMode = SQLite.pollingBusyMode(seconds: 0.02)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        // The thread holds the checkpointer weakly: it ends soon after the store is released.
        let thread = Thread { [weak self] in
            var round = 0
            while true {
                usleep(intervalMilliseconds * 1000)
                guard let checkpointer = self, !checkpointer.stopped else { return }
                round += 1
                // The passive checkpoint copies the log without blocking anyone. A restarting one,
                // which holds the writer back while it copies and syncs, follows it at once every
                // few rounds, so that it finds only the frames written meanwhile.
                _ = try? checkpointer.queue.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                if round % restartEvery == 0 { _ = try? checkpointer.queue.writeWithoutTransaction { db in try db.checkpoint(.restart) } }
            }
        }
        thread.name = "sqlite-checkpoint"
        thread.start()
    }

    var stopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
    }

    deinit { stop() }
}

extension Bytes32 {
    var data: Data { Data(bytes) }
    init(data: Data) throws {
        guard let value = Bytes32(data) else { throw DatabaseCorruption("expected 32 bytes, found \(data.count)") }
        self = value
    }
}

extension Bytes16 {
    var data: Data { Data(bytes) }
    init(data: Data) throws {
        guard let value = Bytes16(data) else { throw DatabaseCorruption("expected 16 bytes, found \(data.count)") }
        self = value
    }
}

/// A row that does not decode into a valid value: the file was changed outside QuickPay.
struct DatabaseCorruption: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "database holds an invalid value: \(description)" }
}

/// Unwraps a typed-throwing constructor inside GRDB's untyped closures.
func valid<T>(_ make: () throws -> T) throws -> T {
    do { return try make() } catch let error as QuickPayError { throw DatabaseCorruption(error.message) }
}

/// The idempotency records of an actor (`AnswerRecord`): one row per request id in creation
/// order, with a unique index on the id; pruning walks them in order from a saved watermark,
/// dropping the answers of permanent ids and the whole row of the others.
enum AnswerTable {
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE answers (
              scope INTEGER NOT NULL, request_id BLOB NOT NULL, digest BLOB NOT NULL, outcome INTEGER NOT NULL,
              answer BLOB, permanent INTEGER NOT NULL CHECK (permanent IN (0, 1)), created_at INTEGER NOT NULL);
            CREATE UNIQUE INDEX answers_key ON answers(request_id, scope);
            CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
            """)
    }

    /// Moves the old reply cache (v2: request id, digest, reply) into the answers table.
    static func migrate(fromReplies db: Database, hasCreatedAt: Bool) throws {
        try create(db)
        try db.execute(sql: """
            INSERT INTO answers (scope, request_id, digest, outcome, answer, permanent, created_at)
            SELECT 0, request_id, substr(digest, 1, 16), 0, reply, 0, \(hasCreatedAt ? "created_at" : "unixepoch()") FROM replies;
            DROP TABLE replies;
            """)
    }

    /// Every request with an idempotency policy looks here first (most find nothing): through
    /// the C API (`RawStatement`).
    static func fetch(_ db: Database, _ key: AnswerKey) throws -> AnswerRecord? {
        let statement = try RawStatement(db, "SELECT digest, outcome, answer, permanent, created_at FROM answers WHERE request_id = ? AND scope = ?")
        defer { statement.reset() }
        try statement.bind(1, key.requestID.raw)
        try statement.bind(2, Int64(bitPattern: key.scope))
        guard try statement.step() else { return nil }
        guard let digest = Bytes16(statement.bytes(0)) else { throw DatabaseCorruption("an answer's digest is not 16 bytes") }
        let outcome = statement.int64(1)
        let answer = statement.isNull(2) ? nil : statement.bytes(2)
        return AnswerRecord(
            key: key, digest: digest, answer: try answer.map { bytes in try valid { try Body(serializedBytes: bytes) } },
            outcome: outcome == 0 ? .done : .refused(try valid { () throws(QuickPayError) -> ErrorCode in
                guard let code = ErrorCode(rawValue: UInt16(clamping: outcome)) else { throw QuickPayError(.internal, "outcome \(outcome)") }
                return code
            }),
            permanent: statement.int64(3) != 0, createdAt: Timestamp(secondsSinceEpoch: statement.int64(4)))
    }

    static func store(_ db: Database, _ record: AnswerRecord) throws {
        let outcome: Int
        switch record.outcome {
        case .done: outcome = 0
        case .refused(let code): outcome = Int(code.rawValue)
        }
        let statement = try RawStatement(db, """
            INSERT INTO answers (scope, request_id, digest, outcome, answer, permanent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (request_id, scope) DO UPDATE SET digest = excluded.digest, outcome = excluded.outcome, answer = excluded.answer,
              permanent = excluded.permanent, created_at = excluded.created_at
            """)
        defer { statement.reset() }
        try statement.bind(1, Int64(bitPattern: record.key.scope))
        try statement.bind(2, record.key.requestID.raw)
        try statement.bind(3, record.digest)
        try statement.bind(4, Int64(outcome))
        try statement.bind(5, record.answer.map { record.encodedAnswer ?? $0.serializedBytes() })
        try statement.bind(6, record.permanent ? 1 : 0)
        try statement.bind(7, record.createdAt.secondsSinceEpoch)
        while try statement.step() {}
    }

    /// The last rowid pruning has passed: every row at or below it was pruned (or is a permanent
    /// id without its answer).
    static func pruneWatermark(_ db: Database) throws -> Int64 {
        guard try db.tableExists("meta") else { return 0 }
        return try Int64.fetchOne(try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'answers_pruned'")) ?? 0
    }

    /// Prunes up to `limit` rows created before `before`, from the watermark on; returns how many.
    static func prune(_ db: Database, before: Timestamp, limit: Int) throws -> Int {
        let watermark = try pruneWatermark(db)
        // Rows in creation order from the watermark, up to the first one still retained.
        var last: Int64?
        for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT rowid, created_at FROM answers WHERE rowid > ? ORDER BY rowid LIMIT ?"), arguments: [watermark, limit]) {
            guard (row["created_at"] as Int64) < before.secondsSinceEpoch else { break }
            last = row["rowid"]
        }
        guard let last else { return 0 }
        try db.cachedStatement(sql: "DELETE FROM answers WHERE rowid > ? AND rowid <= ? AND permanent = 0").execute(arguments: [watermark, last])
        var count = db.changesCount
        try db.cachedStatement(sql: "UPDATE answers SET answer = NULL WHERE rowid > ? AND rowid <= ? AND permanent = 1").execute(arguments: [watermark, last])
        count += db.changesCount
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('answers_pruned', ?)").execute(arguments: [last])
        return count
    }

    static func count(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM answers") ?? 0 }
}

/// Counts a table's rows on a read-only connection of the caller's own (the metrics thread:
/// in WAL mode it neither blocks nor waits for the actor's writer). nil if the file or the
/// table is not there.
public enum SQLiteCount {
    /// Answers kept in full for retries: the rows after the prune watermark (rowids grow with
    /// each answer; everything at or below the watermark was pruned or kept as a permanent id).
    /// Two index lookups, never a scan: a long read would hold back the checkpointer's restart.
    public static func answersKept(in path: String) -> Int? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(0.2)
        guard let queue = try? DatabaseQueue(path: path, configuration: configuration) else { return nil }
        return try? queue.read { db in
            guard try db.tableExists("answers") else { return nil }
            let newest = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM answers") ?? 0
            let watermark = try AnswerTable.pruneWatermark(db)
            return Int(max(0, newest - watermark))
        }
    }
}
