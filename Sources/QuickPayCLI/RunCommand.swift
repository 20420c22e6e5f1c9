import ArgumentParser
import Foundation
import QuickPayActors
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
        let runner = ScenarioRunner(binFolder: bin, runsFolder: "\(runs)/\(stamp)", passwordRounds: passwordRounds)
        runner.remoteDeployment = deployment
        runner.seed = seed
        runner.insecure = insecure
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
        if let json {
            var report = Reports.json(results, seconds: seconds)
            report["seed"] = seed
            try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: json))
        }
        if passed != results.count { throw ExitCode(1) }
    }
}
