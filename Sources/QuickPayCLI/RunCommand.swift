import ArgumentParser
import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayReport
import QuickPayScenario

/// `quickpay run`: replays scenario files against the five actors as real processes.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenario files (or folders of them) and judge each from the actors' state.",
        discussion: """
            Prints one line per step and a summary; exits 0 only if every scenario passes.
            Each scenario's actors log into <runs>/<time>/<scenario>/logs. The format is in docs/SCENARIOS.md.
            Examples:
              quickpay run scenarios
              quickpay run scenarios/attacks --filter replay --junit runs/junit.xml --json runs/results.json
            """
    )

    @Argument(help: "Scenario files (.yaml) or folders holding them.") var paths: [String]
    @Option(help: "Run only scenarios whose name contains this.") var filter: String?
    @Option(help: "Write a JUnit XML report here.") var junit: String?
    @Option(help: "Write a JSON report here.") var json: String?
    @Option(help: "Folder for run folders.") var runs = "runs"
    @Option(help: "Seed for the runner's own choices (recorded in the report).") var seed: UInt64 = 1
    @Option(help: "A deployment file (keys, actors: name: {endpoint, control}): run against actors already running there.")
    var deployment: String?
    @Flag(help: "Start the actors with plaintext ZeroMQ (default: CurveZMQ, with keys made for each run).")
    var insecure = false
    @Option(help: "PBKDF2 rounds for the app server (600,000 is OWASP's figure; lower only for quick local runs).")
    var passwordRounds = PasswordHasher.owaspRounds
    @Option(help: "Which vouchers customers load: blind-rsa (unlinkable, the default) or ed25519 (signed in the clear); a scenario's own scheme: wins.")
    var scheme = "blind-rsa"

    func run() throws {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw ValidationError("\(path) does not exist") }
            if isFolder.boolValue {
                // Load files (scenarios/load/) are run by `quickpay load`, not here.
                let found = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String }
                    .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix("load/") && !$0.contains("/load/") } ?? []
                files += found.sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        var scenarios: [Scenario] = []
        for file in files { scenarios += try Scenario.load(file) }
        if let filter { scenarios = scenarios.filter { $0.name.contains(filter) } }
        guard !scenarios.isEmpty else { throw ValidationError("no scenario matched") }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let runFolder = "\(runs)/\(stamp)"
        let runner = ScenarioRunner(binFolder: bin, runsFolder: runFolder, passwordRounds: passwordRounds)
        runner.remoteDeployment = deployment
        runner.seed = seed
        runner.insecure = insecure
        guard let voucherScheme = SignatureScheme(name: scheme) else { throw ValidationError("--scheme is blind-rsa or ed25519") }
        runner.scheme = voucherScheme
        let started = Date()
        var results: [ScenarioResult] = []
        for scenario in scenarios { results.append(runner.run(scenario)) }
        let seconds = Date().timeIntervalSince(started)
        let steps = results.reduce(0) { $0 + $1.steps.count }
        let passed = results.filter(\.passed).count
        print("")
        for result in results where !result.passed { print("FAILED: \(result.name) (\(result.path))") }
        print("\(results.count) scenarios, \(steps) steps in \(String(format: "%.1f", seconds)) s (seed \(seed))")
        print("\(passed) passed, \(results.count - passed) failed")
        if let junit { try Reports.junit(results).write(toFile: junit, atomically: true, encoding: .utf8) }
        var report = Reports.json(results, seconds: seconds)
        report["seed"] = seed
        report["meta"] = RunMeta.describe(started: started, seed: seed, transport: insecure ? "plaintext" : "CURVE", scheme: scheme)
        let encoded = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        if let json { try encoded.write(to: URL(fileURLWithPath: json)) }
        // The run folder holds everything its report needs: `quickpay report` can build it again.
        try? FileManager.default.createDirectory(atPath: runFolder, withIntermediateDirectories: true)
        try encoded.write(to: URL(fileURLWithPath: "\(runFolder)/results.json"))
        do {
            let path = try RunReport.write(folder: runFolder)
            RunMeta.linkLatest(runs: runs, folder: runFolder)
            print("report: \(path)")
        } catch {
            print("could not write the report: \(error)")
        }
        if passed != results.count { throw ExitCode(1) }
    }
}

/// What a report says about the run it shows: how to run it again, and with what.
enum RunMeta {
    static func describe(started: Date, seed: UInt64, transport: String, scheme: String) -> [String: Any] {
        var meta: [String: Any] = [
            "voucher_scheme": scheme,
            "command": (["quickpay"] + CommandLine.arguments.dropFirst().map(quoted)).joined(separator: " ")
                + (CommandLine.arguments.contains("--seed") ? "" : " --seed \(seed)"),
            "started": ISO8601DateFormatter().string(from: started), "seed": seed, "transport": transport,
            "host": ProcessInfo.processInfo.hostName, "os": ProcessInfo.processInfo.operatingSystemVersionString,
            "quickpay": "wire protocol 1, \(compiler)",
        ]
        if let commit = git(["rev-parse", "--short", "HEAD"]) {
            meta["git_commit"] = commit + (git(["status", "--porcelain", "--untracked-files=no"])?.isEmpty == false ? " (with local changes)" : "")
        }
        return meta
    }

    static var compiler: String {
        #if compiler(>=6.3)
            "built with Swift 6.3 or later"
        #else
            "built with Swift before 6.3"
        #endif
    }

    static func quoted(_ argument: String) -> String {
        argument.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,".contains($0) }) ? argument : "'\(argument.replacingOccurrences(of: "'", with: "'\\''"))'"
    }

    static func git(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `runs/latest` points at the newest run folder (CI keeps it; people open runs/latest/report.html).
    static func linkLatest(runs: String, folder: String) {
        let link = "\(runs)/latest"
        try? FileManager.default.removeItem(atPath: link)
        try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: URL(fileURLWithPath: folder).lastPathComponent)
    }
}
