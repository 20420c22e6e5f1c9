import Foundation
import Testing

/// The load command's cross-process baselines (`quickpay bench zmq --sync-folder`): the echo
/// server runs as a process of its own, and its figure is printed only if it answered every
/// request and synced before every reply (it says so when it stops; a server that skipped a
/// sync failed this once, planted).
struct BaselineTests {
    @Test func theDurableEchoAcrossProcessesAnswersAndSyncsEveryRequest() throws {
        let folder = runFolder("echo")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binFolder()).appendingPathComponent("quickpay")
        process.arguments = ["bench", "zmq", "--seconds", "0.05", "--rounds", "1", "--sync-folder", folder]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        for transport in ["plain", "CURVE"] {
            #expect(output.contains("\(transport)  REQ/REP, other process"), "\(output)")
            #expect(output.contains("\(transport)  ... + 4 KiB fdatasync"), "\(output)")
        }
        // The server's probe file is gone with it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
