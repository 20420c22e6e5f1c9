import ArgumentParser
import Foundation
import QuickPayAudit

/// `quickpay audit DIR...`: the independent auditor over the actors' SQLite files.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the actors' SQLite files with plain SQL, independently of the actors' code; exit 1 on any failure.",
        discussion: """
            Opens bank.sqlite, every merchant.sqlite and appserver.sqlite found under the folders,
            read-only, and checks: balances against the journal, the journal, conservation,
            the float against the vouchers, per voucher credit + refund against its face value,
            unique chain roots, merchants' money against the coins the bank credited them,
            offline merchants' coins against the bank's crediting, the app server's users and
            sessions. Each check is printed with what it found, then a summary.
            Examples:
              quickpay audit runs/2026-12-02T140159Z/fault-crash-bank-after-settle-refund
              quickpay audit data/bank data/chai data/app --deposits-rupees 1000
            """
    )

    @Argument(help: "Folders holding the actors' data (searched to any depth), or the files themselves.") var folders: [String]
    @Option(help: "What the deployment deposited, in rupees: the deposits must equal it.") var depositsRupees: Int64?
    @Option(help: "The deployment's time, in seconds since 1970, for which sessions are live (default: now; a testbed whose clock was advanced needs its own).") var now: Int64?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let files = SQLiteEvidence.find(in: folders)
        var data = try SQLiteEvidence.read(files)
        data.expectedDepositsPaise = depositsRupees.map { $0 * 100 }
        data.nowSeconds = now ?? Int64(Date().timeIntervalSince1970)
        let report = Auditor.audit(data)
        if json {
            let object: [String: Any] = [
                "holds": report.holds,
                "checks": report.checks.map { ["name": $0.name, "holds": $0.holds, "findings": $0.findings] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        } else {
            print("audit of \(files.bank ?? "-"), \(files.merchants.count) merchant file(s), \(files.appServer == nil ? "no" : "an") app server file")
            print(report.text)
        }
        if !report.holds { throw ExitCode(1) }
    }
}
