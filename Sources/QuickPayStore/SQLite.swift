import Foundation
import GRDB
import QuickPayCore

/// Opens an actor's SQLite file in WAL mode (GRDB's DatabasePool) and runs its migrations.
/// Every store commits one transaction per actor step; `synchronous = FULL` so that a commit is
/// on disk before the step's reply leaves.
enum SQLite {
    static func open(path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try migrator.migrate(pool)
        return pool
    }
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
