import Foundation
import GRDB

/// Whether the bank's records of a load and of the later redemption of the same voucher can be
/// tied together by a value: what the bank wrote during each (a snapshot of every table before
/// and after), compared byte for byte. Plain SQL over the bank's file; no QuickPay type.
///
/// Shared by design, and so not a link: the names of the float accounts (`float:key:<key id>`:
/// the key is the value, and everyone who loaded that value under that key is the voucher's
/// anonymity set, `anonymitySets`); and framing, not values: 16 bytes with 8 or more zeros
/// (an answer's envelope with its zero request id); ids, roots, keys and signatures are random.
public enum Linkability {
    /// One stored value: a text, or a blob of at least 8 bytes, and where it sits.
    public struct Cell: Hashable, Sendable {
        public var table: String
        public var column: String
        public var bytes: [UInt8]
        public var isText: Bool
        public init(table: String, column: String, bytes: [UInt8], isText: Bool) {
            self.table = table
            self.column = column
            self.bytes = bytes
            self.isText = isText
        }
    }

    /// Every text and blob value of every table of a SQLite file.
    public static func snapshot(_ path: String) throws -> [Cell] {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            var cells: [Cell] = []
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
            for table in tables {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"") {
                    for (column, value) in row {
                        switch value.storage {
                        case .string(let text): cells.append(Cell(table: table, column: column, bytes: Array(text.utf8), isText: true))
                        case .blob(let data) where data.count >= 8: cells.append(Cell(table: table, column: column, bytes: Array(data), isText: false))
                        default: break
                        }
                    }
                }
            }
            return cells
        }
    }

    /// The values in `after` that were not in `before` (as a multiset): what was written.
    public static func added(before: [Cell], after: [Cell]) -> [Cell] {
        var remaining: [Cell: Int] = [:]
        for cell in before { remaining[cell, default: 0] += 1 }
        var out: [Cell] = []
        for cell in after {
            if let count = remaining[cell], count > 0 { remaining[cell] = count - 1 } else { out.append(cell) }
        }
        return out
    }

    /// A value found in both records.
    public struct Link: Sendable, CustomStringConvertible {
        public var first: Cell
        public var second: Cell
        public var shared: [UInt8]
        public var description: String {
            let shown = first.isText ? String(decoding: shared, as: UTF8.self) : shared.map { String(format: "%02x", $0) }.joined()
            return "\(first.table).\(first.column) and \(second.table).\(second.column) share \(shown)"
        }
    }

    /// Values of `a` found in `b`: any 16 bytes in a row common to two blobs (ids, roots, keys,
    /// signatures are 16 bytes or more), and any text of 6 bytes or more found in a text or a
    /// blob of the other. Float account names and zero-filled framing are ignored (see above).
    public static func links(_ a: [Cell], _ b: [Cell], window: Int = 16) -> [Link] {
        func ignored(_ cell: Cell) -> Bool { cell.isText && String(decoding: cell.bytes, as: UTF8.self).hasPrefix("float:") }
        func framing(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.lazy.filter { $0 == 0 }.count >= window / 2 }
        let a = a.filter { !ignored($0) }, b = b.filter { !ignored($0) }
        var windows: [[UInt8]: Cell] = [:]
        for cell in a where !cell.isText && cell.bytes.count >= window {
            for start in 0...(cell.bytes.count - window) where !framing(cell.bytes[start..<(start + window)]) {
                windows[Array(cell.bytes[start..<(start + window)])] = cell
            }
        }
        var links: [Link] = []
        for cell in b where !cell.isText && cell.bytes.count >= window {
            for start in 0...(cell.bytes.count - window) {
                let slice = Array(cell.bytes[start..<(start + window)])
                if let first = windows[slice] {
                    links.append(Link(first: first, second: cell, shared: slice))
                    break
                }
            }
        }
        for (texts, others, flipped) in [(a, b, false), (b, a, true)] {
            for text in texts where text.isText && text.bytes.count >= 6 {
                if let other = others.first(where: { contains($0.bytes, text.bytes) }) {
                    links.append(flipped ? Link(first: other, second: text, shared: text.bytes) : Link(first: text, second: other, shared: text.bytes))
                }
            }
        }
        return links
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    /// Per blind key the bank holds (hex id): how many vouchers were issued under it (loads and
    /// refreshes) and by how many accounts loaded: among those, the bank cannot tell whose
    /// voucher a redemption is.
    public static func anonymitySets(_ path: String) throws -> [String: (vouchers: Int, accounts: Int)] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            var out: [String: (vouchers: Int, accounts: Int)] = [:]
            guard try db.tableExists("blind_keys") else { return out }
            for row in try Row.fetchAll(db, sql: """
                SELECT lower(hex(k.key_id)) AS id, k.denomination * k.length * 100 AS face,
                  (SELECT SUM(amount) FROM ledger_entries WHERE credit = 'float:key:' || lower(hex(k.key_id)) AND (debit LIKE 'bank:%' OR debit LIKE 'refresh:%')) AS loaded,
                  (SELECT COUNT(DISTINCT debit) FROM ledger_entries WHERE credit = 'float:key:' || lower(hex(k.key_id)) AND debit LIKE 'bank:%') AS accounts
                FROM blind_keys k
                """) {
                let loaded: Int64 = row["loaded"] ?? 0
                let face: Int64 = row["face"]
                guard loaded > 0, face > 0 else { continue }
                out[row["id"]] = (Int(loaded / face), row["accounts"])
            }
            return out
        }
    }
}
