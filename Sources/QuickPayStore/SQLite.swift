import Foundation
import GRDB
import QuickPayCore

/// Opens an actor's SQLite file in WAL mode (GRDB's DatabasePool) and runs its migrations.
/// Every store commits one transaction per actor step; `synchronous = FULL` so that a commit is
/// on disk before the step's reply leaves.
enum SQLite {
    /// `autoCheckpoint` false: the caller checkpoints the WAL itself (see `Checkpointer`).
    static func open(path: String, migrator: DatabaseMigrator, autoCheckpoint: Bool = true) throws -> DatabasePool {
        var configuration = Configuration()
        // Another connection (the checkpointer) may hold a lock for a moment: wait, do not fail.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // 8 MiB of page cache per connection (a bound: memory stays flat as the file grows).
            try db.execute(sql: "PRAGMA cache_size = -8192")
            if !autoCheckpoint { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try migrator.migrate(pool)
        return pool
    }
}

/// An actor's database with group commit: `inGroup` runs many actor steps inside one write
/// transaction, each step's `write` in a savepoint of its own (a step that fails rolls back
/// alone), and commits once at the end: one fsync for the whole group. Reads inside a group
/// see the group's writes. Outside a group, every `write` is its own durable transaction.
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

    func write(_ body: (Database) throws -> Void) throws {
        if let group {
            // A savepoint per step, its statements compiled once: a step that fails rolls back alone.
            try group.cachedStatement(sql: "SAVEPOINT step").execute()
            do {
                try body(group)
            } catch {
                try group.cachedStatement(sql: "ROLLBACK TO SAVEPOINT step").execute()
                try group.cachedStatement(sql: "RELEASE SAVEPOINT step").execute()
                throw error
            }
            try group.cachedStatement(sql: "RELEASE SAVEPOINT step").execute()
        } else {
            try pool.write(body)
        }
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
/// readers) copies the pages every 50 ms, and once a second a truncating one, which waits for a
/// gap between the writer's transactions and holds the writer back only for the few pages left,
/// empties the log: under steady writes a passive checkpoint alone never lets it restart.
final class Checkpointer: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let lock = NSLock()
    private var stopping = false

    init(path: String, intervalMilliseconds: UInt32 = 50, truncateEvery: Int = 20) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(0.02)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        // The thread holds the checkpointer weakly: it ends soon after the store is released.
        let thread = Thread { [weak self] in
            var round = 0
            while true {
                usleep(intervalMilliseconds * 1000)
                guard let checkpointer = self, !checkpointer.stopped else { return }
                round += 1
                let kind: Database.CheckpointMode = round % truncateEvery == 0 ? .truncate : .passive
                _ = try? checkpointer.queue.writeWithoutTransaction { db in try db.checkpoint(kind) }
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
