import Foundation
import GRDB

/// What an attacker who copies the network provider's files finds: the SMS waiting for a
/// phone, and whether any of their text can be read. Read with plain SQL and plain bytes,
/// never through QuickPayStore.
public enum SecretsAtRest {
    public struct Finding: Sendable {
        /// SMS rows waiting for the phone.
        public var queued: Int
        /// Places in the database, its WAL or its journal where the text of an SMS shows in
        /// the clear ("QuickPay code"), with the file each was found in.
        public var readable: [String]
    }

    public static let marker = Array("QuickPay code".utf8)

    public static func networkProvider(_ path: String, phone: String) throws -> Finding {
        let queue = try SQLiteEvidence.open(path)
        let queued = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sms_queue WHERE phone = ?", arguments: [phone]) ?? 0 }
        var readable: [String] = []
        for file in [path, path + "-wal", path + "-journal"] {
            guard let bytes = FileManager.default.contents(atPath: file).map(Array.init) else { continue }
            let hits = occurrences(of: marker, in: bytes)
            if hits > 0 { readable.append("\(hits) in \((file as NSString).lastPathComponent)") }
        }
        return Finding(queued: queued, readable: readable)
    }

    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
        var count = 0
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle {
                count += 1
                index += needle.count
            } else {
                index += 1
            }
        }
        return count
    }
}
