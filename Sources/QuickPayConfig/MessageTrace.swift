import Foundation
import QuickPayProtocol

/// Send and receive events, one JSON line each, in the process's log (stderr, next to the
/// JSON log lines), for run reports: the message sequence diagram is drawn from them.
///
/// `{"ts":"…","actor":"bank","msg":"message","ev":"recv","seq":12,"peer":"","type":"redeem","rid":"9f…","code":"REPLAYED_COIN","bytes":181}`
///
/// - `ev`: `send` or `recv`; `seq`: the process's own order of events (a restart starts again
///   at 1, after a `serving` line); `peer`: the endpoint the message went to or came from when
///   the process knows it (a client's request to a server carries none: the report matches the
///   receive to its send by request id and type, and from those pairs builds a Lamport clock
///   that orders events across hosts).
/// - On only when asked (`QUICKPAY_TRACE_MESSAGES=1`, set by the scenario runner): off, the
///   serving path does not even summarise a frame.
public final class MessageTrace: @unchecked Sendable {
    /// The process's tracer, or nil when tracing is off.
    public static let shared: MessageTrace? = {
        guard ProcessInfo.processInfo.environment["QUICKPAY_TRACE_MESSAGES"] == "1" else { return nil }
        return MessageTrace(actor: ProcessInfo.processInfo.environment["QUICKPAY_TRACE_NAME"] ?? "", write: { line in
            line.withUnsafeBytes { _ = Foundation.write(2, $0.baseAddress, $0.count) }
        })
    }()

    let actor: String
    let lock = NSLock()
    var sequence = 0
    let write: ([UInt8]) -> Void

    /// A tracer writing lines through `write` (tests, and the scenario runner's own file).
    public init(actor: String, write: @escaping ([UInt8]) -> Void) {
        self.actor = actor
        self.write = write
    }

    /// A tracer appending to a file (the runner's own messages, a fault proxy's).
    public static func file(_ path: String, actor: String) -> MessageTrace? {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        handle.seekToEndOfFile()
        return MessageTrace(actor: actor, write: { handle.write(Data($0)) })
    }

    public enum Direction: String, Sendable { case send, recv }

    /// Records one frame sent or received; `note` marks what the tracer's owner did with it (the
    /// fault proxy: `dropped`, `duplicated`, `delayed`).
    public func record(_ direction: Direction, _ frame: [UInt8], peer: String = "", note: String? = nil) {
        record(direction, FrameSummary(frame), peer: peer, note: note)
    }

    public func record(_ direction: Direction, _ summary: FrameSummary, peer: String = "", note: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        sequence += 1
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"info\",\"actor\":\"\(Self.escape(actor))\",\"msg\":\"message\",\"ev\":\"\(direction.rawValue)\",\"seq\":\(sequence)"
        line += ",\"peer\":\"\(Self.escape(peer))\",\"type\":\"\(summary.type)\",\"rid\":\"\(summary.requestIDHex)\",\"bytes\":\(summary.bytes)"
        if let code = summary.code { line += ",\"code\":\"\(code)\"" }
        if summary.refusedCoins > 0 { line += ",\"refused_coins\":\(summary.refusedCoins)" }
        if let note { line += ",\"note\":\"\(Self.escape(note))\"" }
        line += "}\n"
        write(Array(line.utf8))
    }

    /// A `serving` line for a process that logs no other (a fault proxy): the report learns
    /// which endpoint is whose from these lines.
    public func serving(bind: String) {
        lock.lock()
        defer { lock.unlock() }
        write(Array("{\"ts\":\"\(Self.timestamp())\",\"level\":\"info\",\"actor\":\"\(Self.escape(actor))\",\"msg\":\"serving\",\"bind\":\"\(Self.escape(bind))\"}\n".utf8))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(spec.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
            parts.tm_sec, Int(spec.tv_nsec / 1000))
    }
}
