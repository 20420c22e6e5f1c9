import Foundation
import GRDB

/// Reads the actors' SQLite files with plain SQL, read-only, for the auditor: never through
/// QuickPayStore, whose code is what is being audited. A folder is searched for `bank.sqlite`,
/// `merchant.sqlite` (the merchant is told by the vouchers it holds, or by a folder named
/// `merchant-<id>`) and `appserver.sqlite`.
public enum SQLiteEvidence {
    public struct Files: Sendable {
        public var bank: String?
        public var merchants: [String] = []
        public var appServer: String?
        public init(bank: String? = nil, merchants: [String] = [], appServer: String? = nil) {
            self.bank = bank
            self.merchants = merchants
            self.appServer = appServer
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The files under each folder (searched to any depth).
    public static func find(in folders: [String]) -> Files {
        var files = Files()
        for folder in folders {
            let enumerator = FileManager.default.enumerator(atPath: folder)
            if FileManager.default.fileExists(atPath: folder), enumerator == nil { classify(folder, into: &files) }
            while let path = enumerator?.nextObject() as? String { classify("\(folder)/\(path)", into: &files) }
        }
        return files
    }

    static func classify(_ path: String, into files: inout Files) {
        switch (path as NSString).lastPathComponent {
        case "bank.sqlite": files.bank = path
        case "merchant.sqlite": files.merchants.append(path)
        case "appserver.sqlite": files.appServer = path
        default: break
        }
    }

    static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    public static func read(_ files: Files) throws -> AuditData {
        guard let bankPath = files.bank else { throw Failure(description: "no bank.sqlite found") }
        var data = AuditData()
        try open(bankPath).read { db in
            for row in try Row.fetchAll(db, sql: "SELECT account, balance FROM ledger_balances") { data.balances[row["account"]] = row["balance"] }
            data.journal = try Row.fetchAll(db, sql: "SELECT debit, credit, amount FROM ledger_entries ORDER BY id").map {
                AuditData.Entry(debit: $0["debit"], credit: $0["credit"], amountPaise: $0["amount"])
            }
            data.accounts = Set(try String.fetchAll(db, sql: "SELECT id FROM accounts"))
            if try db.columns(in: "accounts").contains(where: { $0.name == "phone" }) {
                for row in try Row.fetchAll(db, sql: "SELECT id, phone FROM accounts WHERE phone IS NOT NULL") { data.phones[row["id"]] = row["phone"] }
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, account, mode FROM receivers") { data.receivers[row["id"]] = (row["account"], row["mode"]) }
            // Blind vouchers (scheme 2) since the bank's v5: their key and the keys' values.
            let blind = try db.tableExists("blind_keys")
            data.vouchers = try Row.fetchAll(db, sql: """
                SELECT hex(id) AS id, account, receiver, denomination, length, hex(root) AS root, redeemed_index, state, refunded,
                  \(blind ? "CASE scheme WHEN 2 THEN lower(hex(key_id)) END" : "NULL") AS blind_key FROM vouchers
                """).map { row in
                    AuditData.Voucher(
                        id: (row["id"] as String).lowercased(), account: row["account"], receiver: row["receiver"], denominationRupees: row["denomination"],
                        length: row["length"], root: row["root"], redeemedIndex: row["redeemed_index"], state: row["state"],
                        refundedPaise: (row["refunded"] as Int64?) ?? 0, blindKey: row["blind_key"])
                }
            if blind {
                for row in try Row.fetchAll(db, sql: "SELECT lower(hex(key_id)) AS id, denomination, length FROM blind_keys") {
                    data.blindKeys[row["id"]] = (row["denomination"], row["length"])
                }
            }
        }
        let receiverOf = Dictionary(data.vouchers.map { ($0.id, $0.receiver) }, uniquingKeysWith: { a, _ in a })
        for path in files.merchants {
            let rows = try open(path).read { db in
                let scheme = try db.columns(in: "vouchers").contains { $0.name == "scheme" } ? "scheme" : "1"
                return try Row.fetchAll(db, sql: "SELECT hex(id) AS id, last_index, redeemed_index, closed, \(scheme) AS scheme FROM vouchers").map {
                    AuditData.MerchantRow(
                        id: ($0["id"] as String).lowercased(), lastIndex: $0["last_index"], redeemedIndex: $0["redeemed_index"], closed: $0["closed"],
                        blind: ($0["scheme"] as Int) == 2)
                }
            }
            let folder = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
            let name = folder.hasPrefix("merchant-") ? String(folder.dropFirst(9)) : rows.lazy.compactMap { receiverOf[$0.id] }.first ?? path
            data.merchants[name, default: []] += rows
        }
        if let path = files.appServer {
            data.appServer = try open(path).read { db in
                // Registrations waiting for their code (a column since the app server's v4).
                let registrations = try db.columns(in: "challenges").contains { $0.name == "reg_rounds" } ? "reg_rounds IS NOT NULL" : "0"
                return AuditData.AppServer(
                    users: try Row.fetchAll(db, sql: "SELECT username, account, phone, failed_attempts, locked_until FROM users").map {
                        AuditData.User(username: $0["username"], account: $0["account"], phone: $0["phone"], failedAttempts: $0["failed_attempts"], lockedUntil: $0["locked_until"])
                    },
                    sessions: try Row.fetchAll(db, sql: "SELECT username, expires_at FROM sessions").map { AuditData.Session(username: $0["username"], expiresAt: $0["expires_at"]) },
                    challenges: try Row.fetchAll(db, sql: "SELECT username, tries, used, \(registrations) AS registration FROM challenges").map {
                        AuditData.Challenge(username: $0["username"], tries: $0["tries"], used: $0["used"], registration: $0["registration"])
                    })
            }
        }
        return data
    }
}
