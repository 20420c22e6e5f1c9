import ArgumentParser
import Foundation
import QuickPayReport

/// `quickpay report DIR`: builds a run folder's report.html again from what the folder holds.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Build report.html again from a run folder (a scenario run, or a load run).",
        discussion: """
            A scenario run folder (runs/<time>) holds results.json and, per scenario, logs/*.log: one file per
            process, named after it. For actors started on several hosts (quickpay run --deployment), copy each
            host's logs into <run>/<scenario>/logs/ first (the file name is the lifeline's name; the order across
            hosts comes from the messages themselves, not the hosts' clocks). A load run folder
            (runs/load-<time>/<name>) holds result.json and latency.svg.
            Examples:
              quickpay report runs/latest
              quickpay report runs/load-2026-12-06T081500Z/one-merchant
            """
    )

    @Argument(help: "The run folder.") var folder: String

    func run() throws {
        if FileManager.default.fileExists(atPath: "\(folder)/result.json") {
            print("report: \(try LoadReport.write(folder: folder))")
        } else {
            print("report: \(try RunReport.write(folder: folder))")
        }
    }
}
