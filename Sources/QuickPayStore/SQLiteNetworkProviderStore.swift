import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol

/// The network provider's SQLite store: undelivered SMS (in arrival order) and the report.
public final class SQLiteNetworkProviderStore: NetworkProviderStore {
    let database: GroupedDatabase

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE sms_queue (seq INTEGER PRIMARY KEY, sms_id BLOB NOT NULL UNIQUE, phone TEXT NOT NULL, text TEXT NOT NULL);
                CREATE INDEX sms_queue_phone ON sms_queue(phone);
                CREATE TABLE sms_report (seq INTEGER PRIMARY KEY, sms_id BLOB NOT NULL, phone TEXT NOT NULL, delivered INTEGER NOT NULL, fault TEXT);
                CREATE INDEX sms_report_id ON sms_report(sms_id);
                """)
        }
        migrator.registerMigration("v2-answers") { db in try AnswerTable.create(db) }
        // SMS wait sealed to their phone's SIM: no readable code at rest. Anything queued in
        // plaintext before is dropped (a code lives minutes; the user asks for another).
        migrator.registerMigration("v3-sealed-sms") { db in
            try db.execute(sql: """
                DROP TABLE sms_queue;
                CREATE TABLE sms_queue (seq INTEGER PRIMARY KEY, sms_id BLOB NOT NULL UNIQUE, phone TEXT NOT NULL, sealed BLOB NOT NULL);
                CREATE INDEX sms_queue_phone ON sms_queue(phone);
                CREATE TABLE sim_events (seq INTEGER PRIMARY KEY, phone TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL);
                """)
        }
        return migrator
    }

    public init(path: String) throws { database = try GroupedDatabase(path: path, migrator: Self.migrator) }

    public func inGroup(_ body: () throws -> Void) throws { try database.inGroup(body) }
    public func stageAnswer(_ record: AnswerRecord) throws { try database.staged { db in try AnswerTable.store(db, record) } }
    public func answer(for key: AnswerKey) throws -> AnswerRecord? { try database.read { db in try AnswerTable.fetch(db, key) } }
    public func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { try database.staged { db in try AnswerTable.prune(db, before: before, limit: limit) } }

    public func queued(for phone: PhoneNumber) throws -> [QueuedSms] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT sms_id, sealed FROM sms_queue WHERE phone = ? ORDER BY seq", arguments: [phone.value]).map { row in
                let sealed: Data = row["sealed"]
                return QueuedSms(smsID: try Bytes16(data: row["sms_id"]), phone: phone, sealed: Array(sealed))
            }
        }
    }

    public func simEvents() throws -> [SimEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT phone, kind, at FROM sim_events ORDER BY seq").map { row in
                SimEvent(phone: try valid { try PhoneNumber(row["phone"]) }, kind: row["kind"], at: Timestamp(secondsSinceEpoch: row["at"]))
            }
        }
    }

    public func stage(_ batch: NetworkProviderBatch) throws {
        try database.staged { db in
            for sms in batch.enqueue {
                try db.execute(sql: "INSERT OR IGNORE INTO sms_queue (sms_id, phone, sealed) VALUES (?, ?, ?)", arguments: [sms.smsID.data, sms.phone.value, Data(sms.sealed)])
            }
            for record in batch.records {
                try db.execute(
                    sql: "INSERT INTO sms_report (sms_id, phone, delivered, fault) VALUES (?, ?, ?, ?)",
                    arguments: [record.smsID.data, record.phone.value, record.delivered, record.fault])
            }
            for id in batch.delivered {
                try db.execute(sql: "DELETE FROM sms_queue WHERE sms_id = ?", arguments: [id.data])
                try db.execute(sql: "UPDATE sms_report SET delivered = 1 WHERE sms_id = ?", arguments: [id.data])
            }
            for id in batch.discarded {
                try db.execute(sql: "DELETE FROM sms_queue WHERE sms_id = ?", arguments: [id.data])
            }
            for event in batch.simEvents {
                try db.execute(sql: "INSERT INTO sim_events (phone, kind, at) VALUES (?, ?, ?)", arguments: [event.phone.value, event.kind, event.at.secondsSinceEpoch])
            }
        }
    }

    public func report(limit: Int) throws -> [SmsRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM sms_report ORDER BY seq DESC LIMIT ?) ORDER BY seq", arguments: [limit]).map { row in
                SmsRecord(
                    smsID: try Bytes16(data: row["sms_id"]), phone: try valid { try PhoneNumber(row["phone"]) }, delivered: row["delivered"],
                    fault: row["fault"])
            }
        }
    }
}
