import Foundation
import GRDB
import GRDBSQLite
import QuickPayCore

/// One of GRDB's cached statements driven through SQLite's C API: bind, step, read columns,
/// reset. For the statements every request runs (the answer table's lookup and insert), where
/// building `StatementArguments` and `Row`s (existential boxes, `Data` copies, column lookups by
/// name) cost more than SQLite's own work. Always left reset, as GRDB expects its cached
/// statements; errors are GRDB's `DatabaseError`.
struct RawStatement {
    let db: Database
    let statement: SQLiteStatement

    init(_ db: Database, _ sql: String) throws {
        self.db = db
        statement = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    /// SQLite copies the bytes (SQLITE_TRANSIENT).
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) throws { try check(sqlite3_bind_int64(statement, index, value)) }

    func bind(_ index: Int32, _ value: Int64?) throws {
        guard let value else { return try check(sqlite3_bind_null(statement, index)) }
        try bind(index, value)
    }

    func bind(_ index: Int32, _ value: String?) throws {
        guard var text = value else { return try check(sqlite3_bind_null(statement, index)) }
        try text.withUTF8 { try check(sqlite3_bind_text(statement, index, UnsafeRawPointer($0.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }, Int32($0.count), Self.transient)) }
    }

    func bind(_ index: Int32, _ bytes: [UInt8]?) throws {
        guard let bytes else { return try check(sqlite3_bind_null(statement, index)) }
        // An empty array has no base address: an empty blob, not NULL.
        guard !bytes.isEmpty else { return try check(sqlite3_bind_zeroblob(statement, index, 0)) }
        try bytes.withUnsafeBytes { try check(sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient)) }
    }

    func bind(_ index: Int32, _ value: Bytes16) throws {
        var big = (value.high.bigEndian, value.low.bigEndian)
        try withUnsafeBytes(of: &big) { try check(sqlite3_bind_blob(statement, index, $0.baseAddress, 16, Self.transient)) }
    }

    /// Steps once: true with a row to read, false when done. Resets on an error.
    func step() throws -> Bool {
        let code = sqlite3_step(statement)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            defer { sqlite3_reset(statement) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: String(cString: sqlite3_sql(statement)))
        }
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let base = sqlite3_column_text(statement, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: Int(sqlite3_column_bytes(statement, column))), as: UTF8.self)
    }

    func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let base = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    func reset() { sqlite3_reset(statement) }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}

/// The columns of one row, by position: a `RawStatement` on its row, or GRDB's `Row` (one
/// mapping from columns to values serves both).
protocol ColumnReader {
    func int64(_ column: Int32) -> Int64
    func isNull(_ column: Int32) -> Bool
    func bytes(_ column: Int32) -> [UInt8]
    func text(_ column: Int32) -> String
}

extension RawStatement: ColumnReader {}

extension Row: ColumnReader {
    func int64(_ column: Int32) -> Int64 { self[Int(column)] }
    func isNull(_ column: Int32) -> Bool { hasNull(atIndex: Int(column)) }
    func bytes(_ column: Int32) -> [UInt8] {
        let data: Data? = self[Int(column)]
        return data.map { Array($0) } ?? []
    }
    func text(_ column: Int32) -> String { self[Int(column)] }
}
